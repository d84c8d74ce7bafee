"""Light sources and the booth's light rig.

Directions are unit vectors from the surface toward the light, in camera space (x right,
y up, z toward the camera). The rig names one light per flash channel.

A lights file (``lights: {name: [x, y, z]}``, optional ``intensities``) is read through
:func:`photometric.files.read_yaml` and validated by :class:`LightsFile`, a pydantic schema:
the checks are declared once, strictly (a string is not a number), and every error names the
field (the schema base is :mod:`photometric.schema`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
)

from photometric.errors import InputError
from photometric.files import read_yaml, write_text
from photometric.schema import Number, Positive, Schema, schema_error, validate

#: Flash channels in their canonical order: ring flash first, then the four directional ones.
CHANNELS: tuple[str, ...] = ("center", "left", "right", "top", "bottom")
DIRECTIONAL: tuple[str, ...] = CHANNELS[1:]


def unit(v) -> np.ndarray:
    """A float64 unit vector; raises InputError on a zero or malformed vector."""
    a = np.asarray(v, dtype=np.float64).reshape(-1)
    n = float(np.linalg.norm(a)) if a.size == 3 else 0.0
    if a.size != 3 or not np.isfinite(a).all() or n == 0.0:
        raise InputError(f"expected a non-zero 3-vector [x, y, z], got {v!r}")
    return a / n


@dataclass(frozen=True)
class DirectionalLight:
    """A distant light: the same direction and irradiance at every surface point."""

    direction: tuple[float, float, float]
    intensity: float = 1.0
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class PointLight:
    """A small light at a position (mm, camera space): per-pixel direction, 1/d² falloff.

    ``intensity`` is the irradiance at ``reference_distance`` so that moving a light away
    dims it physically while the numbers stay of order one.
    """

    position: tuple[float, float, float]
    intensity: float = 1.0
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    reference_distance: float = 1000.0


Light = DirectionalLight | PointLight


def ring_flash(
    distance: float | None,
    radius: float = 60.0,
    n: int = 12,
    intensity: float = 1.0,
    color: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> list[Light]:
    """A ring flash around the lens as ``n`` point lights on a ring of ``radius`` mm.

    The lens sits on the view axis at ``distance`` mm from the subject's origin. With
    ``distance=None`` (infinitely far) the ring collapses to one light on the view axis.
    """
    if distance is None:
        return [DirectionalLight((0.0, 0.0, 1.0), intensity, color)]
    angles = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return [
        PointLight(
            (float(radius * np.cos(a)), float(radius * np.sin(a)), float(distance)),
            intensity / n,
            color,
            reference_distance=distance,
        )
        for a in angles
    ]


@dataclass
class LightRig:
    """Nominal or calibrated light per channel: direction (unit) and relative intensity."""

    directions: dict[str, np.ndarray]
    intensities: dict[str, float] = field(default_factory=dict)

    def direction(self, channel: str) -> np.ndarray:
        return self.directions[channel]

    def intensity(self, channel: str) -> float:
        return float(self.intensities.get(channel, 1.0))

    def scaled(self, channels: tuple[str, ...]) -> np.ndarray:
        """(K, 3) rows intensity × direction, for the channels given, in that order."""
        return np.array([self.intensity(c) * self.directions[c] for c in channels])

    def to_dict(self) -> dict:
        return {
            "lights": {c: [round(float(x), 6) for x in d] for c, d in self.directions.items()},
            "intensities": {c: round(float(self.intensity(c)), 6) for c in self.directions},
        }

    @classmethod
    def from_dict(cls, data: object, source: str = "lights") -> LightRig:
        """A rig from a lights file's data (validated by :class:`LightsFile`)."""
        return validate(LightsFile, data, source).rig()


def nominal_rig(angle_deg: float = 30.0) -> LightRig:
    """The booth's nominal rig: ring flash on the view axis, four flashes ``angle_deg`` off it."""
    s, c = np.sin(np.radians(angle_deg)), np.cos(np.radians(angle_deg))
    return LightRig(
        {
            "center": np.array([0.0, 0.0, 1.0]),
            "left": np.array([-s, 0.0, c]),
            "right": np.array([s, 0.0, c]),
            "top": np.array([0.0, s, c]),
            "bottom": np.array([0.0, -s, c]),
        },
        {c: 1.0 for c in CHANNELS},
    )


