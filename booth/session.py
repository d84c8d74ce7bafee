"""The session store of DESIGN.md ("Sessions on disk"): nothing captured is ever lost.

    <root>/<session>/session.yaml
    <root>/<session>/subjects/<subject>/subject.yaml
    <root>/<session>/subjects/<subject>/captures/<capture_id>/   (or <capture_id>.partial/)

A capture is written into ``<capture_id>.partial/``: each camera original (one photo per
shot, or a RAW and its JPEG twin: ``center.dng`` + ``center.jpg``) created exclusively (never
over another file), fsynced, its sha256 recorded in ``capture.yaml``, which is replaced
atomically after every shot (status ``in progress``), so an interrupted capture's photos stay
verifiable; the final ``capture.yaml`` is written the same way, then the folder is renamed
into place and its parent fsynced. After a crash or a full disk a capture is therefore
complete, aborted, or visibly partial with the shots it has. A retake is a new capture that
names the one it supersedes (a partial one included); nothing is deleted. Folders the store
creates are owner-only (0700), files 0600: sessions are personal data. A folder that already
exists (a shared sessions root) keeps its mode.

Every file of the store is read through one YAML reader with a schema per kind
(:class:`SessionFile`, :class:`SubjectFile`, :class:`CaptureFile`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError

from photometric.errors import InputError
from photometric.io.files import (
    atomic_write,
    fsync_dir,
    make_dir,
    read_yaml,
    write_new,
)
from photometric.io.schema import Schema, describe
from photometric.lights import CHANNELS

PARTIAL = ".partial"
CALIBRATION_SUBJECT = "calibration-sphere"
CALIBRATION_FILE = "calibration.yaml"
STATUS_COMPLETE = "complete"
STATUS_ABORTED = "aborted"
STATUS_IN_PROGRESS = "in progress"
SHOT_NAMES = (*CHANNELS, "ambient")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class SessionError(ValueError):
    """A request the store refuses: missing consent, unknown session or subject, bad name."""


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds")


def check_name(kind: str, name: str) -> str:
    if not _NAME.match(name or "") or name.endswith(PARTIAL):
        # ASCII only: a name is a folder, and a name with accents can be stored in two
        # Unicode forms (macOS writes NFD), which would be two sitters
        raise SessionError(f"{kind} '{name}': use 1-64 ASCII letters, digits, '.', '_' or "
                           "'-', starting with a letter or digit (and not ending in "
                           "'.partial')")
    return name


def _mkdir(path: Path) -> Path:
    """A store folder: created owner-only, an existing one left as it is."""
    try:
        return make_dir(path)
    except InputError as exc:
        raise SessionError(str(exc)) from None


# -- the schemas of the store's files -------------------------------------------------------
class _Strict(Schema):
    """The store's records: the shared schema base, and strict types throughout (they are
    written by the booth, so anything else is damage)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Consent(_Strict):
    given: bool
    recorded: str = ""
    note: str = ""


class SubjectFile(_Strict):
    subject: str
    consent: Consent


class SessionFile(_Strict):
    session: str
    created: str = ""
    operator: str = ""
    calibration_id: str | None = Field(None, pattern=_NAME.pattern)
    config: dict = Field(default_factory=dict)


class ShotEntry(_Strict):
    """One camera original, as the sequencer records it."""

    channel: Literal["center", "left", "right", "top", "bottom", "ambient"]
    file: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)
    camera_file: str = ""
    attempt: int = Field(1, ge=1)
    fired_t_us: int | None = None


class CaptureFile(_Strict):
    capture_id: str
    subject: str
    status: Literal["complete", "aborted", "in progress"]
    started: str = ""
    finished: str | None = None
    supersedes: str | None = None
    reason: str = ""
    #: The shots the capture set out to take (older captures: the five flashes).
    plan: list[Literal["center", "left", "right", "top", "bottom", "ambient"]] = Field(
        default_factory=lambda: list(CHANNELS))
    shots: list[ShotEntry] = Field(default_factory=list)
    files: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    attempts: list[str] = Field(default_factory=list)
    flash: str = ""
    camera: str = ""


_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 10× faster


def new_capture_id() -> str:
    """Sortable by time, unique within a subject: ``20261124T184244123-3fa2``."""
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S%f")[:-3]
    return f"{stamp}-{secrets.token_hex(2)}"


