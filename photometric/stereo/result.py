"""What photometric stereo returns (:class:`StereoResult`), and what is done with it:
speckle removal, flips, angular error.
"""

from __future__ import annotations

import mmap
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from photometric.stereo.flags import FILLED, SPECULAR, UNDERDETERMINED


@dataclass
class StereoResult:
    """Per-pixel output of photometric stereo.

    ``normals`` (H, W, 3) float32 unit vectors, zero outside ``mask``; ``albedo`` (H, W, C)
    float32 relative to the calibration sphere; ``mask`` (H, W) bool, valid normals;
    ``confidence`` (H, W) float32 in [0, 1]; ``lights_used`` (H, W) uint8 bitmask over
    ``CHANNELS`` order (bit 0 = center); ``flags`` (H, W) uint8 of SHADOWED, SATURATED,
    UNDERDETERMINED, CLAMPED, FILLED (normal from the neighbours, confidence at most 0.25),
    SPECULAR (the brightest observation was left out as a highlight).
    ``data_level``: the capture's data level and ``dark_level`` the shadow threshold derived
    from it, both as grey values in units of full scale (NaN for a result made by hand).
    """

    normals: np.ndarray
    albedo: np.ndarray
    mask: np.ndarray
    confidence: np.ndarray
    lights_used: np.ndarray
    flags: np.ndarray
    method: str
    data_level: float = float("nan")
    dark_level: float = float("nan")

    @property
    def underdetermined(self) -> np.ndarray:
        return (self.flags & UNDERDETERMINED) != 0

    @property
    def filled(self) -> np.ndarray:
        """Pixels whose normal was filled from their neighbours."""
        return (self.flags & FILLED) != 0

    @property
    def specular_pixels(self) -> int:
        """How many valid pixels were solved without a specular highlight."""
        return int(np.count_nonzero(((self.flags & SPECULAR) != 0) & self.mask))


def new_outputs(h: int, w: int, c: int):
    # Zeroed: the kernels write only the stretches of each row that some flash may light;
    # the background, often half the frame, stays zero.
    return (
        _zeros((h, w * 3), np.float32),
        _zeros((h, w * c), np.float32),
        _zeros((h, w), np.bool_),
        _zeros((h, w), np.float32),
        _zeros((h, w), np.uint8),
        _zeros((h, w), np.uint8),
    )


#: Arrays from this size up come from :func:`_zeros`' own mapping.
_HUGE_BYTES = 1 << 22


def _zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    """np.zeros, on huge pages when large: anonymous memory the system hands out zeroed,
    marked for transparent huge pages (``MADV_HUGEPAGE``), as numpy marks np.empty's large
    arrays but not np.zeros' (calloc). On 4 KB pages the first write to each page faults:
    the 744 MB of outputs at 24 MP took 5× longer to write. So the background is never
    written at all; writing its zeros into np.empty's arrays cost 30 ms at 24 MP."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape)) * dtype.itemsize
    if size < _HUGE_BYTES or not hasattr(mmap, "MADV_HUGEPAGE"):
        return np.zeros(shape, dtype)
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    buf.madvise(mmap.MADV_HUGEPAGE)
    return np.frombuffer(buf, dtype).reshape(shape)


def make_result(outs, method: str, level: float, dark: float) -> StereoResult:
    normals, albedo, mask, conf, used, flags = outs
    h, w = mask.shape
    albedo = albedo.reshape(h, w, -1)
    if albedo.shape[2] == 1:
        albedo = albedo[..., 0]
    return StereoResult(normals.reshape(h, w, 3), albedo, mask, conf, used, flags, method,
                        level, dark)


def despeckle(result: StereoResult) -> StereoResult:
    """Drop isolated valid pixels (sensor noise over a dark background) from the mask.

    A 3×3 morphological opening: regions narrower than 3 pixels go, larger ones keep their
    outline. Works in place on ``result`` and returns it.
    """
    kept = cv2.morphologyEx(result.mask.view(np.uint8), cv2.MORPH_OPEN,
                            np.ones((3, 3), np.uint8)).view(np.bool_)
    dropped = result.mask & ~kept
    for arr in (result.normals, result.albedo, result.confidence, result.lights_used,
                result.flags):
        arr[dropped] = 0
    result.mask = kept
    return result


def flip_capture(images: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The capture a mirror-image subject would give: images flipped, left and right swapped."""
    swap = {"left": "right", "right": "left"}
    return {swap.get(k, k): np.ascontiguousarray(v[:, ::-1]) for k, v in images.items()}


def flip_normals(normals: np.ndarray) -> np.ndarray:
    """A normal map flipped horizontally: columns reversed, x negated."""
    out = np.array(normals[:, ::-1])
    out[..., 0] *= -1
    return out


def angular_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between two normal maps, per pixel."""
    dot = np.einsum("...k,...k->...", a.astype(np.float64), b.astype(np.float64))
    na = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arccos(np.clip(dot / na, -1.0, 1.0)))
