"""A dataset packed for training: each split's samples as memory-mapped arrays.

``booth export`` writes one zip per sample (small, readable with numpy alone, resumable);
decompressing one costs milliseconds, and at 1,000 images a second at 512² a loader must
deliver about 3 GB/s. Packed, a batch is a gather from arrays the page cache already holds,
with no decoding: ``DATASET/packed/<split>/{image,channels,normals,mask,landmarks,parts}.npy``
(standard ``.npy`` files, ``np.load(..., mmap_mode="r")`` reads them), in the export's own types
(uint8 photo, float16 channels and normals, bool mask, uint8 parts map: ``UNKNOWN`` where a
sample has none, a real capture), plus ``index.json`` (the sample files and
subjects in order, and the digest of the manifest they were packed from).

Packing happens once, when training first meets a dataset or its manifest changed (a re-run
of the export): :func:`open_split` checks the digest and repacks, whole, through the project's
output folder rule (:class:`photometric.io.files.OutputDir`), so an interrupted pack leaves the
previous one or none.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from learning.sample_format import read_manifest, read_sample
from learning.splits import SPLITS
from photometric.errors import InputError
from photometric.io.files import PRIVATE_FILE, OutputDir, make_dir, write_text

PACK_VERSION = 3
ARRAYS = ("image", "channels", "normals", "mask", "landmarks", "parts")
UNKNOWN = 255  # the parts map of a sample without one (not a part code)
FOLDER = "packed"
COMMAND = "train"  # what packs a dataset (the output marker names it)


@dataclass
class PackedSplit:
    """One split's arrays (memory-mapped, read-only) and what they hold."""

    root: Path
    split: str
    encoding: str
    size: int
    image: np.ndarray  # (N, S, S, 3) uint8
    channels: np.ndarray  # (N, S, S, C) float16, C = 0 or 2
    normals: np.ndarray  # (N, S, S, 3) float16
    mask: np.ndarray  # (N, S, S) bool
    landmarks: np.ndarray  # (N, 478, 3) float32, crop pixels (for evaluation's regions)
    parts: np.ndarray  # (N, S, S) uint8 part codes (photometric.sim.parts), UNKNOWN: none
    files: list[str]
    subjects: list[str]

    def __len__(self) -> int:
        return len(self.files)

    @property
    def in_channels(self) -> int:
        return 3 + self.channels.shape[-1]


def manifest_digest(root: str | Path) -> str:
    """The sha256 of what the dataset at ``root`` holds: its manifest less the time it was
    written (an export that changed nothing keeps it; any sample, split or setting that
    changed changes it)."""
    path = Path(root) / "manifest.json"
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the dataset's manifest ({exc})") from None
    if isinstance(manifest, dict):
        manifest.pop("created", None)
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()


def _settings(root: Path) -> tuple[dict, str, int]:
    manifest = read_manifest(root / "manifest.json")
    settings = manifest["settings"]
    size = settings.get("size")
    if not isinstance(size, int) or size < 16:
        raise InputError(f"{root / 'manifest.json'}: settings.size: expected the crop side in "
                         f"pixels, got {size!r:.40}")
    return manifest, settings["encoding"], size


def create_arrays(folder: Path, n: int, size: int, channels: int) -> dict[str, np.ndarray]:
    """One split's packed arrays (:data:`ARRAYS`) for ``n`` samples of ``size``² with
    ``channels`` landmark channels: new ``.npy`` files in ``folder``, owner-only from the
    start (they hold sitters' photos), memory-mapped for writing."""
    layout = {"image": ((n, size, size, 3), np.uint8),
              "channels": ((n, size, size, channels), np.float16),
              "normals": ((n, size, size, 3), np.float16),
              "mask": ((n, size, size), np.bool_),
              "landmarks": ((n, 478, 3), np.float32),
              "parts": ((n, size, size), np.uint8)}
    out = {}
    for k in ARRAYS:
        shape, dtype = layout[k]
        out[k] = np.lib.format.open_memmap(folder / f"{k}.npy", "w+", dtype, shape)
        os.chmod(folder / f"{k}.npy", PRIVATE_FILE)
    return out


