"""The one entry point: :func:`solve` runs a method by name and refuses a result with no
valid pixel, saying why.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from photometric.errors import InputError
from photometric.lights import LightRig
from photometric.stereo import DEFAULT_METHOD, METHODS
from photometric.stereo.flags import SATURATED
from photometric.stereo.inputs import Thresholds, dark_floor
from photometric.stereo.lambertian_fit import lambertian
from photometric.stereo.result import StereoResult, despeckle
from photometric.stereo.simplified_fit import SimplifiedModel, simplified


def solve(images: Mapping[str, np.ndarray], method: str = DEFAULT_METHOD,
          rig: LightRig | None = None, model: SimplifiedModel | None = None,
          white_level: float | None = None, robust: bool = True) -> StereoResult:
    """A capture's normals the one way every caller computes them (``booth normals``, a
    capture's ``derived/``, the dataset export): ``method`` with ``rig`` (and, for the
    simplified method, the calibrated ``model``), then :func:`despeckle`.

    ``white_level`` and ``robust`` as for :func:`lambertian` (``robust`` is lambertian's
    only). A capture with no valid pixel is an :class:`InputError` saying why."""
    if method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {method!r}")
    result = (simplified(images, model, rig, white_level=white_level) if method == "simplified"
              else lambertian(images, rig, white_level=white_level, robust=robust))
    result = despeckle(result)
    if not result.mask.any():
        raise InputError(_empty_reason(result, method, images, white_level))
    return result


def _empty_reason(result: StereoResult, method: str, images: Mapping[str, np.ndarray],
                  white_level: float | None) -> str:
    """Why a capture gave no valid pixel, in words for the operator."""
    level = result.data_level
    dtype = np.asarray(images["center"]).dtype
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(dtype, 1.0)
    white = full if white_level is None else float(white_level)
    lit = np.count_nonzero(result.flags)
    clipped = np.count_nonzero(result.flags & SATURATED)
    head = f"no pixel has a valid normal ({method} method): "
    where = f"data level {level:.3g} of full scale, shadow threshold {result.dark_level:.3g}"
    if level <= dark_floor(full) or lit == 0:
        return (f"{head}every flash image is dark ({where}); did the flashes fire, and is the "
                "exposure right?")
    if clipped >= 0.5 * lit:
        return (f"{head}everything is saturated ({100 * clipped / lit:.0f}% of the lit pixels "
                f"clip at {Thresholds.saturated:.0%} of the white level {white:g}; {where}); "
                "lower the flash power or exposure, or give the right white level")
    return f"{head}{lit} pixels are lit, but none by three usable flashes ({where})"
