"""Captures -> a training set on disk, and a torch ``Dataset`` over it.

Export takes a list of :class:`Source` captures (the ``booth export`` command gathers them from
session stores: complete, not superseded, checksums verified) and writes::

    DATASET/manifest.json     format, software version, settings, sources with their checksums
                              and split, skipped captures with the reason, counts
    DATASET/README.md         the sample format (loads with numpy alone)
    DATASET/report.txt        what was exported, skipped (and why), reused
    DATASET/index.jsonl       one line per finished capture (the resume log)
    DATASET/samples/*.npz     one sample per capture (and per augmented copy, if asked)

Each capture is processed alone (photometric stereo with its session's calibration, Face Mesh
on the ring-flash photo, the crop of :mod:`learning.preprocess`), in worker processes. A sample
is written under a temporary name and renamed, then its line is appended to ``index.jsonl``
and fsynced: an interrupted export leaves only finished samples, and the next run resumes
from the index. A capture already exported with the same checksum and settings is reused. A
capture that fails (no face, missing or corrupt photo, too little normal map) is skipped and
reported, never a crash.

Splits are by subject (a pseudonymous id is the same person in every session), seeded: the
same seed gives the same splits, and no subject is in two splits.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import datetime as _dt
import functools
import hashlib
import io
import json
import multiprocessing
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from learning import augment as aug
from learning import preprocess
from photometric.errors import InputError
from photometric.imageio import atomic_write

FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
MIN_FACE_COVERAGE = 0.5  # of the crop's face oval with a valid normal


@dataclass(frozen=True)
class Source:
    """One capture to export. ``checksum`` identifies its content (sha256 of capture.yaml,
    which holds every photo's sha256); ``calibration`` is its session's, or None."""

    key: str  # session/subject/capture_id
    subject: str
    path: str
    checksum: str
    calibration: str | None = None


@dataclass(frozen=True)
class Settings:
    size: int = 512
    encoding: str = "points"
    margin: float = 0.25
    method: str = "lambertian"
    augment: bool = False  # materialise flip and brightness copies
    brightness: tuple[float, ...] = aug.BRIGHTNESS
    seed: int = 0
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    compress: bool = False  # deflate the photo and normals too: ~2.3x smaller, slower

    def validate(self) -> Settings:
        if self.encoding not in preprocess.ENCODINGS:
            raise InputError(f"--encoding: expected one of {preprocess.ENCODINGS}, "
                             f"got {self.encoding!r}")
        if self.method not in ("lambertian", "simplified"):
            raise InputError(f"method: expected lambertian or simplified, got {self.method!r}")
        if not 32 <= self.size <= 4096:
            raise InputError(f"--size: expected 32..4096 pixels, got {self.size}")
        if len(self.split) != 3 or min(self.split) < 0 or abs(sum(self.split) - 1) > 1e-6:
            raise InputError(f"--split: expected three fractions adding up to 1, got "
                             f"{self.split}")
        return self

    def digest(self) -> str:
        """What a sample depends on (not the split, which is assigned afterwards)."""
        d = asdict(self)
        d.pop("seed")
        d.pop("split")
        d["software"] = software_version()
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@functools.cache
def software_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("photometric-booth")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class Outcome:
    key: str
    subject: str
    checksum: str
    settings: str
    files: list[str] = field(default_factory=list)
    reason: str = ""  # empty: exported

    @property
    def ok(self) -> bool:
        return not self.reason


def _sample_name(key: str) -> str:
    return key.replace("/", "__")


def _opencv_fits(a: np.ndarray) -> bool:
    """Whether OpenCV takes ``a`` as one image: 2-D, or 3-D with 1-4 channels."""
    return a.size > 0 and (a.ndim == 2 or (a.ndim == 3 and a.shape[2] <= 4))


def to_half(a: np.ndarray) -> np.ndarray:
    """float32 -> float16 with OpenCV: numpy 1.26's ``astype(np.float16)`` is scalar code,
    5.5 ms for a 512² normal map against 0.2 ms here; the same rounding (to nearest even,
    checked in the tests)."""
    a = np.ascontiguousarray(a, np.float32)
    if not _opencv_fits(a):
        return a.astype(np.float16)
    return cv2.convertFp16(a).view(np.float16).reshape(a.shape)


def from_half(a: np.ndarray) -> np.ndarray:
    """float16 -> float32, the other way (2.5 ms -> 0.2 ms a 512² normal map)."""
    a = np.ascontiguousarray(a, np.float16)
    if not _opencv_fits(a):
        return a.astype(np.float32)
    return cv2.convertFp16(a.view(np.int16)).reshape(a.shape)


def _save_npz(path: Path, s: preprocess.Sample, meta: dict, compress: bool = False) -> None:
    """A standard ``.npz`` (``np.load`` reads it), each array deflated only where it pays.

    Written with ``zipfile`` rather than ``np.savez_compressed`` to choose per array: the sparse
    ones (landmark channels, mask) shrink 10-60x at zlib level 1 in about a millisecond, while
    the photo and the normals (dense, noisy) shrink about 2x for ~40 ms a sample at level 1
    (~90 ms at numpy's level 6), most of an export's time; those two are stored unless
    ``compress`` asks for the smaller files."""
    arrays = {"image": np.round(s.image * 255).astype(np.uint8),
              "channels": to_half(s.channels), "normals": to_half(s.normals),
              "mask": s.mask, "landmarks": s.landmarks.astype(np.float32),
              "meta": np.array(json.dumps(meta))}

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name, a in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=False)
                dense = name in ("image", "normals") and not compress
                zf.writestr(f"{name}.npy", buf.getbuffer(),
                            zipfile.ZIP_STORED if dense else zipfile.ZIP_DEFLATED, 1)

    atomic_write(path, write)


def process(source: Source, settings: Settings, samples_dir: str) -> Outcome:
    """One capture -> its sample file(s). Never raises for a bad capture: the outcome says."""
    out = Outcome(source.key, source.subject, source.checksum, settings.digest())
    try:
        from learning.landmarks import detect
        from photometric import imageio, stereo
        from photometric.calibrate import Calibration

        images = imageio.read_capture(source.path)
        cal = Calibration.load(source.calibration) if source.calibration else None
        rig = cal.rig if cal else None
        if settings.method == "lambertian":
            result = stereo.lambertian(images, rig)
        else:
            result = stereo.simplified(images, cal.simplified if cal else None, rig)
        stereo.despeckle(result)
        lm = detect(images["center"]).points
        sample = preprocess.make_sample(images["center"], result.normals, result.mask, lm,
                                        settings.size, settings.encoding, settings.margin)
        oval = preprocess.face_oval(sample.landmarks, settings.size) > 0
        coverage = float(sample.mask[oval].mean()) if oval.any() else 0.0
        if coverage < MIN_FACE_COVERAGE:
            out.reason = (f"photometric QC: normals cover {100 * coverage:.0f}% of the face "
                          f"(need {100 * MIN_FACE_COVERAGE:.0f}%)")
            return out
        copies = (aug.variants(sample, settings.brightness) if settings.augment
                  else {"": sample})
        base = _sample_name(source.key)
        for name, s in copies.items():
            fname = f"{base}{'--' + name if name else ''}.npz"
            _save_npz(Path(samples_dir) / fname, s, {
                "key": source.key, "subject": source.subject, "variant": name or "original",
                "encoding": settings.encoding, "checksum": source.checksum}, settings.compress)
            out.files.append(fname)
    except InputError as exc:
        out.reason = str(exc)
    except Exception as exc:  # noqa: BLE001 - a bad capture is reported, never a crash
        out.reason = f"{type(exc).__name__}: {exc}"
    return out


def _worker_context():
    """Workers come from a fork server that has already imported the heavy modules and
    warmed them, with one BLAS thread (``learning._preload``): a fresh interpreter per worker
    ("spawn") spends seconds importing; a plain fork of the caller would copy whatever
    threads it runs (the UI's, MediaPipe's) into a broken state."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["learning._preload"])
    return ctx


def start_workers() -> None:
    """Start the export's fork server now, so that its imports (~1.5 s) run while the caller
    does other work (``booth export`` verifies the captures' checksums meanwhile)."""
    _worker_context()
    from multiprocessing import forkserver

    forkserver.ensure_running()


def _keep_freed_memory() -> None:
    """Let glibc keep freed blocks for reuse instead of unmapping them.

    A capture's work allocates ~100 MB of numpy temporaries in blocks of a few MB; by default
    glibc returns such blocks to the kernel on free, so the next capture page-faults them in
    afresh: ~7,000 faults and ~20 % of a capture's export time (measured: 88 -> 70 ms a
    capture, faults 171k -> 55k for 16 captures). Process-wide, so only for the export's own
    processes and its serial run; the memory kept is bounded by the peak already reached."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    libc.mallopt(m_mmap_threshold, 64 << 20)
    libc.mallopt(m_trim_threshold, 256 << 20)


def _worker_init(counter) -> None:
    """One core per worker. MediaPipe and OpenCV each start a pool of threads sized to the
    machine; in several processes at once those pools fight over the cores (measured: a
    16-capture export on 2 cores took 4-16 s unpinned, 2.8-3.2 s pinned, 3.6 s serial)."""
    import cv2

    cv2.setNumThreads(1)
    _keep_freed_memory()
    with counter.get_lock():
        i = counter.value
        counter.value += 1
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[i % len(cpus)]})
    except (AttributeError, OSError):  # not Linux: leave the scheduler to it
        pass


def assign_splits(subjects: Sequence[str], fractions: Sequence[float],
                  seed: int) -> dict[str, str]:
    """Subject -> split, seeded; every subject in exactly one split."""
    subs = sorted(set(subjects))
    order = np.random.default_rng(seed).permutation(len(subs))
    bounds = np.round(np.cumsum(fractions) * len(subs)).astype(int)
    out = {}
    for rank, i in enumerate(order):
        out[subs[i]] = SPLITS[int(np.searchsorted(bounds, rank, side="right"))]
    return out


def _read_index(path: Path) -> dict[tuple[str, str, str], Outcome]:
    """The finished captures; a line cut short by a crash is dropped from the file (that
    capture is redone), so that the next appended line starts on a line of its own."""
    done: dict[tuple[str, str, str], Outcome] = {}
    if not path.is_file():
        return done
    good = []
    for line in path.read_text().splitlines():
        try:
            o = Outcome(**json.loads(line))
        except (ValueError, TypeError):
            continue
        good.append(line)
        done[(o.key, o.checksum, o.settings)] = o
    _atomic_text(path, "".join(f"{line}\n" for line in good))
    return done


def _append(path: Path, o: Outcome) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(asdict(o)) + "\n")
        fh.flush()
        os.fsync(fh.fileno())


@dataclass
class ExportResult:
    manifest: Path
    exported: list[Outcome]
    skipped: list[Outcome]
    reused: int


def export(sources: Sequence[Source], out: str | Path, settings: Settings = Settings(),
           workers: int = 1, progress: Callable[[int, int, Outcome], None] | None = None,
           rejected: Sequence[Outcome] = ()) -> ExportResult:
    """Export ``sources`` into the dataset folder ``out`` (created, or resumed).
    ``rejected``: captures the caller could not even offer (e.g. altered files); they are
    listed as skipped in the manifest and the report."""
    settings.validate()
    out = Path(out)
    samples = out / "samples"
    samples.mkdir(parents=True, exist_ok=True)
    for stale in samples.glob(".*.partial.npz"):
        stale.unlink()  # left by an interrupted run
    index = out / "index.jsonl"
    done = _read_index(index)
    digest = settings.digest()
    outcomes: dict[str, Outcome] = {}
    todo = []
    for s in sources:
        prev = done.get((s.key, s.checksum, digest))
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
            _keep_freed_memory()
        for s in todo:
            finished(process(s, settings, str(samples)))
    else:
        ctx = _worker_context()
        counter = ctx.Value("i", 0)
        with cf.ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init,
                                    initargs=(counter,)) as pool:
            futures = [pool.submit(process, s, settings, str(samples)) for s in todo]
            try:
                for fut in cf.as_completed(futures):
                    finished(fut.result())
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
    ordered = [outcomes[s.key] for s in sources] + list(rejected)
    return ExportResult(_write_manifest(out, sources, ordered, settings),
                        [o for o in ordered if o.ok], [o for o in ordered if not o.ok], reused)


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
                     "status": "exported" if o.ok else "skipped", "reason": o.reason}
                    for o in outcomes],
    }
    _atomic_text(out / "manifest.json", json.dumps(manifest, indent=1))
    lines = [f"exported {len(ok)} of {len(outcomes)} captures "
             f"({manifest['counts']['samples']} samples)"]
    lines += [f"skipped {o.key}: {o.reason}" for o in outcomes if not o.ok]
    _atomic_text(out / "report.txt", "\n".join(lines) + "\n")
    _atomic_text(out / "README.md", SAMPLE_README)
    return out / "manifest.json"


def _atomic_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


SAMPLE_README = """# A photometric-booth dataset

`manifest.json` lists the samples (`samples[]`: file, subject, split), the settings they were
made with and every source capture (exported or skipped, with the reason). Each
`samples/*.npz` loads with numpy alone (`np.load(path)`):

| key | shape, type | contents |
| --- | --- | --- |
| `image` | (S, S, 3) uint8 | the ring-flash photo, face crop, RGB |
| `channels` | (S, S, 2) float16, or (S, S, 0) for encoding `none` | landmark channels 4 and 5 |
| `normals` | (S, S, 3) float16 | unit normals, camera space, 0 outside the mask |
| `mask` | (S, S) bool | where the normal map is valid |
| `landmarks` | (478, 3) float32 | Face Mesh landmarks in crop pixels: x, y, z |
| `meta` | JSON string | source key, subject, variant (original, flip, x0.7...), checksum |

Each file is a standard zip of `.npy` arrays; `channels`, `mask`, `landmarks` and `meta` are
deflated, `image` and `normals` are stored as they are unless the export was made with
`compress` (see `settings`).

Camera space: x right, y up, z toward the camera. Landmark z is MediaPipe's (pixels, smaller =
nearer the camera). The network's input is `concatenate([image / 255, channels], axis=-1)`.
Channel 4 is the facial part (`settings.parts`, value `id / len(parts)`, 0 = none), channel 5
the depth (`0.5 - z / S`, clipped to [0, 1], 0 = no landmark). Encodings: `points` (landmarks
drawn as small discs), `dense` (part map filled from the mesh regions, depth interpolated over
the mesh), `none` (RGB only).
"""


class SampleDataset:
    """A torch ``Dataset`` over an exported split, with on-the-fly augmentation: a flip with
    probability ``flip_p`` and a brightness factor drawn from ``brightness`` (a (low, high)
    range), both seeded per item so an epoch is reproducible from ``seed``."""

    def __init__(self, root: str | Path, split: str = "train", augment_on_the_fly: bool = True,
                 flip_p: float = 0.5, brightness: tuple[float, float] = aug.BRIGHTNESS,
                 seed: int = 0):
        import torch  # noqa: F401 - fail early and clearly if torch is missing

        self.root = Path(root)
        manifest = json.loads((self.root / "manifest.json").read_text())
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
        self.encoding = manifest["settings"]["encoding"]
        self.items = [s["file"] for s in manifest["samples"] if s["split"] == split]
        self.augment = augment_on_the_fly
        self.flip_p = flip_p
        self.brightness = brightness
        self.seed = seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """Call once per epoch: each epoch draws its own flips and brightness factors."""
        self.epoch = epoch

    def load(self, i: int) -> preprocess.Sample:
        with np.load(self.root / "samples" / self.items[i]) as z:
            return preprocess.Sample(
                image=z["image"].astype(np.float32) / 255.0,
                channels=from_half(z["channels"]), normals=from_half(z["normals"]),
                mask=z["mask"], landmarks=z["landmarks"],
                encoding=self.encoding)

    def __getitem__(self, i: int) -> dict:
        import torch

        s = self.load(i)
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            if rng.random() < self.flip_p:
                s = aug.flip(s)
            s = aug.brightness(s, float(rng.uniform(*self.brightness)))
        return {
            "input": torch.from_numpy(np.ascontiguousarray(s.input.transpose(2, 0, 1))),
            "normals": torch.from_numpy(np.ascontiguousarray(s.normals.transpose(2, 0, 1))),
            "mask": torch.from_numpy(np.ascontiguousarray(s.mask[None])),
        }
