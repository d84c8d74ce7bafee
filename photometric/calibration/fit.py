"""Calibration on a white matte sphere: camera response, light directions and the simplified
coefficients.

From the five flash images of a sphere (plus ambient, if taken) we find the sphere, know its
normals analytically, and fit (a) when the images are a camera's JPEGs, the camera's inverse
response jointly with each flash's light (:mod:`photometric.calibration.responsefit`), (b)
each flash's intensity × direction by least squares over the pixels it lights, on the
linearised images, and (c) the simplified method's 3×5 coefficients and clamp range.
Albedos measured with this calibration are relative to the sphere's.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from photometric import response as _response
from photometric import stereo
from photometric.calibration.calibfile import Calibration
from photometric.calibration.responsefit import fit_response
from photometric.calibration.sphere import Circle, find_sphere, grey_stack, sphere_normals
from photometric.errors import InputError
from photometric.lights import (
    CHANNELS,
    DIRECTIONAL,
    LightRig,
)
from photometric.response import SRGB


def _fit_lights(grey: dict, normals: np.ndarray, usable: np.ndarray, dark: float,
                pedestal: bool = False):
    """Least-squares intensity × direction per flash, over the pixels it lights.

    ``pedestal``: the photos hold room light that no ambient frame recorded. Its uniform part
    adds the same constant to every flash photo, which a fit of I = s · n alone turns into a
    tilt of every light (1.1-1.3° measured on the simulated booth's sphere). So each flash is
    first fitted as I = s · n + a, the room light's level taken as the median of the five a,
    and the lights refitted on I - a. Its directional part cannot be told from the flashes:
    an ambient frame is the cure for that."""
    level = 0.0
    if pedestal:
        level = float(np.median([_fit_light(grey, c, normals, usable, dark, 0.0, True)[1]
                                 for c in CHANNELS]))
    scaled: dict[str, np.ndarray] = {}
    rms: dict[str, float] = {}
    for c in CHANNELS:
        scaled[c], _, rms[c] = _fit_light(grey, c, normals, usable, dark, level, False)
    intens = {c: float(np.linalg.norm(s)) for c, s in scaled.items()}
    rig = LightRig({c: s / intens[c] for c, s in scaled.items()}, intens)
    return rig, rms


def _fit_light(grey: dict, c: str, normals: np.ndarray, usable: np.ndarray, dark: float,
               level: float, with_constant: bool) -> tuple[np.ndarray, float, float]:
    """Flash ``c``'s intensity × direction fitted to its grey image less ``level``, twice
    (the second time away from the terminator, where noise and clipping bias the fit);
    ``with_constant`` fits a constant beside it. Returns (light, constant, RMS)."""
    g = grey[c] - np.float32(level)
    sel = usable & ~grey[c + ":sat"] & (g > max(dark, 0.05 * float(g[usable].max())))
    s, a = np.zeros(3), 0.0
    for _ in range(2):
        n, y = normals[sel].astype(np.float64), g[sel].astype(np.float64)
        if len(y) < 50:
            raise InputError(f"calibration: flash '{c}' lights too little of the sphere "
                             f"({len(y)} pixels); is its image dark?")
        cols = np.column_stack([n, np.ones(len(y))]) if with_constant else n
        x, *_ = np.linalg.lstsq(cols, y, rcond=None)
        s, a = x[:3], (float(x[3]) if with_constant else 0.0)
        sel = sel & (normals.astype(np.float64) @ s > 0.1 * np.linalg.norm(s))
    rms = float(np.sqrt(np.mean((normals[sel] @ s + a - g[sel]) ** 2)))
    return s, a, rms


def _fit_simplified(grey: dict, normals: np.ndarray, usable: np.ndarray, dark: float,
                    center: np.ndarray) -> stereo.SimplifiedModel:
    """Least-squares 3×5 coefficients mapping the ratios to the gradient, on all-lit pixels."""
    sel = usable.copy()
    for c in CHANNELS:
        sel &= (grey[c] > dark) & ~grey[c + ":sat"]
    sel &= normals[..., 2] > 0.2
    if sel.sum() < 50:
        raise InputError("calibration: too few sphere pixels lit by all five flashes")
    gc = grey["center"][sel].astype(np.float64)
    feats = np.column_stack([grey[c][sel] / gc for c in DIRECTIONAL] + [np.ones_like(gc)])
    n = normals[sel].astype(np.float64)
    target = n / n[:, 2:3]  # (p, q, 1): the simplified model is linear in the gradient
    w, *_ = np.linalg.lstsq(feats, target, rcond=None)
    p, q = target[:, 0], target[:, 1]
    clamp = (float(p.min()), float(p.max()), float(q.min()), float(q.max()))
    return stereo.SimplifiedModel(w.T, clamp, center)


def _residuals(images, cal: Calibration, normals, mask, thresholds: stereo.Thresholds,
               white_level: float | None) -> dict:
    out = {}
    for name, res in (
            ("lambertian", stereo.lambertian(images, cal.rig, thresholds, white_level)),
            ("simplified", stereo.simplified(images, cal.simplified, None, thresholds,
                                             white_level))):
        err = stereo.angular_error(res.normals, normals)
        sel = mask & res.mask & ~res.filled  # the residual of the fit, not of hole filling
        if not sel.any():
            raise InputError(f"calibration: the {name} method recovers no sphere pixel")
        out[f"{name}_mean_deg"] = round(float(err[sel].mean()), 4)
        out[f"{name}_median_deg"] = round(float(np.median(err[sel])), 4)
        out[f"{name}_p95_deg"] = round(float(np.percentile(err[sel], 95)), 4)
    return out


def _check_circle(circle: Circle, shape: tuple[int, int]) -> None:
    h, w = shape
    if not (0 <= circle.cx < w and 0 <= circle.cy < h):
        raise InputError(f"sphere centre ({circle.cx:.1f}, {circle.cy:.1f}) lies outside the "
                         f"{w}×{h} image")


def calibrate(
    images: Mapping[str, np.ndarray],
    circle: Circle | None = None,
    thresholds: stereo.Thresholds = stereo.Thresholds(),
    encoded: bool = False,
    white_level: float | None = None,
) -> Calibration:
    """Fit a :class:`Calibration` from a sphere capture; ``circle`` overrides detection.

    ``encoded``: the images are a camera JPEG's 8-bit code values, so the camera's response
    is fitted on the sphere (:func:`fit_response`) and the images are linearised with it
    before the lights are fitted. Otherwise they are linear (RAW decoded, a linear PNG or
    TIFF), and the calibration keeps sRGB's inverse, not fitted, for JPEGs read later.
    ``thresholds`` and ``white_level`` as for :func:`photometric.stereo.lambertian`: the dark
    threshold is relative to the sphere's own level, so an underexposed sphere calibrates.
    """
    notes: list[str] = []
    response, fit = SRGB, None
    if encoded:
        stereo.prepare(images)  # same sizes and depths, or a clear error
        depth = np.asarray(images["center"]).dtype
        if depth != np.uint8:
            raise InputError(f"encoded images must be a JPEG's 8-bit code values, got {depth}")
        circle = circle or find_sphere({k: _response.linearize(np.asarray(v), SRGB)
                                        for k, v in images.items() if v is not None})
        _check_circle(circle, np.asarray(images["center"]).shape[:2])
        fit = fit_response(images, circle)
        response = fit.response
        notes += fit.notes
        images = {k: _response.linearize(np.asarray(v), response)
                  for k, v in images.items() if v is not None}
        # The camera clipped at the same code values as before; linear, they are g(code).
        thresholds = replace(thresholds, saturated=float(
            response(np.array([thresholds.saturated]))[0]))
        white_level = None  # code 255 became linear 1.0: the uint16's full scale
    else:
        notes.append("response not fitted: the sphere images are linear; JPEGs will be read "
                     "with sRGB's inverse")
    prepared = stereo.prepare(images)
    _, dark, sat_raw = stereo.radiometry(prepared, thresholds, white_level)
    grey = grey_stack(images, sat_raw / prepared[4])
    shape = grey["center"].shape
    circle = circle or find_sphere(images)
    _check_circle(circle, shape)
    h, w = shape
    normals, mask = sphere_normals(shape, circle)
    inner = sphere_normals(shape, Circle(circle.cx, circle.cy, 0.95 * circle.r))[1]
    rig, rms = _fit_lights(grey, normals, inner, dark)
    model = _fit_simplified(grey, normals, inner, dark,
                            rig.intensity("center") * rig.direction("center"))
    cal = Calibration(rig, model, circle, (w, h),
                      created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                      response=response, response_fitted=bool(fit and fit.fitted),
                      notes=notes)
    cal.residuals = {"fit_rms": {c: round(v, 6) for c, v in rms.items()},
                     **_residuals(images, cal, normals, inner, thresholds, white_level)}
    if fit is not None and fit.fitted:
        cal.residuals["response_rms_srgb"] = round(fit.rms_srgb, 6)
        cal.residuals["response_rms_fitted"] = round(fit.rms_fitted, 6)
    return cal
