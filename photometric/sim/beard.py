"""Beards and moustaches as geometry: a shell over the skin where stubble is painted,
standing off it by the beard's thickness and meeting it at the beard's edge.

The shell is made of the head's own triangles in the beard's region (the painted beard's
weight at each template vertex, :func:`photometric.sim.uvbake.vertex_fields`), each vertex
moved out along its normal: it follows the face through every pose and expression (the jaw
opens, the beard opens with it) and has exact normals in the truth (part ``BEARD``). Written
by hand: MakeHuman ships no beards, and a shell on the person's own mesh needs no fitting.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from photometric import raster
from photometric.sim.skin import GREY_HAIR

#: Styles: (thickness range mm, the region it keeps).
STYLES: dict[str, tuple[tuple[float, float], str]] = {
    "short": ((2.5, 5.0), "beard"),
    "full": ((6.0, 12.0), "beard"),
    "goatee": ((4.0, 9.0), "goatee"),
    "moustache": ((3.0, 7.0), "moustache"),
}


@dataclass(frozen=True)
class Beard:
    """One person's beard: its ``style`` (a key of :data:`STYLES`), ``thickness`` (mm),
    colour before greying, the ``grey`` share, and the seed of its clumps."""

    style: str
    thickness: float
    colour: tuple[float, float, float]
    grey: float
    seed: int


def draw(rng: np.random.Generator, male: bool, age: float, colour, grey: float
         ) -> Beard | None:
    """A beard for a man of 18 or more about one time in four (full beards the most
    common), None otherwise."""
    if not male or age < 18.0 or rng.random() >= 0.25:
        return None
    style = str(rng.choice(list(STYLES), p=[0.3, 0.35, 0.15, 0.2]))
    lo, hi = STYLES[style][0]
    return Beard(style, float(rng.uniform(lo, hi)), tuple(float(c) for c in colour),
                 float(grey), int(rng.integers(2**62)))


_lock = threading.Lock()
_weights: dict[int, dict[str, np.ndarray]] = {}


def weights(tpl) -> dict[str, np.ndarray]:
    """Per template vertex, each region's weight (0..1): ``beard`` (where stubble grows, the
    lips and the mouth left bare), ``goatee`` (the chin and the moustache) and
    ``moustache`` (above the upper lip); and ``lip_y``, its height above the lips' parting
    (mm). Once per template."""
    from photometric.sim import uvbake
    from photometric.sim.uvbake import smooth

    with _lock:
        if id(tpl) not in _weights:
            f = uvbake.vertex_fields(tpl)
            t, y = np.abs(f["lip_t"]), f["lip_y"]
            bare = smooth((1.2 - t) / 0.1) * smooth((y + 12.0) / 2.0) * smooth((7.0 - y) / 2.0)
            beard = f["beard"] * (1.0 - bare)
            lip_band = smooth((y - 6.0) / 2.0) * smooth((22.0 - y) / 3.0)
            moustache = beard * lip_band * smooth((1.45 - t) / 0.15)
            chin = beard * smooth((28.0 - np.abs(f["x"])) / 5.0) * smooth((-10.0 - y) / 3.0)
            _weights[id(tpl)] = {"beard": beard, "moustache": moustache,
                                 "goatee": np.maximum(chin, moustache), "lip_y": y}
        return _weights[id(tpl)]


@dataclass(frozen=True)
class Shell:
    """A posed beard: vertices, triangles, each vertex's albedo and its place on the
    neutral face (mm, for the strands' texture: :func:`texture`)."""

    vertices: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray
    coords: np.ndarray
    seed: int


_depths: dict[tuple[int, str], np.ndarray] = {}


def depth_in(tpl, region: str) -> np.ndarray:
    """Per template vertex, how far inside ``region`` it lies (mm along the mesh's edges
    from the region's edge; 0 outside): a beard rises over its edge, not at a step."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import dijkstra

    key = (id(tpl), region)
    w = weights(tpl)[region]
    with _lock:
        if key not in _depths:
            f, v = tpl.faces, tpl.neutral.astype(np.float64)
            e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
            length = np.linalg.norm(v[e[:, 0]] - v[e[:, 1]], axis=1)
            graph = coo_matrix((length, (e[:, 0], e[:, 1])), shape=(len(v), len(v))).tocsr()
            outside = np.flatnonzero(w <= 0.02)
            d = dijkstra(graph, directed=False, indices=outside, min_only=True)
            _depths[key] = np.where(w > 0.02, d, 0.0)
        return _depths[key]


def grow(beard: Beard, tpl, posed_head: np.ndarray, head_normals: np.ndarray) -> Shell | None:
    """``beard`` on a posed head (its vertices and their normals, numbered as ``tpl``): the
    head's skin triangles in the style's region, moved out by the thickness: rising over the
    first ``8 mm + thickness`` inside the region's edge, thinner on the cheeks and above the
    lip than on the chin, with clumps; coloured like the hair of the head."""
    from photometric.sim.people import SKIN
    from photometric.sim.uvbake import smooth

    region = STYLES[beard.style][1]
    w = weights(tpl)[region]
    inside = w > 0.02
    keep = (tpl.labels == SKIN) & inside[tpl.faces].all(1)
    if not keep.any():
        return None
    ids = np.unique(tpl.faces[keep])
    local = np.full(len(w), -1, np.int64)
    local[ids] = np.arange(len(ids))
    rng = np.random.default_rng(beard.seed)
    # Clumps a centimetre or two across (smooth over the neutral face: a beard's mass, not
    # per-vertex jitter, which the shadow maps would cut into blocks).
    p = tpl.neutral[ids].astype(np.float64)
    k = rng.uniform(0, 2 * np.pi, 4)
    clumps = 1.0 + 0.12 * (np.sin(0.33 * p[:, 0] + k[0]) * np.sin(0.29 * p[:, 1] + k[1])
                           + 0.6 * np.sin(0.71 * p[:, 0] - 0.52 * p[:, 1] + k[2]))
    rise = smooth_edge(depth_in(tpl, region)[ids] / (8.0 + beard.thickness))
    below = weights(tpl)["lip_y"][ids]
    profile = 0.55 + 0.45 * smooth((-8.0 - below) / 20.0)  # the chin's full, the cheeks less
    lift = beard.thickness * rise * profile * clumps
    verts = posed_head[ids] + head_normals[ids] * lift[:, None]
    base = np.asarray(beard.colour) * (1 - beard.grey) + GREY_HAIR * beard.grey
    albedo = np.broadcast_to(base, (len(ids), 3))
    return Shell(verts, local[tpl.faces[keep]], np.clip(albedo, 0, 1).astype(np.float32),
                 p.astype(np.float32), beard.seed)


def texture(coords: np.ndarray, seed: int) -> np.ndarray:
    """The beard's strands (P,) as a multiplier of its colour at places ``coords`` (P, 3) on
    the neutral face: streaks a millimetre or two apart running down and a little out,
    wavering, darker deep between clumps (as :func:`photometric.sim.hair.albedo`)."""
    rng = np.random.default_rng(seed + 1)
    x, y = coords[:, 0].astype(np.float64), coords[:, 1].astype(np.float64)
    k = rng.uniform(0, 2 * np.pi, 4)
    across = x + 0.25 * np.abs(x) * np.tanh(-y / 40.0) + 1.5 * np.sin(y * 0.15 + k[0])
    streaks = (np.sin(across * 2.1 + k[1]) + 0.7 * np.sin(across * 3.7 + k[2])
               + 0.5 * np.sin(across * 1.1 - y * 0.2 + k[3]))
    return (0.82 + 0.12 * streaks).astype(np.float32)


def smooth_edge(t: np.ndarray) -> np.ndarray:
    """A smooth rise from 0 (``t`` <= 0) to 1 (``t`` >= 1)."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def head_normals(body) -> np.ndarray:
    """The posed head's vertex normals (outward), numbered as the template."""
    n = raster.vertex_normals(body.vertices, body.bust.faces)
    return n[body.bust.head]
