"""Reviewing a session's captures after the sitters leave: what each shows, and marks.

A capture the operator judges unusable is *marked for retake* in ``review.yaml`` beside its
``capture.yaml``: the originals and their record are never touched, the mark can be cleared,
and an export skips a marked capture (naming the mark) until a retake supersedes it. ``booth
sessions mark`` and the app's review screen both call :func:`mark_retake`.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import Field

from booth.processing import DERIVED
from booth.session import CaptureInfo, Session, SessionError
from photometric.errors import InputError
from photometric.io.files import read_yaml, write_text
from photometric.io.schema import Schema

REVIEW_FILE = "review.yaml"
#: The pictures of a reviewed capture, in the order shown: its photos, then what was derived.
PICTURES = ("center", "left", "right", "top", "bottom", "normals", "albedo", "confidence")
DERIVED_PICTURES = {"normals": "normals_preview.png", "albedo": "albedo.png",
                    "confidence": "confidence.png"}


class ReviewFile(Schema):
    retake: bool = True
    note: str = Field("", max_length=500)
    marked: str = ""


@dataclass
class Reviewed:
    """One row of the review: the capture, its QC warnings and the operator's mark."""

    info: CaptureInfo
    warnings: list[str] = field(default_factory=list)
    retake: ReviewFile | None = None

    @property
    def state(self) -> str:
        if self.info.superseded_by:
            return "superseded"
        return "marked for retake" if self.retake else self.info.status


def read_mark(capture: Path) -> ReviewFile | None:
    """The capture's retake mark, or None; a mark that does not read is an InputError."""
    path = capture / REVIEW_FILE
    if not path.is_file():
        return None
    mark = read_yaml(path, ReviewFile)
    return mark if mark.retake else None


def qc_warnings(capture: Path) -> list[str]:
    """The QC warnings the operator saw after the capture (``derived/qc.yaml``)."""
    path = capture / DERIVED / "qc.yaml"
    if not path.is_file():
        return []
    data = read_yaml(path) or {}
    return [str(w.get("message", w)) if isinstance(w, dict) else str(w)
            for w in data.get("warnings") or []]


def review(session: Session) -> list[Reviewed]:
    """Every capture of ``session`` with its QC warnings and mark, oldest first."""
    rows = []
    for info in session.captures():
        try:
            warnings, mark = qc_warnings(info.path), read_mark(info.path)
        except InputError as exc:
            warnings, mark = [str(exc)], None
        rows.append(Reviewed(info, warnings, mark))
    rows.sort(key=lambda r: (r.info.started or r.info.capture_id, r.info.subject))
    return rows


def pictures(capture: Path) -> dict[str, Path]:
    """The capture's photos and derived pictures that exist, by :data:`PICTURES` name."""
    found: dict[str, Path] = {}
    for name in PICTURES:
        if name in DERIVED_PICTURES:
            path = capture / DERIVED / DERIVED_PICTURES[name]
        else:
            path = next(iter(sorted(capture.glob(f"{name}.*"))), None)
        if path is not None and path.is_file():
            found[name] = path
    return found


def find_capture(session: Session, subject: str, capture_id: str) -> CaptureInfo:
    for info in session.captures():
        if info.subject == subject and info.capture_id == capture_id:
            return info
    raise SessionError(f"{session.path}: no capture {subject}/{capture_id}")


def mark_retake(session: Session, subject: str, capture_id: str, note: str = "",
                clear: bool = False) -> Path:
    """Mark (or with ``clear`` unmark) a capture for retake; the review file's path."""
    info = find_capture(session, subject, capture_id)
    if info.status not in ("complete", "aborted"):
        raise SessionError(f"{subject}/{capture_id} is {info.status}; only a complete or "
                           "aborted capture is marked (a partial one is superseded by any "
                           "retake)")
    path = info.path / REVIEW_FILE
    if clear:
        path.unlink(missing_ok=True)
        return path
    stamp = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    write_text(path, yaml.safe_dump(ReviewFile(note=note.strip(), marked=stamp).model_dump(),
                                    sort_keys=False))
    return path
