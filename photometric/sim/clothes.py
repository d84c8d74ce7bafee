"""What a simulated person wears: a garment over the body below a neckline.

The garment is the body's own surface pushed out by the cloth's thickness and its folds
(so the truth's normals are the cloth's), coloured by a pattern painted in the body's rest
coordinates (so it moves with the body). Where it covers is decided in the rest body
(upright, the eyes' midpoint at the origin, mm), relative to the neck: the base of the neck
at the sides, its centre, the chin. Written by hand: no garment asset fits anny's
phenotypes without a cloth simulation, and a neckline is a few lines of geometry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Necklines: (front dip mm, how the dip falls off around the neck, rise at the sides mm).
STYLES: dict[str, tuple[float, str, float]] = {
    "crew": (22.0, "round", 8.0),
    "v-neck": (85.0, "vee", 6.0),
    "scoop": (60.0, "wide", 2.0),
    "collar": (45.0, "vee", 28.0),
    "turtleneck": (0.0, "round", 0.0),
}

#: Cloth colours (linear RGB): dark and light neutrals, and the usual dyes.
COLOURS: dict[str, tuple[float, float, float]] = {
    "black": (0.02, 0.02, 0.022), "charcoal": (0.06, 0.06, 0.065), "grey": (0.2, 0.2, 0.2),
    "white": (0.75, 0.75, 0.72), "cream": (0.6, 0.52, 0.38), "navy": (0.02, 0.03, 0.12),
    "blue": (0.05, 0.15, 0.45), "sky": (0.3, 0.45, 0.7), "red": (0.45, 0.03, 0.03),
    "burgundy": (0.16, 0.02, 0.04), "green": (0.05, 0.2, 0.06), "olive": (0.12, 0.12, 0.04),
    "yellow": (0.7, 0.5, 0.05), "pink": (0.7, 0.3, 0.35), "brown": (0.12, 0.06, 0.03),
    "beige": (0.4, 0.32, 0.22),
}

PATTERNS = ("solid", "stripes", "checks", "print", "knit")


@dataclass(frozen=True)
class Garment:
    """One garment: its neckline ``style``, ``colour`` and ``second`` colour (names of
    :data:`COLOURS`), ``pattern``, the pattern's ``period`` (mm), the cloth's ``thickness``
    and ``folds`` (mm) and the seed of its folds."""

    style: str
    colour: str
    second: str
    pattern: str
    period: float
    thickness: float
    folds: float
    seed: int


def draw(rng: np.random.Generator) -> Garment:
    """A garment, from ``rng``: plain cloth most often, then stripes, checks, prints."""
    style = str(rng.choice(list(STYLES), p=[0.34, 0.18, 0.14, 0.2, 0.14]))
    names = list(COLOURS)
    colour, second = (str(x) for x in rng.choice(names, size=2, replace=False))
    pattern = str(rng.choice(PATTERNS, p=[0.45, 0.2, 0.12, 0.13, 0.1]))
    return Garment(style, colour, second, pattern, period=float(rng.uniform(6.0, 30.0)),
                   thickness=float(rng.uniform(2.0, 4.0) + (4.0 if style == "turtleneck"
                                                            else 0.0)),
                   folds=float(rng.uniform(0.5, 4.0)), seed=int(rng.integers(2**62)))


@dataclass(frozen=True)
class Neck:
    """Where the neck is in a rest body (mm): the height of its base at the sides, the depth
    of its axis, the chin (height and depth) and the eyes' height (0: the origin)."""

    base_y: float
    axis_z: float
    chin_y: float
    chin_z: float


