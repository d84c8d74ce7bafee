"""Reading and writing capture images: the one place where OpenCV's BGR becomes RGB.

Captures on disk are ``center left right top bottom [ambient]`` with extension .png, .jpg,
.jpeg, .tif or .tiff, 8 or 16 bit, colour or grey. Images are returned as integer arrays of
their own depth (no float copy: a 24 MP capture stays 360 MB, not 1.4 GB).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from photometric.errors import InputError
from photometric.lights import CHANNELS

EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def find_image(folder: Path, name: str) -> Path | None:
    """The file for channel ``name`` in ``folder`` (any supported extension, any case), or
    None. Matching on the listing, not by probing names, keeps a case-insensitive file
    system from reporting one file twice."""
    wanted = {f"{name}{ext}" for ext in EXTENSIONS}
    found = sorted(p for p in folder.iterdir() if p.name.lower() in wanted and p.is_file())
    if len(found) > 1:
        raise InputError(f"{folder}: more than one image for '{name}' "
                         f"({', '.join(p.name for p in found)}); keep one")
    return found[0] if found else None


def read_image(path: str | Path) -> np.ndarray:
    """An image as RGB (H, W, 3) or grey (H, W), uint8 or uint16."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: file not found")
    img = cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"{p}: not a readable image (expected PNG, JPEG or TIFF)")
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{p}: {img.dtype} pixels; expected 8 or 16 bit")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim != 2:
        raise InputError(f"{p}: unsupported layout {img.shape}")
    return img


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path``, fsync it, then rename it over:
    a failure never leaves a half-written file in place of a good one. The one writer both
    ``booth`` (captures, normal maps) and ``learning`` (dataset samples) use.

    The temporary (``.NAME.partial.SUFFIX``) keeps ``path``'s suffix so that writers choosing
    a format by extension (OpenCV, numpy) still do the right thing.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_image(path: str | Path, img: np.ndarray) -> None:
    """Write an RGB or grey uint8/uint16 image (PNG/TIFF keep 16 bit)."""
    out = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    if not cv2.imwrite(str(path), out):
        raise OSError(f"{path}: could not write image")


def to_uint(img: np.ndarray, bits: int = 16) -> np.ndarray:
    """Float [0, 1] image to uint8/uint16 with rounding and clipping."""
    top = 255.0 if bits == 8 else 65535.0
    return np.rint(np.clip(img, 0.0, 1.0) * top).astype(np.uint8 if bits == 8 else np.uint16)


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8/uint16 image to float32 in [0, 1]; a float image passes through (as float32)."""
    if img.dtype.kind == "u":
        return img.astype(np.float32) / float(np.iinfo(img.dtype).max)
    return img.astype(np.float32, copy=False)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Any image as 8 bits (for display or 8-bit-only libraries): uint8 as it is, uint16
    shifted, float [0, 1] rounded and clipped."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    return to_uint(img, 8)


def read_capture(folder: str | Path, dark_level: float = 0.02) -> dict[str, np.ndarray]:
    """Read a capture folder; every flash image must exist, match in size and not be dark."""
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"{d}: not a folder (expected a capture folder with "
                         f"{', '.join(CHANNELS)} images)")
    images: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for name in (*CHANNELS, "ambient"):
        p = find_image(d, name)
        if p is None:
            if name == "ambient":
                continue
            raise InputError(f"{d}: missing image '{name}' (expected {name}.png, .jpg or .tif)")
        images[name], paths[name] = read_image(p), p
    ref = images["center"]
    for name, img in images.items():
        if img.shape[:2] != ref.shape[:2]:
            raise InputError(f"{paths[name]}: {img.shape[1]}×{img.shape[0]} pixels, but "
                             f"{paths['center'].name} is {ref.shape[1]}×{ref.shape[0]}; all "
                             "images of a capture must be the same size")
        if img.ndim != ref.ndim:
            raise InputError(f"{paths[name]}: {'colour' if img.ndim == 3 else 'grey'} image, "
                             f"but {paths['center'].name} is not; mix neither")
        if img.dtype != ref.dtype:
            raise InputError(f"{paths[name]}: {img.dtype.itemsize * 8}-bit, but "
                             f"{paths['center'].name} is {ref.dtype.itemsize * 8}-bit; all "
                             "images of a capture must have the same bit depth")
        full = 255 if img.dtype == np.uint8 else 65535
        if name != "ambient" and img.max() <= dark_level * full:
            raise InputError(f"{paths[name]}: image is all dark (brightest pixel "
                             f"{100 * img.max() / full:.1f}% of full scale); did the "
                             f"'{name}' flash fire?")
    return images
