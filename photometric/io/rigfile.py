"""Lights files: the booth's light rig on disk.

A lights file (``lights: {name: [x, y, z]}``, optional ``intensities``) is read through
:func:`photometric.io.files.read_yaml` and validated by :class:`LightsFile`, a pydantic schema:
the checks are declared once, strictly (a string is not a number), and every error names the
field (the schema base is :mod:`photometric.io.schema`). A calibration file extends
:class:`RigSchema`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
import yaml
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from photometric.io.files import read_yaml, write_text
from photometric.io.schema import Number, Positive, Schema, schema_error, validate
from photometric.lights import CHANNELS, DIRECTIONAL, LightRig

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


def rig_from_dict(data: object, source: str = "lights") -> LightRig:
    """A rig from a lights file's data (validated by :class:`LightsFile`)."""
    return validate(LightsFile, data, source).rig()
