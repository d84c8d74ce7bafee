"""Hair as geometry: a shell grown over the scalp, and for long styles a curtain that falls
from the head, so that the truth has hair normals and the photos hair's shape.

The hair is a height field over directions from the head's centre (azimuth around the
vertical axis, 0 in front; elevation), in the rest head's frame (upright, the eyes'
midpoint at the origin, mm). The scalp's radius per direction comes from the head's own
vertices (their largest radius per cell, gaps filled, the ears opened away); the hair's
radius is the scalp's plus the style's volume, tapered to nothing at the hairline so the
shell meets the skin, with clumps and curls as ridges along the strands. Below the ears a
long style hangs as a cylinder around the vertical axis, down to its length. Written by
hand: MakeHuman's hair proxies are fitted to its default body and would need a fit to each
of anny's shapes, and a height field gives the exact normals the truth needs for free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from photometric import raster
from photometric.sim.skin import GREY_HAIR

#: Styles: (volume on top mm, at the sides mm, length below the head's centre mm (None: to
#: the hairline), fringe 0..1, curl amplitude mm).
STYLES: dict[str, tuple[float, float, float | None, float, float]] = {
    "bald": (0.0, 0.0, None, 0.0, 0.0),
    "buzz": (3.0, 2.0, None, 0.0, 0.0),
    "short": (14.0, 7.0, None, 0.2, 0.5),
    "medium": (20.0, 16.0, 60.0, 0.6, 1.0),
    "curly": (38.0, 30.0, None, 0.3, 5.0),
    "tied": (9.0, 5.0, None, 0.0, 0.3),
    "shoulder": (16.0, 22.0, 170.0, 0.4, 1.0),
    "long": (16.0, 22.0, 290.0, 0.3, 1.5),
}

#: The grid of directions: azimuth cells around, elevation cells from ``_LOW`` to the top.
_NA, _NB = 240, 120
_LOW = np.radians(-78.0)


@dataclass(frozen=True)
class Hairstyle:
    """One person's hair: ``style`` (a key of :data:`STYLES`), its ``length`` scale, the
    ``parting`` (azimuth, degrees), the colour before greying and the ``grey`` share, and
    the seed of its clumps."""

    style: str
    length: float
    parting: float
    colour: tuple[float, float, float]
    grey: float
    seed: int


def draw(rng: np.random.Generator, female: bool, bald: bool, colour, grey: float
         ) -> Hairstyle:
    """A style for a person: long and tied hair more often for women, short hair and buzz
    cuts for men; someone balding keeps a buzz or nothing."""
    if bald:
        style = str(rng.choice(["bald", "buzz"]))
    elif female:
        style = str(rng.choice(list(STYLES)[1:], p=[0.02, 0.1, 0.12, 0.13, 0.16, 0.22, 0.25]))
    else:
        style = str(rng.choice(list(STYLES), p=[0.08, 0.25, 0.34, 0.12, 0.11, 0.03, 0.04,
                                                0.03]))
    return Hairstyle(style, float(rng.uniform(0.85, 1.15)), float(rng.normal(0.0, 25.0)),
                     tuple(float(c) for c in colour), float(grey), int(rng.integers(2**62)))


@dataclass(frozen=True)
class Hair:
    """A hair mesh in the rest head's frame: vertices (mm), triangles, and each vertex's
    (azimuth, elevation) in radians, which its colour is painted by."""

    vertices: np.ndarray  # (N, 3) float64
    faces: np.ndarray  # (F, 3) int64
    coords: np.ndarray  # (N, 2) float64


def head_centre(rest_head: np.ndarray) -> np.ndarray:
    """The rest head's centre: 20 mm below the eyes, at the middle of the skull's depth."""
    skull = rest_head[rest_head[:, 1] > -10.0]
    return np.array([0.0, -20.0, 0.5 * (skull[:, 2].max() + skull[:, 2].min())])


def _grid() -> tuple[np.ndarray, np.ndarray]:
    a = np.linspace(-np.pi, np.pi, _NA, endpoint=False) + np.pi / _NA
    b = np.linspace(_LOW, np.pi / 2, _NB)
    return np.meshgrid(a, b, indexing="xy")  # (NB, NA) each: row = elevation


def _directions(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(b) * np.sin(a), np.sin(b), np.cos(b) * np.cos(a)], axis=-1)


def scalp_radius(rest_head: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """(NB, NA): the head's radius per direction (the largest of its vertices' in each
    cell, empty cells from their nearest filled one), the ears opened away."""
    d = rest_head - centre
    r = np.linalg.norm(d, axis=1)
    a = np.arctan2(d[:, 0], d[:, 2])
    b = np.arcsin(np.clip(d[:, 1] / r, -1, 1))
    ia = np.clip(((a + np.pi) / (2 * np.pi) * _NA).astype(int), 0, _NA - 1)
    ib = np.clip(np.rint((b - _LOW) / (np.pi / 2 - _LOW) * (_NB - 1)).astype(int), 0, _NB - 1)
    grid = np.zeros((_NB, _NA))
    np.maximum.at(grid, (ib, ia), r)
    empty = grid == 0
    if empty.any():
        idx = ndimage.distance_transform_edt(empty, return_distances=False,
                                             return_indices=True)
        grid = grid[idx[0], idx[1]]
    grid = ndimage.grey_opening(grid, size=(7, 9), mode="wrap")
    return ndimage.gaussian_filter(grid, (1.0, 1.5), mode="wrap")


def _noise(rng: np.random.Generator, shape, cells: tuple[float, float]) -> np.ndarray:
    """Smooth noise of unit spread, correlated over ``cells`` (rows, columns)."""
    n = ndimage.gaussian_filter(rng.standard_normal(shape), cells, mode="wrap")
    return n / max(float(n.std()), 1e-9)


def grow(rest_head: np.ndarray, style: Hairstyle, hairline: float, recession: float,
         sideburn: float) -> Hair | None:
    """The hair of ``style`` on a rest head (its vertices, mm): None for a bald style.
    ``hairline`` (mm above the eyes at the forehead), ``recession`` (temples raised by) and
    ``sideburn`` (reach below the eyes) are the painted scalp's (:mod:`photometric.sim.skin`),
    so the shell sits on the painted hair."""
    top, side, length, fringe, curl = STYLES[style.style]
    if top == 0.0:
        return None
    rng = np.random.default_rng(style.seed)
    centre = head_centre(rest_head)
    a, b = _grid()
    scalp = scalp_radius(rest_head, centre)
    dirs = _directions(a, b)
    y = centre[1] + scalp * dirs[..., 1]  # the scalp's height (above the eyes) per cell
    # The hairline's height by azimuth: forehead, temples, over the ears, the nape.
    az = np.degrees(np.abs(a))
    line = np.interp(az, [0, 25, 45, 70, 95, 120, 180],
                     [hairline, hairline + 0.6 * recession, hairline + recession - 8.0,
                      -sideburn + 5.0, 5.0, -40.0, -75.0])
    if length is not None:  # hair that falls covers the ears
        line = np.where(az > 60, np.minimum(line, np.interp(az, [60, 75, 180],
                                                             [line.max(), -45.0, -75.0])),
                        line)
    if fringe > 0:  # a fringe comes down the forehead toward the brows
        low = hairline - fringe * (hairline - 18.0)
        line = np.where(az < 50, np.minimum(line, low + (line - low) * (az / 50.0) ** 2), line)
    # Tapered to the scalp over 6 mm past the hairline, a thick style over more.
    inside = (y - line) / max(6.0, 0.5 * top)
    w = np.clip(inside, 0.0, 1.0) ** 0.7
    # Volume: fullest on top, less at the sides; clumps along the strands (which run down
    # from the parting: across them is azimuth, along them elevation).
    vol = side + (top - side) * np.clip((b - np.radians(-10.0)) / np.radians(70.0), 0, 1)
    vol = vol * (1.0 + 0.12 * _noise(rng, a.shape, (3.0, 2.0)))
    clumps = 1.2 * _noise(rng, a.shape, (3.5, 1.2))
    part = np.radians(style.parting)
    near = np.exp(-((a - part) / 0.05) ** 2) * (b > np.radians(35.0))
    r = scalp + (vol + clumps * min(1.0, top / 10.0) - 4.0 * near) * w
    if curl > 0:  # rounded curls a centimetre or so across
        bumps = _noise(rng, a.shape, (2.2, 2.2))
        r += curl * w * np.sqrt(np.clip(bumps + 1.0, 0.0, None))
    have = inside > 0.0
    if length is not None:
        # Below the ears a curtain: a cylinder around the vertical axis through the centre,
        # as wide as the head at ear height plus the side volume, down to the length (with
        # a ragged end), and not in front of the face.
        ear = np.argmin(np.abs(b[:, 0] - np.radians(-5.0)))
        wide = (scalp[ear] * np.cos(b[ear, 0]) + side)[None, :]
        # Flaring out a little as it falls (a quarter of the drop), as hair does.
        drop = np.clip(-(np.tan(b) * wide), 0.0, None)
        hang = (wide + 0.25 * drop) / np.maximum(np.cos(b), 0.2)
        end = length * style.length * (1.0 + 0.06 * _noise(rng, (1, _NA), (0.0, 2.0)))
        low_y = centre[1] + hang * np.sin(b)
        falls = (b < b[ear, 0]) & (az > 60.0)
        curtain = falls & (low_y - centre[1] > -end)
        r = np.where(curtain, np.maximum(r, hang + clumps), r)
        # The ends: the first cell past them in each column is kept and moved up onto the
        # end itself (a cell is 1.4° of elevation, 10 mm of long hair: steps otherwise).
        # Its elevation solves wide·(t - t²/4) = -end for t = tan(elevation), the curtain's
        # drop below the centre.
        tip = falls & ~curtain & np.roll(curtain, -1, axis=0)
        t_end = 2.0 * (1.0 - np.sqrt(1.0 + end / wide))
        b_end = np.broadcast_to(np.arctan(t_end), a.shape)
        b = np.where(tip, b_end, b)
        drop_end = -t_end * wide
        hang_end = np.broadcast_to((wide + 0.25 * drop_end) / np.maximum(np.cos(b_end), 0.2),
                                   a.shape)
        r = np.where(tip, hang_end + clumps, r)
        dirs = np.where(tip[..., None], _directions(a, b), dirs)
        have |= curtain | tip
    verts = centre + r[..., None] * dirs
    return _mesh(verts, have, np.stack([a, b], axis=-1))


def _mesh(grid: np.ndarray, have: np.ndarray, coords: np.ndarray) -> Hair | None:
    """Quads of the (NB, NA) grid whose four corners have hair (wrapping around), as two
    triangles facing outward, and the one triangle of a quad with three (so that an edge
    of the hair runs diagonally across the grid's cells rather than in steps)."""
    nb, na = have.shape
    i0 = np.arange(nb - 1)[:, None]
    j0 = np.arange(na)[None, :]
    j1 = (j0 + 1) % na
    ids = np.arange(nb * na).reshape(nb, na)
    a, b = ids[i0, j0], ids[i0, j1]
    c, d = ids[i0 + 1, j0], ids[i0 + 1, j1]
    flat_have = have.reshape(-1)
    ha, hb, hc, hd = (flat_have[x] for x in (a, b, c, d))
    # Elevation rows go up, azimuth to the viewer's right from the back around the front:
    # (a, c, b), (b, c, d), (a, c, d) and (a, d, b) face outward.
    full = ha & hb & hc & hd
    tri = np.concatenate([np.stack([a, c, b], -1)[full], np.stack([b, c, d], -1)[full],
                          np.stack([b, c, d], -1)[~ha & hb & hc & hd],
                          np.stack([a, c, d], -1)[ha & ~hb & hc & hd],
                          np.stack([a, d, b], -1)[ha & hb & ~hc & hd],
                          np.stack([a, c, b], -1)[ha & hb & hc & ~hd]])
    if len(tri) == 0:
        return None
    used = np.unique(tri)
    remap = np.full(nb * na, -1, np.int64)
    remap[used] = np.arange(len(used))
    flat = grid.reshape(-1, 3)
    return Hair(flat[used], remap[tri], coords.reshape(-1, 2)[used])


def outward(hair: Hair, centre: np.ndarray) -> Hair:
    """``hair`` with its triangles wound to face away from ``centre``."""
    n = raster.vertex_normals(hair.vertices, hair.faces)
    if np.einsum("ij,ij->", n, hair.vertices - centre) >= 0:
        return hair
    return Hair(hair.vertices, hair.faces[:, ::-1].copy(), hair.coords)


def albedo(coords: np.ndarray, style: Hairstyle) -> np.ndarray:
    """The hair's linear RGB (P, 3) at (azimuth, elevation) ``coords``: strands (fine
    variation across, long along), some grey ones, darker deep in the clumps."""
    rng = np.random.default_rng(style.seed + 1)
    a, b = coords[:, 0], coords[:, 1]
    k = rng.uniform(0, 2 * np.pi, 6)
    # Streaks a few mm apart across the strands, slowly wavering along them (the head's
    # radius is about 100 mm: azimuth frequencies of 40-130 per radian); finer ones would
    # alias at a millimetre a pixel.
    wave = 0.15 * np.sin(b * 5.0 + k[0])
    strands = (np.sin((a + wave) * 41.0 + k[1]) + 0.7 * np.sin((a + wave) * 83.0 + k[2])
               + 0.5 * np.sin((a - wave) * 131.0 + k[3]))
    base = np.asarray(style.colour, np.float64)
    grey_mix = np.clip(style.grey * (1.0 + 0.3 * np.sin((a + wave) * 67.0 + k[4])), 0.0,
                       1.0)[:, None]
    colour = base * (1 - grey_mix) + GREY_HAIR * grey_mix
    shade = 1.0 + 0.08 * strands[:, None]
    return np.clip(colour * shade, 0.0, 1.0).astype(np.float32)


def strands(hair: Hair, faces: np.ndarray) -> np.ndarray:
    """The strands' direction (P, 3), unit, on triangles ``faces`` of ``hair``: the way the
    elevation coordinate grows across each triangle (the strands run from the parting
    down, along elevation), for hair's anisotropic highlight. Worked out once per triangle
    (a triangle covers several pixels)."""
    seen = np.zeros(len(hair.faces), bool)
    seen[faces] = True
    which = np.flatnonzero(seen)
    slot = np.cumsum(seen) - 1  # a seen triangle's row among ``which``
    return _strand_directions(hair, which)[slot[faces]]


def _strand_directions(hair: Hair, faces: np.ndarray) -> np.ndarray:
    tri = hair.faces[faces]
    p = hair.vertices[tri]  # (P, 3, 3)
    b = hair.coords[tri, 1]  # (P, 3)
    e1, e2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    d1, d2 = b[:, 1] - b[:, 0], b[:, 2] - b[:, 0]
    a11, a12, a22 = (np.einsum("ij,ij->i", x, y) for x, y in ((e1, e1), (e1, e2), (e2, e2)))
    det = a11 * a22 - a12 ** 2
    det = np.where(np.abs(det) > 1e-12, det, 1e-12)
    alpha, beta = (a22 * d1 - a12 * d2) / det, (a11 * d2 - a12 * d1) / det
    g = alpha[:, None] * e1 + beta[:, None] * e2
    return (g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def kabsch(src: np.ndarray, dst: np.ndarray):
    """The rigid motion (a function of points (N, 3)) that best maps points ``src`` onto
    ``dst`` (Kabsch's least squares)."""
    cs, cd = src.mean(0), dst.mean(0)
    u, _, vt = np.linalg.svd((src - cs).T @ (dst - cd))
    d = np.sign(np.linalg.det(u @ vt))
    rot = (u @ np.diag([1.0, 1.0, d]) @ vt).T
    return lambda points: (points - cs) @ rot.T + cd


def rigid(rest_head: np.ndarray, posed_head: np.ndarray):
    """The rigid motion that best maps the skull's rest vertices onto their posed places
    (:func:`kabsch`; the skull does not bend, the jaw and neck below it do): what carries
    hair, glasses and the upper teeth with the head."""
    skull = rest_head[:, 1] > -10.0
    return kabsch(rest_head[skull], posed_head[skull])


def follow(hair: Hair, rest_head: np.ndarray, posed_head: np.ndarray) -> Hair:
    """``hair`` carried from the rest head to the posed one (:func:`rigid`)."""
    return Hair(rigid(rest_head, posed_head)(hair.vertices), hair.faces, hair.coords)
