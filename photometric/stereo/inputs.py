"""A capture made ready for the solvers: images checked and stacked, the data level, the
dark and clip thresholds (:class:`Thresholds`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from photometric.errors import InputError
from photometric.lights import CHANNELS
from photometric.response import CLIP_LEVEL
from photometric.stereo.rows import level_sample

#: Rec. 709 luma weights: how colour observations become the grey value the normal is solved on.
LUMA = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class Thresholds:
    """When an observation is unusable (after ambient removal), relative to the data.

    ``dark``: fraction of the capture's data level (:func:`data_level`) below which an
    observation is shadowed (and a pixel background when all five are);
    ``relative_dark`` (lambertian): also shadowed below this fraction of the pixel's brightest
    observation (its second brightest when ``robust``, which a highlight cannot raise), which
    keeps noise in attached shadows out of the fit;
    ``saturated``: fraction of the white level at or above which, in any colour channel, an
    observation is clipped;
    ``specular_ratio``, ``specular_margin`` (lambertian, ``robust``): the brightest of four or
    more observations is a highlight when it exceeds ``specular_ratio`` × its prediction from
    the other lights plus ``specular_margin`` × the data level (the margin covers noise where
    the prediction is small);
    ``specular_half_angle`` (degrees): and only where the fit without it puts the normal
    within this angle of the half vector between that flash and the view axis (skin's
    highlights are a lobe around it; at a silhouette a poor prediction is no highlight);
    ``cast_ratio`` (lambertian, ``robust``): the darkest of four or more observations is in a
    cast shadow when it is below ``cast_ratio`` × its prediction from the other lights less
    the same margin.
    """

    dark: float = 0.04
    relative_dark: float = 0.05
    saturated: float = CLIP_LEVEL
    specular_ratio: float = 1.1
    specular_margin: float = 0.02
    specular_half_angle: float = 45.0
    cast_ratio: float = 0.5


def prepare(images: Mapping[str, np.ndarray]):
    """Validate a capture. Returns the five images and the ambient one as flat (H, W·C)
    views (no copy for contiguous input), the channel count, the full-scale value and the
    luma weights."""
    missing = [c for c in CHANNELS if c not in images]
    if missing:
        raise InputError(f"capture is missing image(s) {missing}; expected {list(CHANNELS)}")
    names = list(CHANNELS) + (["ambient"] if images.get("ambient") is not None else [])
    arrays = []
    ref = np.asarray(images["center"])
    for name in names:
        a = np.asarray(images[name])
        if a.shape != ref.shape:
            raise InputError(f"image '{name}' is {a.shape[1::-1] if a.ndim >= 2 else a.shape} "
                             f"(w×h) but 'center' is {ref.shape[1::-1]}; all images of a "
                             "capture must be the same size")
        if a.dtype != ref.dtype:
            raise InputError(f"image '{name}' is {a.dtype} but 'center' is {ref.dtype}; all "
                             "images of a capture must have the same bit depth")
        if a.ndim == 2:
            a = a[..., None]
        if a.ndim != 3 or a.shape[2] not in (1, 3):
            raise InputError(f"image '{name}' has shape {a.shape}; expected (H, W) or (H, W, 3)")
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        elif a.dtype not in (np.uint8, np.uint16, np.float32):
            raise InputError(f"image '{name}' has type {a.dtype}; expected uint8, uint16 "
                             "or float")
        a = np.ascontiguousarray(a)
        arrays.append(a.reshape(a.shape[0], -1))
    nch = ref.shape[2] if ref.ndim == 3 else 1
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arrays[0].dtype, 1.0)
    has_amb = len(arrays) == 6
    amb = arrays[5] if has_amb else np.zeros((1, arrays[0].shape[1]), arrays[0].dtype)
    luma = LUMA / LUMA.sum() if nch == 3 else np.ones(1)
    return tuple(arrays[:5]), amb, has_amb, nch, full, luma


#: About how many pixels :func:`data_level` looks at: plenty for a 99th percentile.
_LEVEL_SAMPLES = 1 << 12

#: The percentile of the per-pixel median observations that is the data level.
_LEVEL_PERCENTILE = 99.0


def data_level(imgs, amb, has_amb: bool, nch: int, full: float, luma: np.ndarray) -> float:
    """The capture's data level: the 99th percentile of each pixel's median ambient-subtracted
    grey flash observation, in units of full scale (arguments as :func:`prepare` returns).

    On a sparse grid of about 8 000 pixels (every 8th row and column of a 512² image, every
    ~75th of a 24 MP frame: well under a millisecond), which assumes that the subject covers
    more than ~1 % of the frame. Columns are taken in mirror pairs, so that a mirrored capture
    has the same level. The median, not the brightest, because a specular highlight is one
    flash's: highlights near full scale, even over a few percent of the frame, leave it
    alone. Where no pixel is lit by three flashes, the brightest observations' percentile.
    """
    h, w = imgs[0].shape[0], imgs[0].shape[1] // nch
    step = max(1, int(np.sqrt(h * w / _LEVEL_SAMPLES)))
    rows = np.arange(step // 2, h, step)
    cols = np.arange(step // 2, w, step)
    cols = np.unique(np.concatenate([cols, w - 1 - cols]))
    med = np.empty(rows.size * cols.size, np.float32)
    top = np.empty_like(med)
    level_sample(*imgs, amb, has_amb, nch, 1.0 / full,
                          np.ascontiguousarray(luma, np.float64), rows, cols, med, top)
    k = int(_LEVEL_PERCENTILE / 100 * (med.size - 1))
    level = float(np.partition(med, k)[k])
    if level <= dark_floor(full):
        level = float(np.partition(top, k)[k])
    return level


def dark_floor(full: float) -> float:
    """The smallest grey value that is signal: one count of integer images."""
    return 1.0 / full if full > 1.0 else 1e-6


def radiometry(prepared, thresholds: Thresholds,
                white_level: float | None) -> tuple[float, float, float]:
    """(data level, dark threshold, saturation threshold in raw units) for a capture."""
    imgs, amb, has_amb, nch, full, luma = prepared
    if white_level is None:
        white_level = full
    elif not (np.isfinite(white_level) and white_level > 0):
        raise InputError(f"white_level: expected a positive number in the images' units, "
                         f"got {white_level!r}")
    level = data_level(imgs, amb, has_amb, nch, full, luma)
    dark = max(thresholds.dark * level, dark_floor(full))
    return level, dark, thresholds.saturated * float(white_level)
