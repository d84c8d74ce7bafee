"""Calibration on a white matte sphere: camera response, light directions and the simplified
coefficients.

From the five flash images of a sphere (plus ambient, if taken) we find the sphere, know its
normals analytically, and fit (a) when the images are a camera's JPEGs, the camera's inverse
response jointly with each flash's light (:func:`fit_response`: the sphere's shading is
known up to the lights, so the curve that makes it Lambertian is the response), (b) each
flash's intensity × direction by least squares over the pixels it lights, on the linearised
images, and (c) the simplified method's 3×5 coefficients and clamp range.
Albedos measured with this calibration are relative to the sphere's.
"""

from __future__ import annotations

import copy
import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import cv2
import numpy as np
import yaml
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from photometric import response as _response
from photometric import stereo
from photometric.errors import InputError
from photometric.files import read_yaml, write_text
from photometric.lights import (
    CHANNELS,
    DIRECTIONAL,
    Channel,
    LightRig,
    RigSchema,
    Vector3,
)
from photometric.response import SRGB, Response
from photometric.schema import Number, Positive, Schema, schema_error, validate

#: 2 added ``response``; version 1 files (no response: sRGB, not fitted) still load.
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)


@dataclass(frozen=True)
class Circle:
    """The sphere's outline in the image: centre (column, row) and radius, in pixels."""

    cx: float
    cy: float
    r: float

    @classmethod
    def parse(cls, text: str) -> Circle:
        """Parse ``cx,cy,r`` (the CLI's ``--circle``): three finite numbers, the radius
        > 0; an infinite one would pass here and fail later as 'no sphere pixel'."""
        try:
            cx, cy, r = (float(v) for v in text.split(","))
        except ValueError:
            raise InputError(f"--circle: expected 'cx,cy,r' in pixels, got {text!r}") from None
        if not all(math.isfinite(v) for v in (cx, cy, r)):
            raise InputError(f"--circle: expected finite numbers 'cx,cy,r' in pixels, got "
                             f"{text!r}")
        if not r > 0:
            raise InputError(f"--circle: radius must be positive, got {r:g}")
        return cls(cx, cy, r)


def _grey_stack(images: Mapping[str, np.ndarray],
                saturated: float = stereo.Thresholds.saturated) -> dict[str, np.ndarray]:
    """Ambient-subtracted grey float images in [0, 1] and the per-pixel saturation masks."""
    imgs, amb, has_amb, nch, full, luma = stereo._prepare(images)
    out = {}
    h = imgs[0].shape[0]
    ambient = amb.reshape(h, -1, nch).astype(np.float32) / full if has_amb else 0.0
    for name, flat in zip(CHANNELS, imgs, strict=True):
        a = flat.reshape(h, -1, nch)
        x = np.clip(a.astype(np.float32) / full - ambient, 0.0, None)
        out[name] = x @ luma.astype(np.float32)
        out[name + ":sat"] = (a >= saturated * full).any(axis=2)
    return out


def find_sphere(images: Mapping[str, np.ndarray]) -> Circle:
    """Locate the sphere: the largest round bright region of the brightest-flash image."""
    grey = _grey_stack(images)
    peak = np.max([grey[c] for c in CHANNELS], axis=0)
    # Dark means no signal above a few quantisation steps, not a fraction of full scale: a
    # sphere exposed at 1 % of a 16-bit range is still hundreds of levels deep.
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(
        np.asarray(images["center"]).dtype, 0.0)
    if peak.max() <= (4.0 / full if full else 1e-3):
        raise InputError("no sphere found: every calibration image is dark")
    img8 = np.clip(peak / peak.max() * 255.0, 0, 255).astype(np.uint8)
    t, _ = cv2.threshold(img8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    coarse = img8 > t
    # Refine: a sphere's rim is darker than its centre; keep everything clearly above background.
    level = max(0.15 * float(np.median(img8[coarse])), 1.0) if coarse.any() else t
    binary = (img8 > level).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n < 2:
        raise InputError("no sphere found: no bright region in the calibration images")
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == best).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    area = float(filled.sum())
    rows, cols = np.nonzero(filled)
    cx, cy = float(cols.mean()), float(rows.mean())
    r = float(np.sqrt(area / np.pi))
    (_, _), r_enc = cv2.minEnclosingCircle(max(contours, key=cv2.contourArea))
    if r < 8 or area / (np.pi * r_enc**2) < 0.8:
        raise InputError(
            f"no sphere found: the largest bright region ({int(area)} px) is not round; "
            "pass --circle cx,cy,r"
        )
    return Circle(cx, cy, r)