def _dump(data: dict) -> bytes:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False).encode()


def _load(path: Path, schema):
    try:
        return read_yaml(path, schema)
    except InputError as exc:
        raise SessionError(str(exc)) from None


def _inside(rel: str, subfolders: bool) -> bool:
    """A file name recorded in capture.yaml that stays inside the capture folder: relative,
    no '..', and (for photos) no folder at all."""
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or "\\" in rel or any(x in ("..", "") for x in p.parts):
        return False
    return subfolders or len(p.parts) == 1


@dataclass
class ShotRecord:
    channel: str
    file: str
    sha256: str
    bytes: int
    meta: dict = field(default_factory=dict)


class CaptureWriter:
    """Writes one capture into its ``.partial`` folder; :meth:`commit` or :meth:`abort`."""

    def __init__(self, folder: Path, capture_id: str, subject: str, supersedes: str | None,
                 plan: tuple[str, ...] = CHANNELS):
        unknown = [s for s in plan if s not in SHOT_NAMES]
        if unknown or len(set(plan)) != len(plan) or not set(CHANNELS) <= set(plan):
            raise SessionError(f"capture plan {list(plan)}: expected the five flashes "
                               f"{list(CHANNELS)} once each, optionally 'ambient'")
        self.capture_id = capture_id
        self.subject = subject
        self.supersedes = supersedes
        self.plan = tuple(plan)
        self.final = folder / capture_id
        self.partial = folder / (capture_id + PARTIAL)
        try:
            os.mkdir(self.partial, 0o700)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.partial)) from None
        os.chmod(self.partial, 0o700)
        fsync_dir(folder)
        self.shots: list[ShotRecord] = []
        self.extra_files: dict[str, str] = {}
        self.started = _now()
        self.done = False

    def add_shot(self, channel: str, name: str, data: bytes, **meta) -> ShotRecord:
        """Store one camera original exactly as downloaded, and record it at once."""
        if channel not in self.plan or not _inside(name, subfolders=False):
            raise SessionError(f"shot '{channel}' as '{name}': not a shot of this capture's "
                               f"plan {list(self.plan)}, or not a plain file name")
        # (The same name again is refused by the exclusive create below: FileExistsError.)
        if any(r.channel == channel and _kind(r.file) == _kind(name) and r.file != name
               for r in self.shots):
            raise SessionError(f"shot '{channel}' as '{name}': the capture already has its "
                               f"{_kind(name)}; a shot is one photo, or a RAW and its JPEG")
        write_new(self.partial / name, data)
        rec = ShotRecord(channel, name, hashlib.sha256(data).hexdigest(), len(data), meta)
        self.shots.append(rec)
        self._write_record(STATUS_IN_PROGRESS)
        return rec

    def add_file(self, relpath: str, data: bytes) -> None:
        """A derived or ground-truth file (e.g. ``truth/normals.npy``), checksummed too."""
        if not _inside(relpath, subfolders=True):
            raise SessionError(f"{relpath}: not a path inside the capture folder")
        path = self.partial / relpath
        _mkdir(path.parent)
        write_new(path, data)
        self.extra_files[relpath] = hashlib.sha256(data).hexdigest()

    def _record(self, status: str, **info) -> dict:
        return {
            "capture_id": self.capture_id,
            "subject": self.subject,
            "status": status,
            "started": self.started,
            "finished": None if status == STATUS_IN_PROGRESS else _now(),
            "supersedes": self.supersedes,
            "plan": list(self.plan),
            **info,
            "shots": [{"channel": s.channel, "file": s.file, "sha256": s.sha256,
                       "bytes": s.bytes, **s.meta} for s in self.shots],
            "files": self.extra_files,
        }

    def _write_record(self, status: str, **info) -> None:
        data = _dump(self._record(status, **info))
        atomic_write(self.partial / "capture.yaml", lambda p: p.write_bytes(data))

    def _finish(self, status: str, **info) -> Path:
        if self.done:
            raise SessionError(f"capture {self.capture_id} is already finished")
        self._write_record(status, **info)
        if os.path.lexists(self.final):
            raise SessionError(f"{self.final} already exists; refusing to replace it")
        os.rename(self.partial, self.final)
        fsync_dir(self.final.parent)
        self.done = True
        return self.final

    def commit(self, **info) -> Path:
        missing = [s for s in self.plan if s not in {r.channel for r in self.shots}]
        if missing:
            raise SessionError(f"capture {self.capture_id}: cannot be complete without "
                               f"{missing}")
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
    note: str = ""  # what a partial capture holds, for the operator
    started: str = ""  # ISO time the capture began (capture.yaml)


