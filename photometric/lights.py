"""Light sources and the booth's light rig.

Directions are unit vectors from the surface toward the light, in camera space (x right,
y up, z toward the camera). The rig names one light per flash channel.

A lights file (``lights: {name: [x, y, z]}``, optional ``intensities``) is read through
:func:`photometric.io.files.read_yaml` and validated by :class:`LightsFile`, a pydantic schema:
the checks are declared once, strictly (a string is not a number), and every error names the
field (the schema base is :mod:`photometric.io.schema`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from photometric.errors import InputError

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
