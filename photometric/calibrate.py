"""Calibration on a white matte sphere: light directions and the simplified coefficients.

From the five flash images of a sphere (plus ambient, if taken) we find the sphere, know its
normals analytically, and fit (a) each flash's intensity × direction by least squares over
the pixels it lights, and (b) the simplified method's 3×5 coefficients and clamp range.
Albedos measured with this calibration are relative to the sphere's.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar

import cv2
import numpy as np
import yaml
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

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
from photometric.schema import Number, Positive, Schema, schema_error, validate

FORMAT_VERSION = 1


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
    if peak.max() <= 0.02:
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
    """A calibration: fitted lights, simplified coefficients, where the sphere was, residuals."""

    rig: LightRig
    simplified: stereo.SimplifiedModel
    circle: Circle
    image_size: tuple[int, int]
    residuals: dict = field(default_factory=dict)
    created: str = ""

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
            "lights": rig["lights"],
            "intensities": rig["intensities"],
            "simplified": {
                "coeffs": [[round(float(v), 6) for v in row] for row in m.coeffs],
                "clamp": dict(zip(("p_min", "p_max", "q_min", "q_max"),
                                  (round(float(v), 6) for v in m.clamp), strict=True)),
                "center": [round(float(v), 6) for v in m.center],
            },
            "residuals": self.residuals,
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
    full scale) and each method's angular error in degrees. All optional; typed, so that a
    file saying ``lambertian_mean_deg: x`` is refused when read, not when printed."""

    expected: ClassVar[str] = "a mapping of residuals (fit_rms, lambertian_mean_deg, ...)"

    fit_rms: dict[Channel, NonNegative] | None = None
    lambertian_mean_deg: Degrees | None = None
    lambertian_median_deg: Degrees | None = None
    lambertian_p95_deg: Degrees | None = None
    simplified_mean_deg: Degrees | None = None
    simplified_median_deg: Degrees | None = None
    simplified_p95_deg: Degrees | None = None


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
    simplified: SimplifiedSchema
    residuals: Annotated[ResidualsSchema,
                         BeforeValidator(lambda v: {} if v is None else v)] = ResidualsSchema()

    @field_validator("format_version")
    @classmethod
    def _supported(cls, v: int) -> int:
        if v != FORMAT_VERSION:
            raise schema_error(f"version {v} is not supported (expected {FORMAT_VERSION}); "
                               "calibrate again with this version of the booth")
        return v

    def calibration(self) -> Calibration:
        m, sp = self.simplified, self.sphere
        model = stereo.SimplifiedModel(np.array(m.coeffs, np.float64),
                                       (m.clamp.p_min, m.clamp.p_max, m.clamp.q_min,
                                        m.clamp.q_max),
                                       np.array(m.center, np.float64))
        w, h = self.image_size
        return Calibration(self.rig(), model, Circle(sp.cx, sp.cy, sp.r), (w, h),
                           self.residuals.model_dump(exclude_none=True), self.created)


def _fit_lights(grey: dict, normals: np.ndarray, usable: np.ndarray, dark: float):
    """Least-squares intensity × direction per flash, over the pixels it lights."""
    scaled: dict[str, np.ndarray] = {}
    rms: dict[str, float] = {}
    for c in CHANNELS:
        g = grey[c]
        sel = usable & ~grey[c + ":sat"] & (g > max(dark, 0.05 * float(g[usable].max())))
        for _ in range(2):  # refit away from the terminator, where noise and clipping bias
            n, y = normals[sel].astype(np.float64), g[sel].astype(np.float64)
            if len(y) < 50:
                raise InputError(f"calibration: flash '{c}' lights too little of the sphere "
                                 f"({len(y)} pixels); is its image dark?")
            s, *_ = np.linalg.lstsq(n, y, rcond=None)
            pred = normals.astype(np.float64) @ s
            sel = sel & (pred > 0.1 * np.linalg.norm(s))
        scaled[c] = s
        rms[c] = float(np.sqrt(np.mean((normals[sel] @ s - g[sel]) ** 2)))
    intens = {c: float(np.linalg.norm(s)) for c, s in scaled.items()}
    rig = LightRig({c: s / intens[c] for c, s in scaled.items()}, intens)
    return rig, rms


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


def _residuals(images, cal: Calibration, normals, mask) -> dict:
    out = {}
    for name, res in (("lambertian", stereo.lambertian(images, cal.rig)),
                      ("simplified", stereo.simplified(images, cal.simplified))):
        err = stereo.angular_error(res.normals, normals)
        sel = mask & res.mask
        if not sel.any():
            raise InputError(f"calibration: the {name} method recovers no sphere pixel")
        out[f"{name}_mean_deg"] = round(float(err[sel].mean()), 4)
        out[f"{name}_median_deg"] = round(float(np.median(err[sel])), 4)
        out[f"{name}_p95_deg"] = round(float(np.percentile(err[sel], 95)), 4)
    return out


def calibrate(
    images: Mapping[str, np.ndarray],
    circle: Circle | None = None,
    thresholds: stereo.Thresholds = stereo.Thresholds(),
) -> Calibration:
    """Fit a :class:`Calibration` from a sphere capture; ``circle`` overrides detection."""
    grey = _grey_stack(images, thresholds.saturated)
    shape = grey["center"].shape
    circle = circle or find_sphere(images)
    h, w = shape
    if not (0 <= circle.cx < w and 0 <= circle.cy < h):
        raise InputError(f"sphere centre ({circle.cx:.1f}, {circle.cy:.1f}) lies outside the "
                         f"{w}×{h} image")
    normals, mask = sphere_normals(shape, circle)
    inner = sphere_normals(shape, Circle(circle.cx, circle.cy, 0.95 * circle.r))[1]
    rig, rms = _fit_lights(grey, normals, inner, thresholds.dark)
    model = _fit_simplified(grey, normals, inner, thresholds.dark,
                            rig.intensity("center") * rig.direction("center"))
    cal = Calibration(rig, model, circle, (w, h),
                      created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
    cal.residuals = {"fit_rms": {c: round(v, 6) for c, v in rms.items()},
                     **_residuals(images, cal, normals, inner)}
    return cal