class Session:
    def __init__(self, path: Path):
        self.path = path
        self.name = path.name
        self.meta = _load(path / "session.yaml", SessionFile).model_dump()

    def _subject_dir(self, subject: str) -> Path:
        return self.path / "subjects" / check_name("subject", subject)

    def add_subject(self, subject: str, consent: bool, note: str = "") -> Path:
        """Register a pseudonymous subject; capture needs recorded consent."""
        if not consent:
            raise SessionError(f"subject '{subject}': consent is required before capture "
                               "(record it once the subject has agreed)")
        folder = self._subject_dir(subject)
        if (folder / "subject.yaml").exists():
            return folder
        _mkdir(folder / "captures")
        atomic_write(folder / "subject.yaml", lambda p: p.write_bytes(_dump({
            "subject": subject, "consent": {"given": True, "recorded": _now(), "note": note}})))
        return folder

    def begin_capture(self, subject: str, supersedes: str | None = None,
                      plan: tuple[str, ...] = CHANNELS) -> CaptureWriter:
        folder = self._subject_dir(subject)
        meta = folder / "subject.yaml"
        if not meta.exists() or not _load(meta, SubjectFile).consent.given:
            raise SessionError(f"subject '{subject}' has no recorded consent in {self.name}")
        if supersedes is not None:
            check_name("capture", supersedes)
            caps = folder / "captures"
            if not ((caps / supersedes).is_dir() or (caps / (supersedes + PARTIAL)).is_dir()):
                raise SessionError(f"capture '{supersedes}' of '{subject}' does not exist")
        return CaptureWriter(_mkdir(folder / "captures"), new_capture_id(), subject,
                             supersedes, plan)

    def begin_calibration(self, plan: tuple[str, ...] = CHANNELS) -> CaptureWriter:
        """A sphere capture for this session's calibration, in ``calibration/<id>/``."""
        return CaptureWriter(_mkdir(self.path / "calibration"), new_capture_id(),
                             CALIBRATION_SUBJECT, None, plan)

    def subjects(self) -> list[str]:
        """Subjects with recorded consent, in name order."""
        return [p.parent.name for p in sorted((self.path / "subjects").glob("*/subject.yaml"))]

    @property
    def calibration_id(self) -> str | None:
        return self.meta.get("calibration_id")

    def calibration_file(self) -> Path | None:
        """The calibration YAML the session uses, or None (nominal lights)."""
        cid = self.calibration_id
        if not cid:
            return None
        check_name("calibration", cid)
        return self.path / "calibration" / cid / CALIBRATION_FILE

    def set_calibration(self, calibration_id: str) -> None:
        """Make a fitted calibration the session's; session.yaml is replaced atomically."""
        check_name("calibration", calibration_id)
        if not (self.path / "calibration" / calibration_id / CALIBRATION_FILE).is_file():
            raise SessionError(f"calibration '{calibration_id}' of {self.name} has no "
                               f"{CALIBRATION_FILE}")
        meta = dict(self.meta, calibration_id=calibration_id)
        atomic_write(self.path / "session.yaml", lambda p: p.write_bytes(_dump(meta)))
        self.meta = meta

    def captures(self, check: bool = False) -> list[CaptureInfo]:
        """The subjects' captures with their recorded status; ``check`` also reads every
        file and compares its sha256 (slow: gigabytes for a day's session)."""
        out: list[CaptureInfo] = []
        for subject_dir in sorted((self.path / "subjects").glob("*")):
            for d in sorted((subject_dir / "captures").glob("*")):
                if d.is_dir():
                    out.append(inspect_capture(subject_dir.name, d, check))
        _link_retakes(out)
        return out

    def verify(self) -> list[CaptureInfo]:
        """Every capture, the calibration sphere's included, checked: ``status`` 'broken'
        (with problems) means missing, altered, incomplete or pointing outside its folder."""
        spheres = [inspect_capture(CALIBRATION_SUBJECT, d, check=True)
                   for d in sorted((self.path / "calibration").glob("*")) if d.is_dir()]
        self._check_calibrations(spheres)
        return self.captures(check=True) + spheres

    def _check_calibrations(self, spheres: list[CaptureInfo]) -> None:
        """A fitted calibration.yaml must load; the session's calibration must exist."""
        from photometric.calibration import Calibration

        for info in spheres:
            file = info.path / CALIBRATION_FILE
            if file.is_file():
                try:
                    Calibration.load(file)
                except InputError as exc:
                    _broken(info, str(exc))
        cid = self.calibration_id
        if cid and not any(i.capture_id == cid and (i.path / CALIBRATION_FILE).is_file()
                           for i in spheres):
            here = next((i for i in spheres if i.capture_id == cid), None)
            if here is None:
                here = CaptureInfo(CALIBRATION_SUBJECT, str(cid),
                                   self.path / "calibration" / str(cid), "broken")
                spheres.append(here)
            _broken(here, f"session.yaml names '{cid}' as the session's calibration, but "
                          f"calibration/{cid}/{CALIBRATION_FILE} does not exist")