def neck(rest: np.ndarray, head: np.ndarray) -> Neck:
    """The :class:`Neck` of a rest body (``rest`` (V, 3) mm, ``head`` the head's vertex
    ids): the base is where the shoulders' top meets the neck, 75-95 mm either side of the
    midline; the chin is the lowest point of the face's midline in front of the neck."""
    body = np.ones(len(rest), bool)
    body[head] = False
    side = rest[body & (np.abs(rest[:, 0]) > 70.0) & (np.abs(rest[:, 0]) < 95.0)]
    centre_z = float(np.median(rest[head, 2]))
    side = side[np.abs(side[:, 2] - centre_z) < 80.0]
    base_y = float(side[:, 1].max())
    band = rest[(np.abs(rest[:, 1] - (base_y + 30.0)) < 10.0) & (np.abs(rest[:, 0]) < 40.0)]
    axis_z = float(0.5 * (band[:, 2].max() + band[:, 2].min()))
    # The chin: the lowest point of the face's midline well in front of the neck's axis
    # (the neck's front lies some 55 mm in front of it).
    face = rest[head]
    line = face[np.abs(face[:, 0]) < 10.0]
    mid = line[line[:, 2] > axis_z + 75.0]
    if not len(mid):
        # A face less than 75 mm ahead of that axis (person 739, very slight: the shoulders
        # slope, and the band above them takes in the upper chest): its front 30 %.
        mid = line[line[:, 2] > axis_z + 0.7 * (float(line[:, 2].max()) - axis_z)]
    k = int(np.argmin(mid[:, 1]))
    return Neck(base_y, axis_z, float(mid[k, 1]), float(mid[k, 2]))


def neckline(points: np.ndarray, garment: Garment, where: Neck) -> np.ndarray:
    """How far (mm) below the garment's neckline each rest point lies (positive: covered)."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    phi = np.arctan2(x, z - where.axis_z)  # 0 in front, ±π at the back
    dip, shape, rise = STYLES[garment.style]
    if garment.style == "turtleneck":
        line = np.full(x.shape, where.chin_y - 22.0)
        line += 12.0 * np.clip(-np.cos(phi), 0.0, None)
        return line - y
    if shape == "round":
        fall = np.clip(np.cos(phi), 0.0, None) ** 2
    elif shape == "wide":
        fall = np.clip(np.cos(phi), 0.0, None) ** 0.7
    else:
        fall = np.clip(1.0 - np.abs(phi) / 0.75, 0.0, None)
    line = where.base_y + rise + 14.0 * np.clip(-np.cos(phi), 0.0, None) - dip * fall
    return line - y


def _waves(points: np.ndarray, seed: int, period: float, count: int = 6) -> np.ndarray:
    """A smooth random field over rest points (about unit spread): plane waves of random
    directions, wavelengths around ``period`` and phases."""
    rng = np.random.default_rng(seed)
    out = np.zeros(points.shape[:-1])
    for _ in range(count):
        d = rng.normal(size=3)
        d[1] *= 2.0  # folds run more across the body than down it
        d /= np.linalg.norm(d)
        k = 2 * np.pi / (period * rng.uniform(0.6, 1.6))
        out += np.sin(points @ d * k + rng.uniform(0, 2 * np.pi))
    return out / np.sqrt(count / 2)


def displacement(rest: np.ndarray, garment: Garment, where: Neck) -> np.ndarray:
    """Per rest vertex, how far (mm) the cloth stands off the skin: its thickness and folds
    where covered, ramping up over 3 mm at the neckline, 0 elsewhere."""
    cover = np.clip(neckline(rest, garment, where) / 3.0, 0.0, 1.0)
    folds = garment.folds * (0.5 + 0.5 * _waves(rest, garment.seed, 60.0))
    return cover * (garment.thickness + np.clip(folds, 0.0, None))


def albedo(points: np.ndarray, garment: Garment) -> np.ndarray:
    """The cloth's linear RGB (..., 3) at rest points: its pattern in its two colours, with
    the weave's fine variation."""
    a = np.asarray(COLOURS[garment.colour], np.float32)
    b = np.asarray(COLOURS[garment.second], np.float32)
    x, y = points[..., 0], points[..., 1]
    p = garment.period
    if garment.pattern == "stripes":
        mix = (np.mod(y / p, 1.0) < 0.4).astype(np.float32)
    elif garment.pattern == "checks":
        mix = 0.5 * ((np.mod(y / p, 1.0) < 0.5).astype(np.float32)
                     + (np.mod(x / p, 1.0) < 0.5).astype(np.float32))
    elif garment.pattern == "print":
        mix = (_waves(points, garment.seed + 1, 2.5 * p, 8) > 1.0).astype(np.float32)
    else:
        mix = np.zeros(x.shape, np.float32)
    out = a * (1.0 - mix[..., None]) + b * mix[..., None]
    weave = 1.0 + 0.06 * np.sin(x * 2.1) * np.sin(y * 1.7)
    if garment.pattern == "knit":
        weave = weave * (0.85 + 0.15 * np.abs(np.sin(x * np.pi / 4.0)))
    return (out * weave[..., None]).astype(np.float32)