# -- file schemas -------------------------------------------------------------------------
Vector3 = Annotated[list[Number], Field(min_length=3, max_length=3)]
Channel = Literal["center", "left", "right", "top", "bottom"]
assert Channel.__args__ == CHANNELS  # type: ignore[attr-defined]

#: A direction read from a file may be off unit length by rounding, not by more.
UNIT_TOLERANCE = 1e-3
#: Smallest singular value over the largest of the four directional flashes' (4, 3) matrix
#: of directions. Photometric stereo divides by the smallest one, so a rig under this is
#: refused: four directions in one plane or all equal give 0 (every pixel unsolvable). The
#: nominal rig (30° off axis) gives 0.41; a symmetric rig only 4° off axis is at the limit.
MIN_SPREAD = 0.05


def _unit_direction(v: list[float]) -> list[float]:
    n = math.sqrt(sum(x * x for x in v))
    if abs(n - 1.0) > UNIT_TOLERANCE:
        raise schema_error(f"{v} has length {n:.4g}; expected length 1 (within "
                           f"{UNIT_TOLERANCE}): light directions are unit vectors from the "
                           "surface toward the light")
    return v


Direction = Annotated[Vector3, AfterValidator(_unit_direction)]


def spread(directions: Mapping[str, object]) -> float:
    """How far the four directional flashes are from lying in one plane (see MIN_SPREAD)."""
    s = np.linalg.svd(np.array([directions[c] for c in DIRECTIONAL], dtype=np.float64),
                      compute_uv=False)
    return float(s[-1] / s[0]) if s[0] > 0 else 0.0


class RigSchema(Schema):
    """``lights`` and ``intensities``, as in a lights file and a calibration."""

    expected: ClassVar[str] = "a mapping with 'lights: {center: [x, y, z], left: ...}'"

    lights: dict[Channel, Direction]
    intensities: Annotated[dict[Channel, Positive],
                           BeforeValidator(lambda v: {} if v is None else v)] = {}

    @field_validator("lights")
    @classmethod
    def _usable(cls, lights: dict[str, list[float]]) -> dict[str, list[float]]:
        missing = [c for c in DIRECTIONAL if c not in lights]
        if missing:
            raise schema_error(f"lights {missing} missing; the four directional flashes "
                               "(left, right, top, bottom) are required")
        if (s := spread(lights)) < MIN_SPREAD:
            raise schema_error(
                f"the directions of left, right, top and bottom (nearly) lie in one plane, "
                f"so no surface direction can be solved (spread {s:.3f}, at least "
                f"{MIN_SPREAD} needed); check the lights' signs and axes")
        return lights

    @field_validator("intensities")
    @classmethod
    def _named(cls, intensities: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        lights = info.data.get("lights")
        stray = [c for c in intensities if lights is not None and c not in lights]
        if stray:
            raise schema_error(f"{stray} name no light in 'lights'")
        return intensities

    def rig(self) -> LightRig:
        """The rig, directions made exactly unit."""
        directions = {c: np.asarray(v, np.float64) for c, v in self.lights.items()}
        return LightRig({c: d / np.linalg.norm(d) for c, d in directions.items()},
                        dict(self.intensities))


class SimulationInfo(Schema):
    """What ``booth simulate subject`` records about how it rendered the capture."""

    kind: Annotated[str, Field(strict=True)]
    seed: Annotated[int, Field(strict=True)]
    size: Annotated[int, Field(strict=True)]
    noise: Number
    bits: Annotated[int, Field(strict=True)]
    distance_mm: Number | None
    ambient: Annotated[bool, Field(strict=True)]
    specular: Number
    take: Annotated[int, Field(strict=True)] = 0  # which sitting of the person (faces)


class LightsFile(RigSchema):
    """A lights file; a simulated capture's ``lights.yaml`` also says how it was made."""

    simulation: SimulationInfo | None = None


def load_rig(path: str | Path) -> LightRig:
    """Read a lights file (``lights: {name: [x,y,z]}``, optional ``intensities``)."""
    return read_yaml(path, LightsFile).rig()


def save_rig(rig: LightRig, path: str | Path) -> None:
    write_text(path, yaml.safe_dump(rig.to_dict(), sort_keys=False))
