"""The session store of DESIGN.md ("Sessions on disk"): nothing captured is ever lost.

    <root>/<session>/session.yaml
    <root>/<session>/subjects/<subject>/subject.yaml
    <root>/<session>/subjects/<subject>/captures/<capture_id>/   (or <capture_id>.partial/)

A capture is written into ``<capture_id>.partial/``: each photo created exclusively (never
over another file), fsynced, its sha256 recorded; ``capture.yaml`` last; then the folder is
renamed into place and its parent fsynced. After a crash a capture is therefore complete or
visibly partial. An aborted capture keeps its photos and says why in ``capture.yaml``. A
retake is a new capture that names the one it supersedes; nothing is deleted. Folders are
owner-only (0700), files 0600: sessions are personal data.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from booth.files import atomic_write

PARTIAL = ".partial"
CALIBRATION_SUBJECT = "calibration-sphere"
CALIBRATION_FILE = "calibration.yaml"
STATUS_COMPLETE = "complete"
STATUS_ABORTED = "aborted"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SessionError(ValueError):
    """A request the store refuses: missing consent, unknown session or subject, bad name."""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def _check_name(kind: str, name: str) -> str:
    if not _NAME.match(name or ""):
        raise SessionError(f"{kind} '{name}': use 1-64 letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit")
    return name


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _mkdir_private(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask
    return path


def write_new(path: Path, data: bytes) -> None:
    """Create ``path`` (never replacing a file), write, fsync; owner-only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10× faster


def new_capture_id() -> str:
    """Sortable by time, unique within a subject: ``20261124T184244123-3fa2``."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"{stamp}-{secrets.token_hex(2)}"


def _dump(data: dict) -> bytes:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False).encode()


def _load(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise SessionError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise SessionError(f"{path}: expected a mapping")
    return data


@dataclass
class ShotRecord:
    channel: str
    file: str
    sha256: str
    bytes: int
    meta: dict = field(default_factory=dict)


class CaptureWriter:
    """Writes one capture into its ``.partial`` folder; :meth:`commit` or :meth:`abort`."""

    def __init__(self, folder: Path, capture_id: str, subject: str, supersedes: str | None):
        self.capture_id = capture_id
        self.subject = subject
        self.supersedes = supersedes
        self.final = folder / capture_id
        self.partial = _mkdir_private(folder / (capture_id + PARTIAL))
        fsync_dir(folder)
        self.shots: list[ShotRecord] = []
        self.extra_files: dict[str, str] = {}
        self.started = _now()
        self.done = False

    def add_shot(self, channel: str, name: str, data: bytes, **meta) -> ShotRecord:
        """Store one camera original exactly as downloaded."""
        write_new(self.partial / name, data)
        rec = ShotRecord(channel, name, hashlib.sha256(data).hexdigest(), len(data), meta)
        self.shots.append(rec)
        return rec

    def add_file(self, relpath: str, data: bytes) -> None:
        """A derived or ground-truth file (e.g. ``truth/normals.npy``), checksummed too."""
        path = self.partial / relpath
        _mkdir_private(path.parent)
        write_new(path, data)
        self.extra_files[relpath] = hashlib.sha256(data).hexdigest()

    def _finish(self, status: str, **info) -> Path:
        if self.done:
            raise SessionError(f"capture {self.capture_id} is already finished")
        record = {
            "capture_id": self.capture_id,
            "subject": self.subject,
            "status": status,
            "started": self.started,
            "finished": _now(),
            "supersedes": self.supersedes,
            **info,
            "shots": [{"channel": s.channel, "file": s.file, "sha256": s.sha256,
                       "bytes": s.bytes, **s.meta} for s in self.shots],
            "files": self.extra_files,
        }
        write_new(self.partial / "capture.yaml", _dump(record))
        fsync_dir(self.partial)
        if self.final.exists():
            raise SessionError(f"{self.final} already exists; refusing to replace it")
        os.rename(self.partial, self.final)
        fsync_dir(self.final.parent)
        self.done = True
        return self.final

    def commit(self, **info) -> Path:
        return self._finish(STATUS_COMPLETE, **info)

    def abort(self, reason: str, **info) -> Path:
        return self._finish(STATUS_ABORTED, reason=reason, **info)


@dataclass
class CaptureInfo:
    subject: str
    capture_id: str
    path: Path
    status: str  # complete, aborted, partial, broken
    supersedes: str | None = None
    superseded_by: str | None = None
    problems: list[str] = field(default_factory=list)


class Session:
    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self.meta = _load(path / "session.yaml")

    def _subject_dir(self, subject: str) -> Path:
        return self.path / "subjects" / _check_name("subject", subject)

    def add_subject(self, subject: str, consent: bool, note: str = "") -> Path:
        """Register a pseudonymous subject; capture needs recorded consent."""
        if not consent:
            raise SessionError(f"subject '{subject}': consent is required before capture "
                               "(record it once the subject has agreed)")
        folder = self._subject_dir(subject)
        if (folder / "subject.yaml").exists():
            return folder
        _mkdir_private(folder)
        _mkdir_private(folder / "captures")
        write_new(folder / "subject.yaml", _dump({
            "subject": subject, "consent": {"given": True, "recorded": _now(), "note": note}}))
        fsync_dir(folder)
        return folder

    def begin_capture(self, subject: str, supersedes: str | None = None) -> CaptureWriter:
        folder = self._subject_dir(subject)
        meta = folder / "subject.yaml"
        if not meta.exists() or not _load(meta).get("consent", {}).get("given"):
            raise SessionError(f"subject '{subject}' has no recorded consent in {self.name}")
        if supersedes is not None and not (folder / "captures" / supersedes).is_dir():
            raise SessionError(f"capture '{supersedes}' of '{subject}' does not exist")
        return CaptureWriter(folder / "captures", new_capture_id(), subject, supersedes)

    def begin_calibration(self) -> CaptureWriter:
        """A sphere capture for this session's calibration, in ``calibration/<id>/``."""
        folder = _mkdir_private(self.path / "calibration")
        return CaptureWriter(folder, new_capture_id(), CALIBRATION_SUBJECT, None)

    def subjects(self) -> list[str]:
        """Subjects with recorded consent, in name order."""
        return [p.parent.name for p in sorted((self.path / "subjects").glob("*/subject.yaml"))]

    @property
    def calibration_id(self) -> str | None:
        return self.meta.get("calibration_id")

    def calibration_file(self) -> Path | None:
        """The calibration YAML the session uses, or None (nominal lights)."""
        cid = self.calibration_id
        return self.path / "calibration" / cid / CALIBRATION_FILE if cid else None

    def set_calibration(self, calibration_id: str) -> None:
        """Make a fitted calibration the session's; session.yaml is replaced atomically."""
        if not (self.path / "calibration" / calibration_id / CALIBRATION_FILE).is_file():
            raise SessionError(f"calibration '{calibration_id}' of {self.name} has no "
                               f"{CALIBRATION_FILE}")
        meta = dict(self.meta, calibration_id=calibration_id)
        def write(p: Path) -> None:
            p.write_bytes(_dump(meta))
            os.chmod(p, 0o600)

        atomic_write(self.path / "session.yaml", write)
        self.meta = meta

    def captures(self, check: bool = False) -> list[CaptureInfo]:
        """The subjects' captures with their recorded status; ``check`` also reads every
        file and compares its sha256 (slow: gigabytes for a day's session)."""
        out: list[CaptureInfo] = []
        for subject_dir in sorted((self.path / "subjects").glob("*")):
            for d in sorted((subject_dir / "captures").glob("*")):
                if d.is_dir():
                    out.append(_inspect(subject_dir.name, d, check))
        by_id = {c.capture_id: c for c in out}
        for c in out:
            if c.supersedes in by_id:
                by_id[c.supersedes].superseded_by = c.capture_id
        return out

    def verify(self) -> list[CaptureInfo]:
        """Every capture, the calibration sphere's included, checked: ``status`` 'broken'
        (with problems) means missing or altered."""
        spheres = [_inspect(CALIBRATION_SUBJECT, d, check=True)
                   for d in sorted((self.path / "calibration").glob("*")) if d.is_dir()]
        return self.captures(check=True) + spheres


