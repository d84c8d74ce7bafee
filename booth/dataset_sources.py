"""``booth export``: session stores -> a training dataset. The export itself is
:func:`learning.exporter.export` (which also refuses an output folder that is neither new, empty
nor a dataset it made); this module gathers its sources and makes a run that exports nothing
leave no trace.

* :func:`export_sources` offers the captures a dataset can use (and the people of a ``booth
  simulate people --out`` folder, each with its truth): complete, not superseded,
  checksums intact, of a subject with recorded consent, each once, each with its session's
  calibration (so the export's normals are the capture's own ``derived/`` ones, by the same
  default method); a session whose calibration file is missing or invalid has its captures
  refused, never exported with the nominal lights.
* :func:`run_export`: an export with nothing exported leaves the folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from photometric.errors import InputError
from photometric.io.files import check_output_dir, marker_command, read_yaml

COMMAND = "export"
_TOP = ("manifest.json", "README.md", "report.txt", "index.jsonl")
PEOPLE = "simulate people"  # the marker of a folder of simulated people


def _marked(capture: Path) -> str:
    """Why a capture marked for retake in review is left out; empty when it is not."""
    from booth.capture_review import read_mark
    from photometric.errors import InputError

    try:
        mark = read_mark(capture)
    except InputError as exc:
        return str(exc)
    if mark is None:
        return ""
    return "marked for retake in review" + (f" ({mark.note})" if mark.note else "")


def export_sources(roots) -> tuple[list, list]:
    """The captures of session stores that a dataset can use: complete, not superseded, not
    marked for retake, checksums intact, of a subject whose ``subject.yaml`` records consent,
    with a session calibration that can be read (``Source``); and those refused with the reason
    (``Outcome``). A session or capture reached twice (a root given twice, two paths to one
    store) is offered once, the first time; a capture under another path with a key already
    offered (a copy of a store) is refused."""
    from booth.session import CALIBRATION_SUBJECT, SessionStore
    from learning.exporter import Outcome, Source

    sources, rejected = [], []
    seen_sessions: set[Path] = set()
    seen_captures: set[Path] = set()
    keys: dict[str, Path] = {}  # key -> the capture folder it was first offered from
    for root in roots:
        if marker_command(Path(root)) == PEOPLE:
            _people_sources(Path(root), sources, seen_captures)
            continue
        root = Path(root)
        # a session's own folder stands for that session (what 'sessions verify' takes)
        sessions = [SessionStore(root.parent).session(root.name)] \
            if (root / "session.yaml").is_file() else SessionStore(root).sessions()
        for session in sessions:
            where = session.path.resolve()
            if where in seen_sessions:
                continue
            seen_sessions.add(where)
            cal, cal_problem = _calibration(session)
            consent: dict[str, str] = {}
            for info in session.verify():
                if info.subject == CALIBRATION_SUBJECT or info.superseded_by:
                    continue
                folder = info.path.resolve()
                if folder in seen_captures:
                    continue
                seen_captures.add(folder)
                key = f"{session.name}/{info.subject}/{info.capture_id}"
                if info.subject not in consent:
                    consent[info.subject] = _no_consent(session, info.subject)
                why = consent[info.subject]
                if not why and key in keys:
                    why = f"the same capture as {keys[key]}, offered already"
                keys.setdefault(key, info.path)
                if not why and info.status != "complete":
                    why = "; ".join(info.problems) or f"capture is {info.status}"
                why = why or cal_problem or _marked(info.path)
                if why:
                    rejected.append(Outcome(key, info.subject, "", "", reason=why))
                    continue
                digest = hashlib.sha256((info.path / "capture.yaml").read_bytes()).hexdigest()
                sources.append(Source(key, info.subject, str(info.path), digest, cal))
    return sources, rejected


def _people_sources(root: Path, sources: list, seen: set[Path]) -> None:
    """The people of a ``booth simulate people --out`` folder (simulated: no consent to
    record), each keyed ``ROOT_NAME/person-NNNN/LIGHTING`` and identified by the sha256 of
    its record, photos and true normals and mask."""
    from learning.exporter import Source, is_portrait

    for folder in sorted(root.glob("person-*")):
        where = folder.resolve()
        if not (folder / "person.yaml").is_file() or where in seen:
            continue
        seen.add(where)
        h = hashlib.sha256()
        files = [folder / "person.yaml", *sorted(p for p in folder.iterdir() if p.is_file()
                                                 and p.name != "person.yaml"),
                 folder / "truth" / "normals.npy", folder / "truth" / "mask.png"]
        for f in files:
            if f.is_file():
                h.update(f.name.encode() + b"\0" + f.read_bytes())
        light = "portrait" if is_portrait(folder) else "booth"
        sources.append(Source(f"{root.name}/{folder.name}/{light}", folder.name, str(folder),
                              h.hexdigest()))


def _no_consent(session, subject: str) -> str:
    """Why ``subject``'s captures may not be exported ("" when its ``subject.yaml`` records
    consent given): the file missing or malformed, naming another subject, or consent not
    given."""
    from booth.session import SubjectFile

    why = "no recorded consent in subject.yaml"
    try:
        meta = read_yaml(session.path / "subjects" / subject / "subject.yaml", SubjectFile)
    except InputError as exc:
        return f"{why} ({exc})"
    if meta.subject != subject:
        return f"{why} (it is the record of subject '{meta.subject}')"
    if not meta.consent.given:
        return f"{why} (consent.given is false)"
    return ""


def _calibration(session) -> tuple[str | None, str]:
    """The session's calibration file (None: the nominal lights), or why its captures cannot
    be exported: a ``calibration_id`` whose ``calibration.yaml`` is missing, unreadable or
    invalid (``booth normals`` refuses it too)."""
    from booth.session import SessionError
    from photometric.calibration import Calibration

    try:
        cal = session.calibration_file()
    except SessionError as exc:
        return None, f"the session's calibration_id: {exc}"
    if cal is None:
        return None, ""
    what = f"the session's calibration '{session.calibration_id}' cannot be used"
    try:
        Calibration.load(cal)
    except InputError as exc:
        return None, f"{what}: {exc}"
    except Exception as exc:  # noqa: BLE001 - a bad calibration refuses its captures, no more
        return None, f"{what}: {cal}: {type(exc).__name__}: {exc}"
    return str(cal), ""


def check_out(out: str | Path) -> Path:
    """Refuse, before the slow checksums, what the export itself would refuse."""
    from learning.exporter import is_old_dataset

    return check_output_dir(out, COMMAND, also_ours=is_old_dataset)


class _Undo:
    """What :func:`run_export` puts back when nothing was exported: the top-level files as
    they were, or no folder at all when it was new (or nothing, when it was empty)."""

    def __init__(self, out: Path):
        self.out = out
        self.existed = out.exists()
        self.entries = {p.name for p in out.iterdir()} if self.existed else set()
        self.files = {n: ((out / n).read_bytes(), (out / n).stat().st_mode & 0o7777)
                      for n in _TOP if (out / n).is_file()}

    def restore(self) -> None:
        from photometric.io.files import write_bytes

        if not self.existed:
            shutil.rmtree(self.out, ignore_errors=True)
            return
        for p in self.out.iterdir():
            if p.name in self.entries:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        for name, (data, mode) in self.files.items():
            p = self.out / name
            if not p.is_file() or p.read_bytes() != data:
                write_bytes(p, data, mode)


def run_export(sources: Sequence, out: str | Path, settings, workers: int = 1,
               progress: Callable | None = None, rejected: Sequence = ()):
    """:func:`learning.exporter.export`; when nothing at all was exported, the folder is put
    back as it was (no new folder, marker or resume-log lines left behind)."""
    from learning.exporter import ExportResult, export

    out = check_out(out)
    undo = _Undo(out)
    if not sources:  # every capture refused before the export: nothing to write
        return ExportResult(None, [], list(rejected), 0)
    result = export(sources, out, settings, workers, progress, rejected)  # resumable if cut
    if not result.exported:
        undo.restore()
    return result


def cpu_workers() -> int:
    """The default number of worker processes: one per core, at most 64."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, 64))
