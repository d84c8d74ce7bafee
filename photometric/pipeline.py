"""From a capture folder to its normal map: the one chain every caller uses.

calibration (or a lights file) -> the capture's photos made linear (RAW through LibRaw; JPEGs
through the calibration's camera response) -> photometric stereo. ``booth normals``, a
capture's processing into ``derived/``, the dataset export and ``booth relight`` all call
:func:`solve_capture`, so they agree on a capture. Where the calibration comes from (a file
given, the session's) is the caller's business: this module sees only files and arrays.

It sits above the file layer (:mod:`photometric.io`), the calibration and the solvers
(:mod:`photometric.stereo`), and nothing in ``photometric`` imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from photometric import stereo
from photometric.calibration import Calibration
from photometric.errors import InputError
from photometric.io import imageio
from photometric.io.imageio import LoadedCapture
from photometric.lights import LightRig


@dataclass
class Solved:
    """A capture's linear photos and its photometric-stereo result."""

    loaded: LoadedCapture
    result: stereo.StereoResult


def load_capture(folder: str | Path, calibration: Calibration | None = None) -> LoadedCapture:
    """A capture's photos made linear: RAW as it is, JPEGs through ``calibration``'s camera
    response (sRGB's inverse without one)."""
    return imageio.load_capture(folder, calibration.response if calibration else None)


def solve_capture(folder: str | Path, method: str = stereo.DEFAULT_METHOD,
                  calibration: Calibration | None = None, rig: LightRig | None = None,
                  loaded: LoadedCapture | None = None) -> Solved:
    """Photometric stereo on a capture folder (``loaded``: its photos, when the caller has
    already read them with :func:`load_capture`).

    ``rig`` (a lights file's) replaces the calibration's lights, and then the calibration's
    simplified coefficients, fitted for its own lights, are not used either. Errors name the
    folder."""
    if loaded is None:
        loaded = load_capture(folder, calibration)
    if rig is None and calibration is not None:
        rig = calibration.rig
        model = calibration.simplified
    else:
        model = None
    try:
        result = stereo.solve(loaded.images, method, rig, model,
                              white_level=loaded.white_level)
    except InputError as exc:
        raise InputError(f"{folder}: {exc}") from None
    return Solved(loaded, result)