def _broken(info: CaptureInfo, problem: str) -> None:
    info.problems.append(problem)
    info.status = "broken"


def _link_retakes(captures: list[CaptureInfo]) -> None:
    """Fill ``superseded_by``; a retake of nothing, of another subject's capture, of itself
    or in a cycle of retakes is broken (an export would drop every capture of the cycle)."""
    by_id = {c.capture_id: c for c in captures}
    for c in captures:
        if c.supersedes is None:
            continue
        old = by_id.get(c.supersedes)
        if c.supersedes == c.capture_id:
            _broken(c, "supersedes itself")
        elif old is None or old.subject != c.subject:
            _broken(c, f"supersedes '{c.supersedes}', which is no capture of {c.subject}")
        else:
            old.superseded_by = c.capture_id
    for c in captures:
        seen, probe = {c.capture_id}, c
        while probe.supersedes in by_id and probe.supersedes != probe.capture_id:
            probe = by_id[probe.supersedes]
            if probe.capture_id in seen:
                _broken(c, "its retakes supersede one another in a cycle")
                break
            seen.add(probe.capture_id)


def _check_files(d: Path, meta: CaptureFile, check: bool) -> list[str]:
    """Problems with the files ``meta`` lists: outside the folder, missing, altered."""
    problems: list[str] = []
    root = d.resolve()
    expected = [(s.file, s.sha256, False) for s in meta.shots]
    expected += [(rel, digest, True) for rel, digest in meta.files.items()]
    for rel, digest, sub in expected:
        if not _inside(rel, subfolders=sub):
            problems.append(f"{rel!r} is not a file inside the capture folder")
            continue
        p = d / rel
        if p.is_symlink() or not p.resolve().is_relative_to(root):
            problems.append(f"{rel} points outside the capture folder")
        elif not p.is_file():
            problems.append(f"{rel} missing")
        elif not re.fullmatch(r"[0-9a-f]{64}", digest):
            problems.append(f"{rel}: recorded checksum is not a sha256")
        elif check and _sha256(p) != digest:
            problems.append(f"{rel} altered (sha256 differs)")
    return problems


def _kind(name: str) -> str:
    """'RAW' or 'photo': a shot is one photo, or a RAW and its JPEG twin (RAW+JPEG)."""
    from photometric.io.camerafile import is_raw_name

    return "RAW" if is_raw_name(name) else "photo"


def _check_pairs(meta: CaptureFile) -> list[str]:
    """Each shot listed once: one photo, or one RAW and one JPEG of the same exposure."""
    from photometric.io.camerafile import JPEG_EXTENSIONS

    problems: list[str] = []
    by_channel: dict[str, list[ShotEntry]] = {}
    for s in meta.shots:
        by_channel.setdefault(s.channel, []).append(s)
    for ch, entries in sorted(by_channel.items()):
        kinds = [_kind(e.file) for e in entries]
        if len(entries) > 2 or len(set(kinds)) != len(kinds):
            problems.append(f"shot '{ch}' listed more than once")
            continue
        if len(entries) == 2:
            raw, twin = sorted(entries, key=lambda e: _kind(e.file) != "RAW")
            if not twin.file.lower().endswith(JPEG_EXTENSIONS):
                problems.append(f"shot '{ch}': {twin.file} is listed beside the RAW "
                                f"{raw.file}; a RAW's twin must be a JPEG")
            elif (raw.attempt, raw.fired_t_us) != (twin.attempt, twin.fired_t_us):
                problems.append(f"shot '{ch}': {raw.file} and {twin.file} are not of the same "
                                "exposure (attempt or FIRED time differ)")
    return problems