def sphere_normals(shape: tuple[int, int], circle: Circle) -> tuple[np.ndarray, np.ndarray]:
    """Analytic unit normals (H, W, 3) of the sphere and its mask, pixel centres at integers."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (cols - circle.cx) / circle.r, -(rows - circle.cy) / circle.r
    rho2 = x * x + y * y
    mask = rho2 < 1.0
    z = np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    n = np.where(mask[..., None], np.stack([x, y, z], -1), 0.0)
    return n.astype(np.float32), mask


@dataclass
class Calibration:
    """A calibration: fitted lights, simplified coefficients, where the sphere was, residuals,
    and the camera response that makes its JPEGs linear (``response_fitted``: fitted on this
    sphere, rather than sRGB's inverse assumed). ``notes``: what the fit wants the operator
    to know (not stored)."""

    rig: LightRig
    simplified: stereo.SimplifiedModel
    circle: Circle
    image_size: tuple[int, int]
    residuals: dict = field(default_factory=dict)
    created: str = ""
    response: Response = SRGB
    response_fitted: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        m = self.simplified
        rig = self.rig.to_dict()
        return {
            "format_version": FORMAT_VERSION,
            "created": self.created,
            "convention": "camera space: x right, y up, z toward the camera; "
            "light vectors point from the surface toward the light",
            "image_size": list(self.image_size),
            "sphere": {"cx": round(self.circle.cx, 3), "cy": round(self.circle.cy, 3),
                       "r": round(self.circle.r, 3)},
            "response": {**self.response.to_dict(), "fitted": self.response_fitted},
            "lights": rig["lights"],
            "intensities": rig["intensities"],
            "simplified": {
                "coeffs": [[round(float(v), 6) for v in row] for row in m.coeffs],
                "clamp": dict(zip(("p_min", "p_max", "q_min", "q_max"),
                                  (round(float(v), 6) for v in m.clamp), strict=True)),
                "center": [round(float(v), 6) for v in m.center],
            },
            "residuals": copy.deepcopy(self.residuals),  # the caller may edit it
        }

    def save(self, path: str | Path) -> None:
        write_text(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    @classmethod
    def from_dict(cls, data: object, source: str = "calibration") -> Calibration:
        """A calibration from a calibration file's data (validated by CalibrationFile)."""
        return validate(CalibrationFile, data, source).calibration()

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        return read_yaml(path, CalibrationFile).calibration()


# -- the calibration file's schema ---------------------------------------------------------
def _rows_of_5(rows: list[list[float]]) -> list[list[float]]:
    if len(rows) != 3 or any(len(r) != 5 for r in rows):
        shape = f"{len(rows)} row(s) of {sorted({len(r) for r in rows})} numbers"
        raise schema_error(f"must be 3 rows of 5 numbers, one per component of the normal "
                           f"(got {shape})")
    return rows


def _non_zero(v: list[float]) -> list[float]:
    if not any(v):
        raise schema_error("must not be zero: it is the ring flash's intensity × direction")
    return v


class SphereSchema(Schema):
    cx: Number
    cy: Number
    r: Positive


class ClampSchema(Schema):
    p_min: Number
    p_max: Number
    q_min: Number
    q_max: Number

    @model_validator(mode="after")
    def _ordered(self) -> ClampSchema:
        if not (self.p_min <= self.p_max and self.q_min <= self.q_max):
            raise schema_error(f"p_min ≤ p_max and q_min ≤ q_max expected, got p "
                               f"{self.p_min}..{self.p_max}, q {self.q_min}..{self.q_max}")
        return self


class SimplifiedSchema(Schema):
    coeffs: Annotated[list[list[Number]], AfterValidator(_rows_of_5)]
    clamp: ClampSchema
    center: Annotated[Vector3, AfterValidator(_non_zero)]


Degrees = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0, le=180)]
NonNegative = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0)]


class ResidualsSchema(Schema):
    """What :func:`calibrate` measured on the sphere: each flash's fit RMS (a fraction of
    full scale), each method's angular error in degrees and, when the camera response was
    fitted, the sphere's departure from Lambertian in code values (RMS, a fraction of full
    scale) under sRGB's inverse and under the fitted curve. All optional; typed, so that a
    file saying ``lambertian_mean_deg: x`` is refused when read, not when printed."""

    expected: ClassVar[str] = "a mapping of residuals (fit_rms, lambertian_mean_deg, ...)"

    fit_rms: dict[Channel, NonNegative] | None = None
    lambertian_mean_deg: Degrees | None = None
    lambertian_median_deg: Degrees | None = None
    lambertian_p95_deg: Degrees | None = None
    simplified_mean_deg: Degrees | None = None
    simplified_median_deg: Degrees | None = None
    simplified_p95_deg: Degrees | None = None
    response_rms_srgb: NonNegative | None = None
    response_rms_fitted: NonNegative | None = None


