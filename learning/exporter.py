"""Captures -> a training set on disk: what to export, how one capture becomes its samples,
and the run over many (resume log, manifest, report).

This is the export's orchestration and its records; the sample file's format lives in
:mod:`learning.sample_format`, the worker processes in :mod:`learning.workers`, the splits in
:mod:`learning.splits`, and the torch ``Dataset`` that reads the result in
:mod:`learning.dataset`.

Export takes a list of :class:`Source` captures (the ``booth export`` command gathers them from
session stores: complete, not superseded, checksums verified) and writes::

    DATASET/.booth-output.yaml  the marker: this folder is a dataset 'booth export' made
    DATASET/manifest.json     format, software version, settings, sources with their checksums
                              and split, skipped captures with the reason, counts
    DATASET/README.md         the sample format (loads with numpy alone)
    DATASET/report.txt        what was exported, skipped (and why), reused
    DATASET/index.jsonl       one line per finished capture (the resume log)
    DATASET/samples/*.npz     one sample per capture (and per augmented copy, if asked)

The output folder must be new, empty, or a dataset this tool made (its marker, or for datasets
made before the marker existed, a manifest with this format's keys); any other folder is
refused before anything is written. Folders are created owner-only, an existing folder keeps
its mode, and every file is written owner-only.

Each capture is processed alone (photometric stereo with its session's calibration, Face Mesh
on the ring-flash photo, the crop of :mod:`learning.preprocess`), in worker processes. A
simulated person in portrait light (a folder with ``portrait.jpg``, from ``booth simulate
people --lighting portrait``) is its photo with the renderer's true normals and mask. A sample
is written under a temporary name and renamed, then its line is appended to ``index.jsonl``
and fsynced: an interrupted export leaves only finished samples, and the next run resumes
from the index. A capture already exported with the same checksum, settings and light model
(the sha256 of its calibration file's bytes, or none) is reused; a changed calibration is
recomputed. A capture that fails (no face, missing or corrupt photo, too little normal map) is
skipped and reported, never a crash. A run that exports nothing is a failure
(:attr:`ExportResult.ok` is false) and leaves the folder's manifest, README and report as they
were.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as _dt
import functools
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from learning import augment as aug
from learning import preprocess
from learning import workers as _workers
from learning.sample_format import FORMAT_VERSION, README, read_manifest, write_sample
from learning.splits import SPLITS, assign_splits, split_of
from photometric.errors import InputError
from photometric.io.files import MARKER, check_output_dir, make_dir, write_marker, write_text
from photometric.stereo import DEFAULT_METHOD, METHODS

COMMAND = "export"  # the output folder's marker names it
MIN_FACE_COVERAGE = 0.5  # of the crop's face oval with a valid normal


@dataclass(frozen=True)
class Source:
    """One capture to export. ``checksum`` identifies its content (sha256 of capture.yaml,
    which holds every photo's sha256); ``calibration`` is its session's calibration file, or
    None (then the nominal booth's lights are used). A sample is reused for the same key,
    checksum, settings and :func:`calibration_digest` of ``calibration``."""

    key: str  # session/subject/capture_id
    subject: str
    path: str
    checksum: str
    calibration: str | None = None


@dataclass(frozen=True)
class Settings:
    """How captures become samples.

    ``method``: how the normals are computed, one of :data:`METHODS`. The default is
    ``lambertian`` (per-pixel least squares over the usable flashes), the default for normals
    across the whole tool; ``simplified`` is the calibrated simplified model. Either uses the
    capture's session calibration (:attr:`Source.calibration`) when it has one, the nominal
    booth otherwise. ``size``, ``encoding`` and ``framing`` (``face`` or ``person``,
    :data:`learning.preprocess.FRAMINGS`): the crop of :mod:`learning.preprocess`.
    ``augment``: also write flipped and ``brightness``-scaled copies of the train split's
    samples. ``seed`` and ``split``: the split by subject
    (:mod:`learning.splits`; assigned afterwards, so changing them reuses every sample
    unless ``augment``). ``compress``: deflate the photo and the normals too."""

    size: int = 512
    encoding: str = "points"
    framing: str = "person"
    method: str = DEFAULT_METHOD
    augment: bool = False  # materialise flip and brightness copies
    brightness: tuple[float, ...] = aug.BRIGHTNESS
    seed: int = 0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    compress: bool = False  # deflate the photo and normals too: ~2.3x smaller, slower

    def validate(self) -> Settings:
        if self.encoding not in preprocess.ENCODINGS:
            raise InputError(f"--encoding: expected one of {preprocess.ENCODINGS}, "
                             f"got {self.encoding!r}")
        if self.framing not in preprocess.FRAMINGS:
            raise InputError(f"--framing: expected one of {', '.join(preprocess.FRAMINGS)}, "
                             f"got {self.framing!r}")
        if self.method not in METHODS:
            raise InputError(f"--method: expected one of {', '.join(METHODS)}, got "
                             f"{self.method!r}")
        if not 32 <= self.size <= 4096:
            raise InputError(f"--size: expected 32..4096 pixels, got {self.size}")
        if len(self.split) != 3 or min(self.split) < 0 or abs(sum(self.split) - 1) > 1e-6:
            raise InputError(f"--split: expected three fractions adding up to 1, got "
                             f"{self.split}")
        return self

    def digest(self) -> str:
        """What a sample depends on: not the split, which is assigned afterwards, unless
        augmented copies are made (for the train split's people alone)."""
        d = asdict(self)
        if not self.augment:
            d.pop("seed")
            d.pop("split")
        d["software"] = software_version()
        d["pipeline"] = PIPELINE
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


#: How a sample is made from a capture; bump it when that changes, so that an export redoes
#: the samples an earlier way made. 2: pixels made linear from RAW or by the camera
#: response, the portrait input in sRGB.
PIPELINE = 2


@functools.cache
def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("photometric-booth")
    except PackageNotFoundError:
        return "unknown"


def calibration_digest(path: str | Path | None) -> str:
    """The light model a sample depends on: the sha256 of the calibration file's bytes,
    ``none`` without one (the nominal booth), ``unreadable`` when it cannot be read (the
    export then skips the capture, naming the file)."""
    if not path:
        return "none"
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return "unreadable"
    return h.hexdigest()


@dataclass
class Outcome:
    """What became of one capture: its sample files, or the reason it was skipped.
    ``calibration_sha256``: :func:`calibration_digest` of the calibration it was processed
    with (empty for a capture refused before processing, and in lines of an index written
    before it was recorded, which are therefore never reused)."""

    key: str
    subject: str
    checksum: str
    settings: str
    files: list[str] = field(default_factory=list)
    reason: str = ""  # empty: exported
    calibration_sha256: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason


def _sample_name(key: str) -> str:
    return key.replace("/", "__")


def process(source: Source, settings: Settings, samples_dir: str) -> Outcome:
    """One capture -> its sample file(s). Never raises for a bad capture: the outcome says."""
    out = Outcome(source.key, source.subject, source.checksum, settings.digest(),
                  calibration_sha256=calibration_digest(source.calibration))
    try:
        from learning.facemesh import BOOTH_HINT, detect
        from photometric import pipeline
        from photometric.calibration import Calibration

        portrait_light = is_portrait(source.path)
        if portrait_light:
            portrait, normals, mask = _portrait_truth(Path(source.path))
        else:
            cal = Calibration.load(source.calibration) if source.calibration else None
            # Linear pixels for the normals (RAW, or JPEG through the calibrated response);
            # the network's input is the portrait as a camera shows it, 8-bit sRGB.
            solved = pipeline.solve_capture(source.path, settings.method, cal)
            portrait = solved.loaded.display("center")
            normals, mask = solved.result.normals, solved.result.mask
        hint = "the person is turned or tilted too far" if portrait_light else BOOTH_HINT
        lm = detect(portrait, hint).points
        sample = preprocess.make_sample(portrait, normals, mask, lm,
                                        settings.size, settings.encoding, settings.framing,
                                        _parts(source.path))
        oval = preprocess.face_oval(sample.landmarks, settings.size) > 0
        coverage = float(sample.mask[oval].mean()) if oval.any() else 0.0
        if coverage < MIN_FACE_COVERAGE:
            out.reason = (f"photometric QC: normals cover {100 * coverage:.0f}% of the face "
                          f"(need {100 * MIN_FACE_COVERAGE:.0f}%)")
            return out
        # Augmented copies for training people alone: a flipped or brightened copy in val
        # or test would be scored as if it were another photo.
        train = split_of(source.subject, settings.split, settings.seed) == "train"
        copies = (aug.variants(sample, settings.brightness) if settings.augment and train
                  else {"": sample})
        base = _sample_name(source.key)
        for name, s in copies.items():
            fname = f"{base}{'--' + name if name else ''}.npz"
            write_sample(Path(samples_dir) / fname, s, {
                "key": source.key, "subject": source.subject, "variant": name or "original",
                "encoding": settings.encoding, "checksum": source.checksum}, settings.compress)
            out.files.append(fname)
    except InputError as exc:
        out.reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad capture is reported, never a crash
        out.reason = f"{type(exc).__name__}: {exc}"
    return out


#: A simulated person photographed in portrait light (``booth simulate people --lighting
#: portrait``): the photo, with the renderer's true normals as the target.
PORTRAIT = "portrait.jpg"


def is_portrait(capture: str | Path) -> bool:
    return (Path(capture) / PORTRAIT).is_file()


def _portrait_truth(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A portrait-light person: the photo (8-bit sRGB), its true normals and mask."""
    import cv2

    from photometric.io import imageio, normalmap

    rgb = imageio.read_image(folder / PORTRAIT)
    if rgb.ndim != 3 or rgb.dtype != np.uint8:
        raise InputError(f"{folder / PORTRAIT}: expected an 8-bit colour photo")
    normals = normalmap.read_npy(folder / "truth" / "normals.npy")
    mask = cv2.imread(str(folder / "truth" / "mask.png"), cv2.IMREAD_UNCHANGED)
    if mask is None or mask.shape != rgb.shape[:2] or normals.shape[:2] != rgb.shape[:2]:
        raise InputError(f"{folder / 'truth'}: normals.npy and mask.png must be the photo's "
                         f"size ({rgb.shape[1]}×{rgb.shape[0]})")
    return rgb, normals, mask > 0


def _parts(capture: Path) -> np.ndarray | None:
    """A simulated capture's parts map (``truth/parts.png``), None for a real one."""
    import cv2

    path = Path(capture) / "truth" / "parts.png"
    if not path.is_file():
        return None
    parts = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if parts is None or parts.ndim != 2 or parts.dtype != np.uint8:
        raise InputError(f"{path}: expected an 8-bit single-channel parts map")
    return parts


def _read_index(path: Path) -> dict[tuple[str, str, str, str], Outcome]:
    """The finished captures; a line cut short by a crash is dropped from the file (that
    capture is redone), so that the next appended line starts on a line of its own."""
    done: dict[tuple[str, str, str, str], Outcome] = {}
    if not path.is_file():
        return done
    good = []
    for line in path.read_text().splitlines():
        try:
            o = Outcome(**json.loads(line))
        except (ValueError, TypeError):
            continue
        good.append(line)
        done[(o.key, o.checksum, o.settings, o.calibration_sha256)] = o
    write_text(path, "".join(f"{line}\n" for line in good))
    return done


def _append(path: Path, o: Outcome) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with open(fd, "a") as fh:
        fh.write(json.dumps(asdict(o)) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


def is_old_dataset(folder: Path) -> bool:
    """A dataset made by this tool before the output-folder marker existed: no marker, and a
    ``manifest.json`` that parses with the keys every manifest has."""
    if os.path.lexists(folder / MARKER):
        return False  # marked, but not by 'booth export'
    try:
        read_manifest(folder / "manifest.json")
    except InputError:
        return False
    return True


@dataclass
class ExportResult:
    """``exported``: the captures that gave samples (reused ones included), ``skipped``: those
    that did not, with the reason (``rejected`` ones included); ``reused``: how many were
    taken from an earlier run. ``manifest``: None when nothing was exported."""

    manifest: Path | None
    exported: list[Outcome]
    skipped: list[Outcome]
    reused: int
    #: settings that differ from the folder's last export ("size 128 -> 512"), and how many
    #: of the captures it had exported were made again
    changed: list[str] = field(default_factory=list)
    rebuilt: int = 0

    @property
    def ok(self) -> bool:
        """False when the run exported nothing (every input skipped, or none given): a
        failure, whatever the reasons."""
        return bool(self.exported)


def export(sources: Sequence[Source], out: str | Path, settings: Settings = Settings(),
           workers: int = 1, progress: Callable[[int, int, Outcome], None] | None = None,
           rejected: Sequence[Outcome] = ()) -> ExportResult:
    """Export ``sources`` into the dataset folder ``out`` (created, or resumed).
    ``rejected``: captures the caller could not even offer (e.g. altered files); they are
    listed as skipped in the manifest and the report.

    An ``out`` that exists and is neither empty nor a dataset this tool made is refused with
    an InputError before anything is written."""
    settings.validate()
    first: dict[str, Source] = {}
    for s in sources:  # one sample per key: a source given twice is exported once
        first.setdefault(s.key, s)
    sources = list(first.values())
    out = Path(out)
    check_output_dir(out, COMMAND, also_ours=is_old_dataset)
    make_dir(out)
    if not os.path.lexists(out / MARKER):  # new, empty, or made before the marker existed
        write_marker(out, COMMAND, format_version=FORMAT_VERSION)
    samples = make_dir(out / "samples")
    for stale in samples.glob(".*.partial.npz"):
        stale.unlink()  # left by an interrupted run
    index = out / "index.jsonl"
    done = _read_index(index)
    changed = _changed_settings(out, settings)
    before = {o.key for o in done.values() if o.ok}
    digest = settings.digest()
    outcomes: dict[str, Outcome] = {}
    todo = []
    for s in sources:
        prev = done.get((s.key, s.checksum, digest, calibration_digest(s.calibration)))
        if prev is not None and all((samples / f).is_file() for f in prev.files):
            outcomes[s.key] = prev
        else:
            todo.append(s)
    reused = len(outcomes)
    total = len(sources)
    count = reused

    def finished(o: Outcome) -> None:
        nonlocal count
        _append(index, o)
        outcomes[o.key] = o
        count += 1
        if progress:
            progress(count, total, o)

    if workers <= 1 or len(todo) <= 1:
        if todo:
            _workers.keep_freed_memory()
        for s in todo:
            finished(process(s, settings, str(samples)))
    else:
        ctx = _workers.context()
        counter = ctx.Value("i", 0)
        with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_workers.init_worker,
                                    initargs=(counter,)) as pool:
            futures = [pool.submit(process, s, settings, str(samples)) for s in todo]
            try:
                for fut in cf.as_completed(futures):
                    finished(fut.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    ordered = [outcomes[s.key] for s in sources] + list(rejected)
    ok = [o for o in ordered if o.ok]
    manifest = _write_manifest(out, sources, ordered, settings) if ok else None
    return ExportResult(manifest, ok, [o for o in ordered if not o.ok], reused, changed,
                        sum(s.key in before for s in todo))


def _changed_settings(out: Path, settings: Settings) -> list[str]:
    """The settings that differ from the last export's into ``out`` (its manifest), as
    "name old -> new"; none for a new folder or one whose manifest is unreadable."""
    try:
        old = read_manifest(out / "manifest.json")["settings"]
    except (InputError, OSError, KeyError, TypeError, ValueError):
        return []
    new = json.loads(json.dumps(asdict(settings)))  # tuples as lists, as the manifest has
    return [f"{k} {_shown(old[k])} -> {_shown(v)}" for k, v in new.items()
            if k in old and old[k] != v]


def _shown(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _write_manifest(out: Path, sources: Sequence[Source], outcomes: Sequence[Outcome],
                    settings: Settings) -> Path:
    ok = [o for o in outcomes if o.ok]
    split = assign_splits([o.subject for o in ok], settings.split, settings.seed)
    by_key = {s.key: s for s in sources}
    manifest = {
        "format_version": FORMAT_VERSION,
        "software_version": software_version(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "settings": {**asdict(settings), "parts": list(preprocess.PARTS),
                     "normal_convention": "camera space: x right, y up, z toward the camera",
                     "depth_channel": "0.5 - z / size, clipped to [0, 1]; 0 = no landmark"},
        "counts": {"sources": len(outcomes), "exported": len(ok),
                   "skipped": len(outcomes) - len(ok),
                   "samples": sum(len(o.files) for o in ok),
                   **{f"{k}_subjects": sum(v == k for v in split.values()) for k in SPLITS}},
        "splits": {k: sorted(s for s, v in split.items() if v == k) for k in SPLITS},
        "samples": [{"file": f, "key": o.key, "subject": o.subject, "split": split[o.subject],
                     "checksum": o.checksum} for o in ok for f in o.files],
        "sources": [{"key": o.key, "subject": o.subject, "checksum": o.checksum,
                     "calibration": o.key in by_key and by_key[o.key].calibration is not None,
                     "calibration_sha256": o.calibration_sha256 or None,
                     "status": "exported" if o.ok else "skipped", "reason": o.reason}
                    for o in outcomes],
    }
    write_text(out / "manifest.json", json.dumps(manifest, indent=1))
    lines = [f"exported {len(ok)} of {len(outcomes)} captures "
             f"({manifest['counts']['samples']} samples)"]
    lines += [f"skipped {o.key}: {o.reason}" for o in outcomes if not o.ok]
    write_text(out / "report.txt", "\n".join(lines) + "\n")
    write_text(out / "README.md", README)
    return out / "manifest.json"
