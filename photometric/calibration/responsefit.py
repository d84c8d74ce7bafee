"""The camera's inverse response, fitted on the sphere jointly with each flash's light.

The sphere's shading is known up to the lights, so the curve that makes it Lambertian is the
response (:func:`fit_response`). Used by :func:`photometric.calibration.fit.calibrate` when
the sphere photos are a camera's JPEGs."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import cv2
import numpy as np

from photometric import response as _response
from photometric.calibration.sphere import Circle
from photometric.lights import (
    CHANNELS,
)
from photometric.response import SRGB, Response

# -- the camera response, fitted on the sphere ----------------------------------------------
#: Code values trusted when fitting a response: above black, where JPEG ringing and noise
#: dominate, and below the highlight shoulder and clipping.
SAFE_CODES = (3 / 255, 250 / 255)
#: The polynomial's degree K (coefficients c_2..c_K), lowered when the fit is not monotonic.
#: One coefficient goes to the anchor (see fit_response): 3 free, as a free degree 4 has.
RESPONSE_DEGREE = 5
#: Sphere pixels per flash in the response fit: the system is small and its noise is averaged
#: over thousands of pixels; more adds time, not accuracy.
RESPONSE_SAMPLES = 4000
#: A flash's shading must be at least this fraction of its intensity (cos θ ≥ 0.1) for its
#: pixel to count as lit: near the terminator blur and the last codes bias the fit.
LIT_COS = 0.1
#: Fewer usable pixels than this for any flash, or a sphere whose brightest codes (99th
#: percentile) are below MIN_TOP_CODE, and the response is not fitted.
MIN_PIXELS = 100
MIN_TOP_CODE = 0.4
#: Below this brightest code much of the curve is an extrapolation: the fit says so.
FIRM_TOP_CODE = 0.7
#: Without an ambient frame, a room-light pedestal is fitted beside the curve and kept only
#: when its RMS is below this share of the curve alone's (measured: 0.94 with the simulated
#: booth's room light; 1.01 and 2.7 for a 1/1.8 power and an S-curve without room light).
ROOM_LIGHT_GAIN = 0.97
#: Gaussian σ (pixels) smoothing the ambient frame before it is subtracted in the fit.
AMBIENT_BLUR = 3.0


@dataclass(frozen=True)
class ResponseFit:
    """A response fitted on the sphere, and how far the sphere is from Lambertian under
    sRGB's inverse and under the fit: the RMS of v − g⁻¹(s·n), the code values' departure from
    the shading (a fraction of full scale: ×255 for codes), over the observations fitted,
    the lights refitted for each curve. ``fitted`` is False when the sphere could not
    determine a curve (``notes`` say why); ``response`` is then sRGB's inverse."""

    response: Response
    fitted: bool
    rms_srgb: float
    rms_fitted: float
    observations: int
    notes: tuple[str, ...] = ()


@dataclass
class _Sphere:
    """Sampled sphere pixels: normals (m, 3); per flash its code values (m, C) in [0, 1] and
    which pixels are usable (unclipped, above black); the ambient frame's codes (m, C), zero
    when there is none."""

    normals: np.ndarray
    codes: dict[str, np.ndarray]
    ok: dict[str, np.ndarray]
    ambient: np.ndarray
    room_light: bool = False  # fit the room light's pedestal too (_refine)

    def blocks(self, picked: Mapping[str, np.ndarray]):
        """(flash, colour, normals, codes, ambient codes) over the picked pixels."""
        for k in CHANNELS:
            n, idx = self.normals[picked[k]], picked[k]
            for c in range(self.codes[k].shape[1]):
                yield k, c, n, self.codes[k][idx, c], self.ambient[idx, c]


