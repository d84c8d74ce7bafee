"""Environment images: an equirectangular light probe read as linear float RGB.

PNG, JPEG and TIFF are sRGB (decoded through :func:`photometric.response.srgb_table`);
Radiance HDR and OpenEXR are linear, read through OpenCV. A file that is not 2:1, negative,
too large or damaged is refused, naming the file. Spherical harmonics are projected from it by
:func:`photometric.relighting.harmonics.project`.
"""

from __future__ import annotations

import contextlib
import os
import re
import struct
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from photometric.errors import InputError
from photometric.io import imageio
from photometric.response import srgb_table

#: Largest environment image read: 64 MP (an 11k × 5.6k panorama); 9 coefficients need far
#: less, and a float32 copy of it is already 770 MB.
MAX_ENVIRONMENT_PIXELS = 64_000_000
#: The smallest height read: a few rows cannot say where the light comes from.
MIN_ENVIRONMENT_HEIGHT = 4
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_HEAD_BYTES = 1 << 20
_EXPECTED = ("expected an equirectangular environment image (PNG, JPEG or TIFF, 8 or 16 bit "
             "sRGB; Radiance .hdr; OpenEXR .exr)")


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV logs its own decode errors to stderr; ours name the file instead."""
    level = cv2.getLogLevel()
    cv2.setLogLevel(0)
    try:
        yield
    finally:
        cv2.setLogLevel(level)


def _hdr_size(head: bytes, name: str) -> tuple[int, int]:
    """Width and height from a Radiance header: lines, a blank line, then e.g. ``-Y 512 +X
    1024`` (Y first: rows are the first number)."""
    end = head.find(b"\n\n")
    line = head[end + 2:head.find(b"\n", end + 2)] if end >= 0 else b""
    m = re.fullmatch(rb"([-+])([XY]) (\d{1,9}) ([-+])([XY]) (\d{1,9})", line.strip())
    if m is None or m.group(2) == m.group(5):
        raise InputError(f"{name}: damaged Radiance .hdr (no resolution line after its "
                         "header)")
    a, b = int(m.group(3)), int(m.group(6))
    return (b, a) if m.group(2) == b"Y" else (a, b)


def _exr_size(head: bytes, name: str) -> tuple[int, int]:
    """Width and height from an OpenEXR header's ``dataWindow`` (box2i: xmin ymin xmax ymax),
    walking its attributes (name NUL, type NUL, int32 size, value) by their sizes."""
    try:
        (version,) = struct.unpack_from("<I", head, 4)
        if version & 0x1800:
            raise InputError(f"{name}: a multi-part or deep OpenEXR file; expected a single "
                             "RGB image")
        pos = 8
        while True:
            end = head.index(b"\0", pos)
            if end == pos:
                break
            tend = head.index(b"\0", end + 1)
            (size,) = struct.unpack_from("<i", head, tend + 1)
            if head[pos:end] == b"dataWindow" and size == 16:
                x0, y0, x1, y1 = struct.unpack_from("<4i", head, tend + 5)
                return x1 - x0 + 1, y1 - y0 + 1
            if size < 0:
                break
            pos = tend + 5 + size
    except (ValueError, struct.error):
        pass
    raise InputError(f"{name}: damaged OpenEXR (no data window in its header)")


def _check_size(width: int, height: int, name: str) -> None:
    if width * height > MAX_ENVIRONMENT_PIXELS:
        raise InputError(f"{name}: {width}×{height} pixels is larger than an environment "
                         f"image is read (at most {MAX_ENVIRONMENT_PIXELS // 10**6} megapixels)"
                         "; scale it down")
    if abs(width - 2 * height) > 1 or height < MIN_ENVIRONMENT_HEIGHT:
        raise InputError(f"{name}: {width}×{height} pixels; expected an equirectangular "
                         f"environment, twice as wide as high (e.g. 1024×512), at least "
                         f"{2 * MIN_ENVIRONMENT_HEIGHT}×{MIN_ENVIRONMENT_HEIGHT}")


def read_environment(path: str | Path) -> np.ndarray:
    """An equirectangular environment image as linear float32 (H, W, 3) RGB radiance.

    PNG, JPEG and TIFF (8 or 16 bit, grey or with alpha too) are taken as sRGB and decoded
    to linear; Radiance .hdr and OpenEXR .exr are linear already. The kind is told from the
    file's first bytes, not its name. Refused, naming the file: a missing, unreadable or
    damaged file, a size not 2:1 (±1 px), more than :data:`MAX_ENVIRONMENT_PIXELS`
    (checked from the header of .hdr and .exr before decoding; PNG, JPEG and TIFF are held
    to imageio's 200 MP before decoding and to this limit after), negative or non-finite
    values.
    """
    p = Path(path)
    name = str(p)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; {_EXPECTED}")
    if not p.exists():
        raise InputError(f"{p}: file not found; {_EXPECTED}")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file; {_EXPECTED}")
    try:
        if p.stat().st_size > imageio.MAX_FILE_BYTES:
            raise InputError(f"{p}: larger than {imageio.MAX_FILE_BYTES >> 20} MiB; {_EXPECTED}")
        with open(p, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror}); {_EXPECTED}") from None
    if head.startswith((b"#?RADIANCE", b"#?RGBE")):
        kind, size = "Radiance .hdr", _hdr_size(head, name)
    elif head.startswith(_EXR_MAGIC):
        kind, size = "OpenEXR", _exr_size(head, name)
    elif imageio.image_format(head) in ("png", "jpeg", "tiff"):
        kind, size = "", (0, 0)
    else:
        raise InputError(f"{p}: not a readable image (the file starts with {head[:8]!r}); "
                         f"{_EXPECTED}")
    if kind:
        _check_size(*size, name)
        os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"  # read at the first EXR decode
        why = "it does not decode"
        with _quiet_opencv():
            try:
                img = cv2.imread(name, cv2.IMREAD_UNCHANGED)
            except cv2.error as exc:  # e.g. EXR disabled by an earlier read without the flag
                img, why = None, "OpenCV: " + " ".join(str(getattr(exc, "err", "") or exc)
                                                       .split())
        if img is None:
            raise InputError(f"{p}: damaged or unreadable {kind} file ({why}); {_EXPECTED}")
        if img.dtype not in (np.float32, np.float16):
            raise InputError(f"{p}: {img.dtype} {kind} pixels; expected floating point")
        img = img.astype(np.float32, copy=False)
    else:
        img = imageio.decode_image(imageio.read_bytes(p), name)  # RGB or grey, no alpha
        _check_size(img.shape[1], img.shape[0], name)
        img = srgb_table(8 if img.dtype == np.uint8 else 16)[img]
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    elif kind:
        if img.shape[2] not in (3, 4):
            raise InputError(f"{p}: {img.shape[2]} channels; expected RGB, RGBA or grey")
        img = np.ascontiguousarray(img[..., 2::-1])  # BGR(A) -> RGB
    _check_size(img.shape[1], img.shape[0], name)  # what was decoded, not what was declared
    bad = ~np.isfinite(img)
    if bad.any():
        raise InputError(f"{p}: {int(bad.sum())} non-finite values (NaN or infinity); expected "
                         "radiance, finite and at least 0")
    low = float(img.min())
    if low < 0:
        raise InputError(f"{p}: {int((img < 0).sum())} negative values (down to {low:.4g}); "
                         "expected radiance, finite and at least 0")
    return img