def _check_shots(d: Path, meta: CaptureFile, partial: bool) -> list[str]:
    """Each planned shot listed once (all of them when complete); no photo or RAW in the
    folder that the record does not list (it would be read in place of, or beside, the real
    one)."""
    from photometric.io.imageio import EXTENSIONS  # images and camera RAW files

    problems = _check_pairs(meta)
    listed = [s.channel for s in meta.shots]
    for ch in sorted(set(listed) - set(meta.plan)):
        problems.append(f"shot '{ch}' is not in the capture's plan")
    if meta.status == STATUS_COMPLETE:
        missing = [c for c in meta.plan if c not in listed]
        if missing:
            problems.append(f"recorded complete but shot(s) {missing} are not listed")
    files = {s.file for s in meta.shots}
    for p in sorted(d.iterdir()) if not partial else ():  # a partial one may be mid-write
        stem, ext = os.path.splitext(p.name)
        if stem.lower() in SHOT_NAMES and ext.lower() in EXTENSIONS and p.name not in files:
            problems.append(f"{p.name} is in the folder but not one of the capture's photos")
    return problems


def inspect_capture(subject: str, d: Path, check: bool = True) -> CaptureInfo:
    """A capture folder's status: complete or aborted only when its record is sound and
    every file it lists is there (and, with ``check``, unaltered)."""
    partial = d.name.endswith(PARTIAL)
    info = CaptureInfo(subject, d.name[: -len(PARTIAL)] if partial else d.name, d,
                       "partial" if partial else "broken")
    meta_path = d / "capture.yaml"
    if not meta_path.is_file():
        if partial:
            info.note = "interrupted before a photo was recorded; a retake supersedes it"
        else:
            info.problems.append("capture.yaml missing")
        return info
    try:
        meta = CaptureFile.model_validate(read_yaml(meta_path))
    except InputError as exc:
        info.problems.append(str(exc))
        info.status = "broken"
        return info
    except ValidationError as exc:
        info.problems.append(describe(exc, str(meta_path)))
        info.status = "broken"
        return info
    info.supersedes, info.started = meta.supersedes, meta.started
    info.problems = _check_files(d, meta, check) + _check_shots(d, meta, partial)
    if meta.capture_id != info.capture_id:
        info.problems.append(f"capture.yaml records capture '{meta.capture_id}', but its "
                             f"folder is '{info.capture_id}'")
    if meta.subject != subject:
        info.problems.append(f"capture.yaml records subject '{meta.subject}', but it is "
                             f"filed under '{subject}'")
    if partial:
        shots = ", ".join(s.channel for s in meta.shots) or "none"
        done = (f"interrupted after {len(meta.shots)} of {len(meta.plan)} shots"
                if len(meta.shots) < len(meta.plan) else
                f"interrupted after all {len(meta.plan)} shots, before it was closed")
        info.note = f"{done} (stored: {shots}); a retake supersedes it"
        if info.problems:
            info.status = "broken"
        return info
    if meta.status == STATUS_IN_PROGRESS:
        info.problems.append("recorded as in progress, but not in a .partial folder")
    if not info.problems:
        info.status = meta.status
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
        path = self.root / check_name("session", name)
        if (path / "session.yaml").exists():
            return Session(path)
        _mkdir(path / "subjects")
        atomic_write(path / "session.yaml", lambda p: p.write_bytes(_dump({
            "session": name, "created": _now(), "operator": operator,
            "calibration_id": calibration_id, "config": config or {}})))
        return Session(path)

    def session(self, name: str) -> Session:
        path = self.root / check_name("session", name)
        if not (path / "session.yaml").is_file():
            raise SessionError(f"no session '{name}' in {self.root}")
        return Session(path)

    def sessions(self) -> list[Session]:
        if not self.root.is_dir():
            raise SessionError(f"{self.root}: no such sessions folder")
        return [Session(p.parent) for p in sorted(self.root.glob("*/session.yaml"))]