def _sample_sphere(codes: Mapping[str, np.ndarray], circle: Circle, n: int,
                   rng: np.random.Generator) -> _Sphere:
    """Up to ``n`` random pixels inside 0.95 of the sphere's radius. A strided grid over the
    circle's bounding box first, so a 24 MP sphere costs no more than a small one."""
    h, w = np.asarray(codes["center"]).shape[:2]
    r_in = 0.95 * circle.r
    r0, r1 = max(0, math.floor(circle.cy - r_in)), min(h, math.ceil(circle.cy + r_in) + 1)
    c0, c1 = max(0, math.floor(circle.cx - r_in)), min(w, math.ceil(circle.cx + r_in) + 1)
    step = max(1, int(math.sqrt(math.pi * r_in * r_in / (4 * n))))
    rows, cols = (a.ravel() for a in np.mgrid[r0:r1:step, c0:c1:step])
    x, y = (cols - circle.cx) / circle.r, -(rows - circle.cy) / circle.r
    inside = np.flatnonzero(x * x + y * y < 0.95**2)
    if inside.size > n:
        inside = np.sort(rng.choice(inside, n, replace=False))
    rows, cols, x, y = rows[inside], cols[inside], x[inside], y[inside]
    normals = np.stack([x, y, np.sqrt(np.clip(1.0 - x * x - y * y, 0.0, None))], axis=1)

    def at(name: str) -> np.ndarray:
        a = np.asarray(codes[name])[rows, cols].astype(np.float64) / 255.0
        return a.reshape(len(rows), -1)

    obs = {k: at(k) for k in CHANNELS}
    amb = np.zeros_like(obs["center"])
    if codes.get("ambient") is not None:
        # Room light is smooth over the sphere; its noise is not. Used per pixel as it is,
        # the ambient frame's noise would be a noisy regressor (see _refine): blur it, within
        # the sphere, first.
        box = np.asarray(codes["ambient"])[r0:r1, c0:c1].astype(np.float32) / 255.0
        bx = (np.arange(c0, c1) - circle.cx) / circle.r
        by = (np.arange(r0, r1) - circle.cy) / circle.r
        disc = (bx[None, :] ** 2 + by[:, None] ** 2 < 0.98**2).astype(np.float32)
        blur = cv2.GaussianBlur(box * (disc[..., None] if box.ndim == 3 else disc), (0, 0),
                                AMBIENT_BLUR)
        weight = np.maximum(cv2.GaussianBlur(disc, (0, 0), AMBIENT_BLUR), 1e-6)
        smooth = blur / (weight[..., None] if blur.ndim == 3 else weight)
        amb = smooth[rows - r0, cols - c0].astype(np.float64).reshape(len(rows), -1)
    lo, hi = SAFE_CODES
    ok = {k: ((v > lo) & (v < hi) & (amb < hi)).all(axis=1) for k, v in obs.items()}
    return _Sphere(normals, obs, ok, amb)


def _srgb_slope(v: np.ndarray) -> np.ndarray:
    """d srgb⁻¹(v) / dv."""
    return np.where(v <= 0.04045, 1 / 12.92, 2.4 / 1.055 * ((v + 0.055) / 1.055) ** 1.4)


