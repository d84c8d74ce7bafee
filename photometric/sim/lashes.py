"""Eyelashes as geometry: a fringe along each upper lid's margin, curving forward and up.

The roots are the lid's own margin (the skin's vertices on the eye socket's edge, above the
eye), so the lashes follow the lids as they blink and squint; each lash row is a ribbon from
the roots to the tips, longest in the middle of the lid. At a booth's resolution (about
0.6 mm a pixel) a lash is thinner than a pixel: the ribbon stands for the fringe they make
together, dark and a pixel or two deep in the picture, with normals of its own in the truth
(part ``LASHES``). Written by hand: anny has no lashes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

_lock = threading.Lock()
_margins: dict[int, list[np.ndarray]] = {}


def margins(tpl) -> list[np.ndarray]:
    """Per eye (image-left, image-right), the template vertices along the upper lid's
    margin, from the inner corner to the outer: skin vertices on the eye socket's edge,
    above the eye's centre."""
    from photometric.sim.people import CAVITY, SKIN

    with _lock:
        if id(tpl) not in _margins:
            cav = np.unique(tpl.faces[tpl.labels == CAVITY])
            skin = np.unique(tpl.faces[tpl.labels == SKIN])
            edge = np.intersect1d(cav, skin)
            v = tpl.neutral
            out = []
            for k in range(2):
                c = tpl.eyes[k]
                near = edge[(np.linalg.norm(v[edge] - c, axis=1) < 30.0) & (v[edge, 1] > c[1])]
                inward = -np.sign(c[0])  # toward the nose
                out.append(near[np.argsort(-inward * v[near, 0])])
            _margins[id(tpl)] = out
        return _margins[id(tpl)]


@dataclass(frozen=True)
class Fringe:
    """Both eyes' lashes, posed: vertices, triangles and each vertex's albedo."""

    vertices: np.ndarray
    faces: np.ndarray
    albedo: np.ndarray


def grow(tpl, rest_head: np.ndarray, posed_head: np.ndarray, colour, length: float = 8.0,
         steps: int = 4) -> Fringe:
    """The lashes of a head (its rest and posed vertices, numbered as ``tpl``): from the
    upper lids' margins, ``length`` mm in the middle and less toward the corners, pointing
    forward, out from the eye and up (in the head's frame, turned with it), in ``colour``
    darkened (lashes are darker than the hair)."""
    from photometric.sim import hair

    move = hair.rigid(rest_head, posed_head)
    turn = lambda d: move(d) - move(np.zeros((1, 3)))  # noqa: E731
    verts, faces = [], []
    for k, ids in enumerate(margins(tpl)):
        eye = rest_head[tpl.eye_ids[k]].mean(0)
        # Roots between the margin's vertices too (a smoother row), rest and posed.
        t = np.linspace(0.0, 1.0, (len(ids) - 1) * steps + 1)
        s = np.linspace(0.0, 1.0, len(ids))
        rest = np.stack([np.interp(t, s, rest_head[ids, j]) for j in range(3)], 1)
        root = np.stack([np.interp(t, s, posed_head[ids, j]) for j in range(3)], 1)
        out = (rest - eye) * [1.0, 1.0, 0.0]
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
        d = 0.3 * out + [0.0, 0.12, 0.9]
        d /= np.linalg.norm(d, axis=1, keepdims=True)
        reach = length * (0.45 + 0.55 * np.sin(np.pi * t) ** 0.7)
        tip = root + turn(d) * reach[:, None]
        base = sum(len(x) for x in verts)
        n = len(t)
        verts.append(np.concatenate([root, tip]))
        i = np.arange(n - 1)
        faces.append(np.concatenate([np.stack([i, i + n, i + 1], 1),
                                     np.stack([i + 1, i + n, i + n + 1], 1)]) + base)
    v = np.concatenate(verts)
    albedo = np.broadcast_to(np.asarray(colour, np.float32) * 0.5, (len(v), 3)).copy()
    return Fringe(v, np.concatenate(faces).astype(np.int64), albedo)
