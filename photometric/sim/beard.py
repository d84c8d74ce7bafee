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
    ``moustache`` (above the upper lip). Once per template."""
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
                                 "goatee": np.maximum(chin, moustache)}
        return _weights[id(tpl)]


@dataclass(frozen=True)
class Shell:
    """A posed beard: vertices, triangles and each vertex's albedo."""

    vertices: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray


def grow(beard: Beard, tpl, posed_head: np.ndarray, head_normals: np.ndarray) -> Shell | None:
    """``beard`` on a posed head (its vertices and their normals, numbered as ``tpl``): the
    head's skin triangles in the style's region, moved out by the thickness times the
    region's weight (with clumps), coloured like the hair of the head."""
    from photometric.sim.people import SKIN

    w = weights(tpl)[STYLES[beard.style][1]]
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
    lift = beard.thickness * smooth_edge(w[ids]) * clumps
    verts = posed_head[ids] + head_normals[ids] * lift[:, None]
    base = np.asarray(beard.colour) * (1 - beard.grey) + np.array([0.52, 0.51, 0.49]) * beard.grey
    albedo = base[None, :] * rng.uniform(0.75, 1.2, (len(ids), 1))
    return Shell(verts, local[tpl.faces[keep]], np.clip(albedo, 0, 1).astype(np.float32))


def smooth_edge(w: np.ndarray) -> np.ndarray:
    """A beard's height from its region's weight: rising from the skin over the weight's
    first half, then full (a beard's edge is short, its mass even)."""
    t = np.clip(w / 0.5, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def head_normals(body) -> np.ndarray:
    """The posed head's vertex normals (outward), numbered as the template."""
    n = raster.vertex_normals(body.vertices, body.bust.faces)
    return n[body.bust.head]
