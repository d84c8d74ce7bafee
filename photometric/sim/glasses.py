"""Glasses as geometry: a frame (two rims, a bridge and two temples, tubes of their own) and
two clear lenses, fitted to one person's rest head and carried by its pose as the hair is.

The frame is opaque: it is rendered with the person, casts shadows and has its own normals
in the truth (part ``GLASSES``). A lens is clear: the truth behind it is what lies behind it
(normals, depth and albedo of the eye and skin, the albedo times the lens's transmission),
the parts map says what it covers (``LENS``), and the surface keeps the lens's own normals
(:attr:`photometric.render.Surface.glass`) for the reflections it adds in portrait light.
The booth's flashes are cross-polarised; a glass surface keeps a reflection's polarisation,
so the booth's photos show no reflection on a lens, only its transmission.

Written by hand: MakeHuman's glasses proxies are fitted to its default head, and a frame
must be fitted to each of anny's faces (the eyes' spacing, the nose's bridge, the head's
width) so that it neither floats nor sinks into the skin.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photometric.sim.tubes import merge, tube

#: Lens outlines: (superellipse exponent, height over width, lift of the outer top corner).
SHAPES: dict[str, tuple[float, float, float]] = {
    "round": (2.0, 0.92, 0.0),
    "oval": (2.4, 0.72, 0.0),
    "rectangle": (5.0, 0.62, 0.0),
    "square": (4.0, 0.85, 0.0),
    "cat-eye": (3.0, 0.7, 0.3),
}

#: Frame colours (linear albedo) by name.
COLOURS: dict[str, tuple[float, float, float]] = {
    "black": (0.025, 0.025, 0.028), "tortoise": (0.16, 0.07, 0.025),
    "gold": (0.55, 0.4, 0.15), "silver": (0.5, 0.5, 0.52), "navy": (0.03, 0.05, 0.16),
    "red": (0.35, 0.03, 0.04), "crystal": (0.6, 0.58, 0.55),
}

#: A lens passes this much of the light (two faces, 4 % reflected at each).
TRANSMISSION = 0.92


@dataclass(frozen=True)
class Glasses:
    """One pair: the lens ``shape`` (a key of :data:`SHAPES`), the lens ``width`` and the
    ``bridge`` (mm, for a 63 mm eye spacing; scaled with the person's), the rim's width
    across and its depth (mm; thin metal to thick acetate), the frame's ``colour`` (a key
    of :data:`COLOURS`) and the lenses' ``tint`` (linear transmission per channel)."""

    shape: str
    width: float
    bridge: float
    rim: float
    depth: float
    colour: str
    tint: tuple[float, float, float]


@dataclass(frozen=True)
class Pair:
    """A pair fitted to a head: the frame's mesh and the lenses' mesh (mm, the head's
    frame)."""

    frame_vertices: np.ndarray
    frame_faces: np.ndarray
    lens_vertices: np.ndarray
    lens_faces: np.ndarray


def draw(rng: np.random.Generator, age: float) -> Glasses | None:
    """Glasses for a person of ``age`` years, or None: one in ten below 40, one in three
    from 50 (reading and varifocal lenses), about one in six over the population."""
    share = 0.1 if age < 40 else (0.2 if age < 50 else 0.33)
    if rng.random() >= share:
        return None
    shape = str(rng.choice(list(SHAPES)))
    metal = rng.random() < 0.35
    colour = str(rng.choice(["gold", "silver", "black"] if metal else list(COLOURS)))
    tint = (1.0, 1.0, 1.0) if rng.random() < 0.85 else tuple(
        float(x) for x in rng.uniform(0.35, 0.8) * np.array([1.0, 0.95, 0.85]))
    return Glasses(shape, float(rng.uniform(46.0, 56.0)), float(rng.uniform(15.0, 21.0)),
                   float(rng.uniform(1.2, 2.0) if metal else rng.uniform(3.0, 6.0)),
                   float(rng.uniform(1.5, 2.5) if metal else rng.uniform(3.5, 5.5)),
                   colour, tint)  # type: ignore[arg-type]