def _inspect(subject: str, d: Path, check: bool = True) -> CaptureInfo:
    if d.name.endswith(PARTIAL):
        return CaptureInfo(subject, d.name[: -len(PARTIAL)], d, "partial")
    info = CaptureInfo(subject, d.name, d, "broken")
    meta_path = d / "capture.yaml"
    if not meta_path.is_file():
        info.problems.append("capture.yaml missing")
        return info
    try:
        meta = _load(meta_path)
    except SessionError as exc:
        info.problems.append(str(exc))
        return info
    info.supersedes = meta.get("supersedes")
    expected = {s["file"]: s["sha256"] for s in meta.get("shots") or []}
    expected.update(meta.get("files") or {})
    for rel, digest in expected.items():
        p = d / rel
        if not p.is_file():
            info.problems.append(f"{rel} missing")
        elif check and _sha256(p) != digest:
            info.problems.append(f"{rel} altered (sha256 differs)")
    if not info.problems:
        info.status = meta.get("status", "broken")
        if info.status not in (STATUS_COMPLETE, STATUS_ABORTED):
            info.problems.append(f"unknown status {info.status!r}")
            info.status = "broken"
    return info


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class SessionStore:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def create_session(self, name: str, operator: str = "", config: dict | None = None,
                       calibration_id: str | None = None) -> Session:
        path = self.root / _check_name("session", name)
        if (path / "session.yaml").exists():
            return Session(path)
        _mkdir_private(self.root)
        _mkdir_private(path)
        _mkdir_private(path / "subjects")
        write_new(path / "session.yaml", _dump({
            "session": name, "created": _now(), "operator": operator,
            "calibration_id": calibration_id, "config": config or {}}))
        fsync_dir(path)
        return Session(path)

    def session(self, name: str) -> Session:
        path = self.root / _check_name("session", name)
        if not (path / "session.yaml").is_file():
            raise SessionError(f"no session '{name}' in {self.root}")
        return Session(path)

    def sessions(self) -> list[Session]:
        if not self.root.is_dir():
            raise SessionError(f"{self.root}: no such sessions folder")
        return [Session(p.parent) for p in sorted(self.root.glob("*/session.yaml"))]