def _curve(v: np.ndarray, coef: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The polynomial response at code values ``v``: g(v), its basis B(v) and g'(v)."""
    x, b = _response.basis(v, len(coef) + 1)
    j = np.arange(2, len(coef) + 2)
    slope = _srgb_slope(np.ravel(v)) * (1.0 + (j * x[:, None] ** (j - 1) - 1.0) @ coef)
    return x + b @ coef, b, slope


def _lights(sph: _Sphere, picked: Mapping[str, np.ndarray], coef: np.ndarray) -> list:
    """Least-squares light (intensity × direction) of each flash and colour under g."""
    return [np.linalg.lstsq(n, _curve(v, coef)[0] - _curve(va, coef)[0], rcond=None)[0]
            for _, _, n, v, va in sph.blocks(picked)]


def _pick(sph: _Sphere, lights: list, samples: int) -> dict[str, np.ndarray]:
    """Per flash, up to ``samples`` usable pixels that each of its colours' lights clearly
    lights (shading ≥ LIT_COS of the light)."""
    per_flash = len(lights) // len(CHANNELS)
    picked = {}
    for i, k in enumerate(CHANNELS):
        sel = sph.ok[k].copy()
        for s in lights[i * per_flash:(i + 1) * per_flash]:
            sel &= sph.normals @ s > LIT_COS * np.linalg.norm(s)
        picked[k] = np.flatnonzero(sel)[:samples]
    return picked


def _refine(sph: _Sphere, picked: Mapping[str, np.ndarray], coef: np.ndarray,
            lights: list, iterations: int = 10,
            anchor: float | None = None) -> tuple[np.ndarray, list, float]:
    """Gauss–Newton on the code values, v = g⁻¹(s·n + g(v_amb) + a_c), in the coefficients
    and the lights together: (coefficients, lights, RMS of v − g⁻¹(...)). An empty ``coef``
    fits the lights alone, under sRGB's inverse; ``anchor``, a code value at which the curve
    stays at its starting value (the coefficients move only where B(anchor) · Δc = 0).

    ``a_c``, per colour, is room light that no ambient frame recorded (fitted only then, zero
    otherwise): a uniform pedestal under every flash photo. Its directional part adds to each
    flash's fitted light; the uniform part is no linear function of the normal, and left out
    of the model it bends the fitted curve to absorb it (measured: the curve 30 % low at code
    0.05 with 4 % room light, against 1 % with the pedestal fitted).

    Why not the linear system g(v) − g(v_amb) = s·n: its residual is in linear units, so it
    shrinks with g, and it prefers a curve that is small over the sphere's codes and bends
    up to g(1) = 1 above them (measured 10-25 % too small at a sphere reaching code 230;
    collapsing to g ≈ 0 at one reaching 150). It also regresses the shading on the noisy
    code (regression dilution). In code values the residual is scale-free, the noise is
    where it is, and the known normals are the regressors."""
    m, u = len(coef), np.linspace(0.0, 1.0, 4097)
    blocks = list(sph.blocks(picked))
    free = np.eye(m)
    if anchor is not None and m:
        free = np.linalg.svd(_response.basis(np.array([anchor]), m + 1)[1])[2][1:].T
    p = free.shape[1]
    n_ped = sph.codes["center"].shape[1] if sph.room_light else 0
    ped = np.zeros(max(n_ped, 1))
    at = p + n_ped  # where the lights' unknowns start

    def residuals(coef, lights, ped):
        table = np.maximum.accumulate(_curve(u, coef)[0])
        out = []
        for (_, c, n, v, va), s in zip(blocks, lights, strict=True):
            f = np.interp(n @ s + _curve(va, coef)[0] + ped[c % len(ped)], table, u)
            out.append((v - f, f))
        return out

    cost = None
    for _ in range(iterations):
        res = residuals(coef, lights, ped)
        r = np.concatenate([x for x, _ in res])
        cost = float(r @ r) if cost is None else cost
        jac = np.zeros((len(r), at + 3 * len(blocks)))
        row = 0
        for i, ((_, c, n, _, va), (_, f)) in enumerate(zip(blocks, res, strict=True)):
            _, b_f, slope = _curve(f, coef)
            slope = np.maximum(slope, 1e-6)[:, None]
            jac[row:row + len(f), :p] = (b_f - _response.basis(va, m + 1)[1]) / slope @ free
            if n_ped:
                jac[row:row + len(f), p + c] = -1.0 / slope[:, 0]
            jac[row:row + len(f), at + 3 * i:at + 3 * i + 3] = -n / slope
            row += len(f)
        # Normal equations: 48 unknowns, tens of thousands of rows; a whisker of damping
        # keeps a direction the data leave free (a light no pixel sees) from blowing up.
        jtj = jac.T @ jac
        step = np.linalg.solve(jtj + 1e-9 * np.trace(jtj) * np.eye(len(jtj)), -jac.T @ r)
        for scale in (1.0, 0.5, 0.25, 0.125):  # backtrack if the full step overshoots
            c_new = coef + scale * free @ step[:p]
            # Room light adds light: a negative pedestal would be a curve's dark end.
            p_new = np.maximum(ped + scale * step[p:at], 0.0) if n_ped else ped
            l_new = [s + scale * step[at + 3 * i:at + 3 * i + 3]
                     for i, s in enumerate(lights)]
            r_new = np.concatenate([x for x, _ in residuals(c_new, l_new, p_new)])
            cost_new = float(r_new @ r_new)
            if cost_new <= cost:
                break
        else:
            break
        coef, lights, ped = c_new, l_new, p_new
        done = cost_new > cost * (1 - 1e-6)
        cost, r = cost_new, r_new
        if done:
            break
    return coef, lights, math.sqrt(float(r @ r) / len(r))


def fit_response(codes: Mapping[str, np.ndarray], circle: Circle,
                 degree: int = RESPONSE_DEGREE, samples: int = RESPONSE_SAMPLES,
                 seed: int = 0) -> ResponseFit:
    """Fit the polynomial inverse response (:mod:`photometric.response`) on a sphere's 8-bit
    code values, jointly with each flash's light per colour channel.

    A uniform white Lambertian sphere lit by flash k has, at pixel p and colour c,
    g(v) − g(v_ambient) = s_kc · n(p), with g = x + B c (x = srgb⁻¹(v)). The coefficients c
    and the lights s are fitted together by least squares on the code values (:func:`_refine`,
    from sRGB's inverse), over lit (shading ≥ LIT_COS of the light) and unclipped (codes within
    SAFE_CODES) observations: twice, the lit pixels found first under sRGB's lights, then under
    the fitted ones. A curve that is not monotonic lowers the degree.

    The sphere fixes the curve's shape over the codes it shows, not its scale: g and s can
    shrink together, the polynomial bending up to g(1) = 1 above the sphere's brightest code
    (left free, the scale came out 0.7-6× off on darker spheres). So the curve is anchored to
    sRGB's inverse at the sphere's brightest code (99th percentile), and its shape is fitted
    below and extrapolated above. A global scale of g changes no normal; it does change what
    a code above the sphere's brightest means, hence the anchor.
    """
    rng = np.random.default_rng(seed)
    sph = _sample_sphere(codes, circle, 6 * samples, rng)
    # Which pixels each flash lights, first guess: brighter, under sRGB's inverse, than 5 % of
    # its brightest.
    first = {}
    for k in CHANNELS:
        x = (_response.srgb_decode(sph.codes[k]) - _response.srgb_decode(sph.ambient)).min(1)
        top = float(np.percentile(x[sph.ok[k]], 99)) if sph.ok[k].any() else 0.0
        first[k] = np.flatnonzero(sph.ok[k] & (x > 0.05 * top))[:samples]
    brightest = max(float(np.percentile(sph.codes[k][sph.ok[k]], 99)) if sph.ok[k].any()
                    else 0.0 for k in CHANNELS)
    if brightest < MIN_TOP_CODE:
        return ResponseFit(SRGB, False, 0.0, 0.0, 0, (
            f"response not fitted: the sphere's brightest code values are "
            f"{255 * brightest:.0f}/255, too few to show a curve's shape (expose it to at "
            f"least {255 * MIN_TOP_CODE:.0f}/255); sRGB's inverse assumed",))
    notes = []
    if brightest < FIRM_TOP_CODE:
        notes.append(f"response: the sphere's brightest code values are {255 * brightest:.0f}"
                     f"/255; the curve is fitted up to there and extrapolated above (expose "
                     f"the sphere to ~{255 * FIRM_TOP_CODE:.0f}/255 or more)")
    fit = _fit_curve(sph, first, brightest, degree, samples, notes)
    if sph.ambient.any() or not fit.fitted:
        return fit
    # No ambient frame: room light may lie under every photo. The curve alone, or the curve
    # and a room-light pedestal (see _refine): the pedestal is kept only when it explains the
    # sphere clearly better, since a pedestal and a curve's dark end can trade places (an
    # S-curve's darker shadows fitted as negative room light).
    sph.room_light = True
    with_room = _fit_curve(sph, first, brightest, degree, samples, list(notes))
    sph.room_light = False
    if with_room.fitted and with_room.rms_fitted < ROOM_LIGHT_GAIN * fit.rms_fitted:
        return replace(with_room, notes=(*with_room.notes, "response: fitted with the room "
                       "light under the flash photos (no ambient frame); take one to "
                       "subtract it exactly"))
    return fit


def _fit_curve(sph: _Sphere, first: dict, brightest: float, degree: int, samples: int,
               notes: list[str]) -> ResponseFit:
    """The degree loop of :func:`fit_response` on sampled sphere pixels."""
    srgb = np.zeros(0)
    for k_deg in range(degree, 1, -1):
        coef, picked = np.zeros(k_deg - 1), first  # zero coefficients: sRGB's inverse
        for _ in range(2):  # sRGB's lights find the terminator, then the fitted ones
            picked = _pick(sph, _lights(sph, picked, coef), samples)
            few = min(CHANNELS, key=lambda k: len(picked[k]))
            if len(picked[few]) < MIN_PIXELS:
                return ResponseFit(SRGB, False, 0.0, 0.0, 0, (
                    f"response not fitted: flash '{few}' lights only {len(picked[few])} "
                    f"usable sphere pixels (codes {SAFE_CODES[0] * 255:.0f}.."
                    f"{SAFE_CODES[1] * 255:.0f}); sRGB's inverse assumed",))
            coef, _, rms = _refine(sph, picked, coef, _lights(sph, picked, coef),
                                   anchor=brightest)
        _, _, rms_srgb = _refine(sph, picked, srgb, _lights(sph, picked, srgb))
        if rms > rms_srgb:  # sRGB is the better curve: the fit has found nothing to add
            coef, rms = np.zeros_like(coef), rms_srgb
        curve = Response("polynomial", tuple(round(float(c), 6) for c in coef))
        if curve.monotonic():
            if k_deg < degree:
                notes.append(f"response: degree {degree} gave a curve that is not monotonic; "
                             f"fitted degree {k_deg}")
            observations = sum(len(p) for p in picked.values()) * sph.codes["center"].shape[1]
            return ResponseFit(curve, True, rms_srgb, rms, observations, tuple(notes))
    return ResponseFit(SRGB, False, 0.0, 0.0, 0, (
        "response not fitted: no degree gave a monotonic curve (is the sphere evenly white "
        "and matte?); sRGB's inverse assumed",))