#: At most this many coefficients: degree 9. The fit writes up to 4 (degree 5).
MAX_COEFFS = 8


class ResponseSchema(Schema):
    """The camera response a calibration's JPEGs are read with (:mod:`photometric.response`):
    ``coeffs`` only for ``polynomial``, and the curve must rise (a falling curve would map
    two lights to one code value, and photometric stereo would invert it wrongly)."""

    expected: ClassVar[str] = "a response mapping (kind, coeffs, fitted)"

    kind: Literal["srgb", "linear", "polynomial"]
    coeffs: Annotated[list[Number], Field(max_length=MAX_COEFFS)] = []
    fitted: Annotated[bool, Field(strict=True)] = False

    @model_validator(mode="after")
    def _curve(self) -> ResponseSchema:
        if self.kind != "polynomial" and self.coeffs:
            raise schema_error(f"a {self.kind} response has no coefficients (got "
                               f"{len(self.coeffs)}); only kind 'polynomial' has them")
        if self.kind == "polynomial" and not self.coeffs:
            raise schema_error("a polynomial response needs its coefficients (coeffs: "
                               "[c2, c3, ...])")
        curve = self.response()
        if not curve.monotonic():
            y = curve(np.linspace(0.0, 1.0, 256))
            at = int(np.argmax(np.diff(y) < -1e-9)) if (np.diff(y) < -1e-9).any() else 255
            raise schema_error(f"the curve is not monotonic (it falls or leaves [0, 1] near "
                               f"code {at}/255); a camera response must rise from 0 to 1")
        return self

    def response(self) -> Response:
        return Response(self.kind, tuple(self.coeffs))


def _text(v: object) -> object:
    """A timestamp written unquoted comes back from YAML as a datetime: keep it as text."""
    return v.isoformat() if isinstance(v, _dt.date) else v


class CalibrationFile(RigSchema):
    """What :meth:`Calibration.to_dict` writes; ``lights`` and ``intensities`` as in a lights
    file (unit, not coplanar, positive)."""

    expected: ClassVar[str] = "a calibration mapping (format_version, lights, simplified, ...)"

    format_version: Annotated[int, Field(strict=True)]  # required: the booth writes it
    created: Annotated[str, Field(strict=True), BeforeValidator(_text)] = ""
    convention: Annotated[str, Field(strict=True)] = ""
    image_size: Annotated[list[Annotated[int, Field(strict=True, gt=0)]],
                          Field(min_length=2, max_length=2)]
    sphere: SphereSchema
    # Absent in version 1 files (and optional in version 2): sRGB's inverse, not fitted.
    response: ResponseSchema | None = None
    simplified: SimplifiedSchema
    residuals: Annotated[ResidualsSchema,
                         BeforeValidator(lambda v: {} if v is None else v)] = ResidualsSchema()

    @field_validator("format_version")
    @classmethod
    def _supported(cls, v: int) -> int:
        if v not in SUPPORTED_VERSIONS:
            raise schema_error(
                f"version {v} is not supported (this booth reads versions "
                f"{', '.join(map(str, SUPPORTED_VERSIONS))}; it writes {FORMAT_VERSION}); "
                "calibrate again with this version of the booth")
        return v

    def calibration(self) -> Calibration:
        m, sp = self.simplified, self.sphere
        model = stereo.SimplifiedModel(np.array(m.coeffs, np.float64),
                                       (m.clamp.p_min, m.clamp.p_max, m.clamp.q_min,
                                        m.clamp.q_max),
                                       np.array(m.center, np.float64))
        w, h = self.image_size
        resp = self.response
        return Calibration(self.rig(), model, Circle(sp.cx, sp.cy, sp.r), (w, h),
                           self.residuals.model_dump(exclude_none=True), self.created,
                           resp.response() if resp else SRGB, bool(resp and resp.fitted))


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
        stereo._prepare(images)  # same sizes and depths, or a clear error
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
    prepared = stereo._prepare(images)
    _, dark, sat_raw = stereo._radiometry(prepared, thresholds, white_level)
    grey = _grey_stack(images, sat_raw / prepared[4])
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