def outline(shape: str, half_width: float, n: int = 64) -> np.ndarray:
    """(n, 2) points around a lens (mm, its box's centre at the origin, x toward the temple,
    y up), counter-clockwise."""
    p, aspect, lift = SHAPES[shape]
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = half_width * np.sign(c) * np.abs(c) ** (2.0 / p)
    y = aspect * half_width * np.sign(s) * np.abs(s) ** (2.0 / p)
    y = y + lift * aspect * half_width * np.clip(x / half_width, 0, 1) ** 2 * (y > 0)
    return np.stack([x, y], 1)


def nasal(points: np.ndarray, half: float) -> np.ndarray:
    """Which ``points`` of a lens's outline (as :func:`outline` gives them) are its lower
    inner corner, where the nose pads rest: toward the nose and below the middle."""
    return (points[:, 0] < -0.2 * half) & (points[:, 1] < 0.0)


def _front(head: np.ndarray, cell: float = 2.0):
    """The head's frontmost z per ``cell``² column over x, y (a lookup: points (N, 2) →
    z, -inf where the head is not)."""
    lo = head[:, :2].min(0)
    ij = np.floor((head[:, :2] - lo) / cell).astype(np.int64)
    shape = tuple(ij.max(0) + 1)
    grid = np.full(shape, -np.inf)
    np.maximum.at(grid, (ij[:, 0], ij[:, 1]), head[:, 2])
    from scipy import ndimage

    grid = ndimage.maximum_filter(grid, size=3)

    def at(p: np.ndarray) -> np.ndarray:
        k = np.floor((p - lo) / cell).astype(np.int64)
        ok = (k >= 0).all(1) & (k[:, 0] < shape[0]) & (k[:, 1] < shape[1])
        z = np.full(len(p), -np.inf)
        z[ok] = grid[k[ok, 0], k[ok, 1]]
        return z

    return at