def pack(root: str | Path, progress: Callable[[int, int], None] | None = None) -> Path:
    """Pack every split of the dataset at ``root`` into ``root/packed``, replaced whole or
    not at all (:class:`photometric.io.files.OutputDir`: built in an owner-only stage beside it,
    which a killed run's successor removes)."""
    root = Path(root)
    manifest, encoding, size = _settings(root)
    digest = manifest_digest(root)
    nch = 0 if encoding == "none" else 2
    total, done = len(manifest["samples"]), 0
    with OutputDir(root / FOLDER, COMMAND, SPLITS) as stage:
        for split in SPLITS:
            samples = [s for s in manifest["samples"] if s["split"] == split]
            out = make_dir(stage / split)  # owner-only: the arrays hold sitters' photos
            n = len(samples)
            mm = create_arrays(out, n, size, nch)
            for i, s in enumerate(samples):
                path = root / "samples" / s["file"]
                sample = read_sample(path, encoding)
                if sample.image.shape[:2] != (size, size) or sample.channels.shape[-1] != nch:
                    raise InputError(
                        f"{path}: a {sample.image.shape[1]}×{sample.image.shape[0]} sample with "
                        f"{sample.channels.shape[-1]} landmark channels in a dataset of "
                        f"{size}×{size} samples with {nch} ({encoding}): the dataset mixes "
                        "sizes or encodings; export it again into a new folder")
                mm["image"][i] = np.rint(sample.image * 255.0).astype(np.uint8)
                mm["channels"][i] = sample.channels.astype(np.float16)
                mm["normals"][i] = sample.normals.astype(np.float16)
                mm["mask"][i] = sample.mask
                if sample.landmarks.shape != (478, 3):
                    raise InputError(f"{path}: landmarks: expected (478, 3), got "
                                     f"{sample.landmarks.shape}")
                mm["landmarks"][i] = sample.landmarks
                mm["parts"][i] = UNKNOWN if sample.parts is None else sample.parts
                done += 1
                if progress:
                    progress(done, total)
            for a in mm.values():
                a.flush()
            del mm
            index = {"pack_version": PACK_VERSION, "manifest_sha256": digest,
                     "encoding": encoding, "size": size, "count": n,
                     "files": [s["file"] for s in samples],
                     "subjects": [s["subject"] for s in samples]}
            write_text(out / "index.json", json.dumps(index))
    return root / FOLDER


def _index(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / "index.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_current(root: str | Path) -> bool:
    """Whether ``root/packed`` holds every split, packed from the manifest as it is now."""
    root = Path(root)
    digest = manifest_digest(root)
    for split in SPLITS:
        idx = _index(root / FOLDER / split)
        if (idx is None or idx.get("pack_version") != PACK_VERSION
                or idx.get("manifest_sha256") != digest):
            return False
    return True


def open_split(root: str | Path, split: str, repack: bool = True,
               progress: Callable[[int, int], None] | None = None) -> PackedSplit:
    """The packed ``split`` of the dataset at ``root``, packing it first when it is missing
    or older than the manifest (``repack``; else that is an InputError)."""
    root = Path(root)
    if split not in SPLITS:
        raise InputError(f"split: expected one of {SPLITS}, got {split!r}")
    _settings(root)  # a clear error for a folder that is no dataset
    if not is_current(root):
        if not repack:
            raise InputError(f"{root / FOLDER}: missing or older than the dataset's manifest")
        pack(root, progress)
    folder = root / FOLDER / split
    idx = _index(folder)
    assert idx is not None  # just packed
    arrays = {}
    for k in ARRAYS:
        try:
            arrays[k] = np.load(folder / f"{k}.npy", mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputError(f"{folder / f'{k}.npy'}: cannot read the packed array ({exc}); "
                             f"remove {root / FOLDER} to pack the dataset again") from None
        if len(arrays[k]) != idx["count"]:
            raise InputError(f"{folder / f'{k}.npy'}: {len(arrays[k])} samples, the index "
                             f"says {idx['count']}; remove {root / FOLDER} to pack again")
    return PackedSplit(root, split, idx["encoding"], idx["size"], files=idx["files"],
                       subjects=idx["subjects"], **arrays)
