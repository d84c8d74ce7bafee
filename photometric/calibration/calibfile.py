"""A calibration and its file: fitted lights, simplified coefficients, the sphere, residuals and
the camera response, validated against one schema when read (:class:`CalibrationFile`)."""

from __future__ import annotations

import copy
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
import yaml
from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from photometric import stereo
from photometric.calibration.sphere import Circle
from photometric.io.files import read_yaml, write_text
from photometric.io.rigfile import Channel, RigSchema, Vector3
from photometric.io.schema import Number, Positive, Schema, schema_error, validate
from photometric.lights import LightRig
from photometric.response import SRGB, Response

#: 2 added ``response``; version 1 files (no response: sRGB, not fitted) still load.
FORMAT_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)


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