def fit(glasses: Glasses, rest_head: np.ndarray, eye_ids: tuple[np.ndarray, np.ndarray]
        ) -> Pair:
    """``glasses`` fitted to a rest head (its vertices, mm: upright, face toward +z) whose
    eyes' fronts are the vertices ``eye_ids`` (image-left, image-right): the lenses' boxes
    centred a little wider than the eyes, 13 mm in front of them or further where the brow,
    cheek or nose would touch, the bridge on the nose and the temples back along the head's
    sides to above the ears."""
    eyes = np.stack([rest_head[i].mean(0) for i in eye_ids])
    scale = float(np.clip(abs(eyes[1, 0] - eyes[0, 0]) / 63.0, 0.75, 1.15))
    half = 0.5 * glasses.width * scale
    bridge = glasses.bridge * scale
    mid = eyes.mean(0)
    front = _front(rest_head)
    ring = outline(glasses.shape, half)
    lens_r = 1.0 - 0.3 * glasses.rim / half  # the lens reaches into the rim
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    lens_parts: list[tuple[np.ndarray, np.ndarray]] = []
    wrap = 1.0 / 220.0  # the frame's curve around the face (1 / radius, mm)
    y0 = mid[1] + 1.0
    # The lenses' plane: 13 mm before the eyes, or 3 mm before the brow and cheek under the
    # frame; the lower inner corners rest beside the nose, which may come through them.
    pts = []
    for side in (-1.0, 1.0):
        cx = side * (bridge / 2 + half)
        pts.append(np.stack([cx + side * ring[:, 0], y0 + ring[:, 1]], 1))
    allp = np.concatenate(pts)
    sag = wrap * 0.5 * allp[:, 0] ** 2
    clear = ~nasal(np.concatenate([ring, ring]), half)
    z0 = float(max(eyes[:, 2].max() + 13.0,
                   np.max((front(allp) + sag)[clear]) + 3.0 + glasses.depth / 2))
    rims = []
    for side, p in zip((-1.0, 1.0), pts, strict=True):
        cx = side * (bridge / 2 + half)
        z = z0 - wrap * 0.5 * p[:, 0] ** 2
        rim = np.column_stack([p, z])
        rims.append(rim)
        up = np.array([0.0, 0.0, 1.0])
        parts.append(tube(rim, glasses.rim / 2, glasses.depth / 2, True, up))
        # The lens: rings from its centre to its edge, curved like the frame.
        r = np.linspace(0.0, lens_r, 9)[1:]
        lx = cx + side * r[:, None] * ring[None, :, 0]
        ly = y0 + r[:, None] * ring[None, :, 1]
        lv = np.concatenate([[[cx, y0, z0 - wrap * 0.5 * cx ** 2]],
                             np.stack([lx, ly, z0 - wrap * 0.5 * lx ** 2], -1).reshape(-1, 3)])
        m = len(ring)
        fan = [(0, 1 + j, 1 + (j + 1) % m) for j in range(m)]
        quads = []
        for a in range(len(r) - 1):
            for j in range(m):
                p00, p01 = 1 + a * m + j, 1 + a * m + (j + 1) % m
                p10, p11 = 1 + (a + 1) * m + j, 1 + (a + 1) * m + (j + 1) % m
                quads += [(p00, p10, p11), (p00, p11, p01)]
        lens_parts.append((lv, np.array(fan + quads, np.int64)))
    # The bridge: an arch over the nose between the rims' inner tops.
    xs = np.linspace(-bridge / 2 - 0.3 * glasses.rim, bridge / 2 + 0.3 * glasses.rim, 9)
    by = y0 + 0.3 * SHAPES[glasses.shape][1] * half + 2.5 * (1 - (2 * xs / bridge) ** 2)
    bz = np.maximum(z0 - wrap * 0.5 * xs ** 2,
                    front(np.column_stack([xs, by])) + 1.5 + glasses.depth / 2)
    parts.append(tube(np.column_stack([xs, by, bz]), glasses.depth / 2.2,
                       max(glasses.rim, 2.0) / 2, False, np.array([0.0, 1.0, 0.0])))
    # The temples: from each rim's outer end back along the side of the head.
    from photometric.sim import hair

    centre_z = float(hair.head_centre(rest_head)[2])  # about where the ears are
    ty = y0 + 0.25 * SHAPES[glasses.shape][1] * half
    band = rest_head[np.abs(rest_head[:, 1] - ty) < 8.0]
    for side, rim in zip((-1.0, 1.0), rims, strict=True):
        end = rim[np.argmax(side * rim[:, 0])]
        zs = np.linspace(end[2] - 2.0, centre_z + 5.0, 16)
        width = np.array([np.max(np.abs(band[np.abs(band[:, 2] - z) < 6.0, 0]), initial=0.0)
                          for z in zs])
        x = side * np.maximum(abs(end[0]) + 0.5 * glasses.rim, width + 2.5 + glasses.depth / 2)
        x = np.maximum.accumulate(np.abs(x)) * side  # never bends back in
        path = np.column_stack([x, np.full_like(zs, ty), zs])
        path[0] = [end[0], ty, end[2] - 2.0]
        parts.append(tube(path, glasses.depth / 2.4, max(glasses.rim, 2.5) / 2, False,
                           np.array([0.0, 1.0, 0.0])))
    fv, ff = merge(parts)
    lv, lf = merge(lens_parts)
    return Pair(fv, ff, lv, lf)


def follow(pair: Pair, rest_head: np.ndarray, posed_head: np.ndarray) -> Pair:
    """``pair`` carried from the rest head to the posed one (the skull's rigid motion)."""
    from photometric.sim import hair

    move = hair.rigid(rest_head, posed_head)
    return Pair(move(pair.frame_vertices), pair.frame_faces, move(pair.lens_vertices),
                pair.lens_faces)

