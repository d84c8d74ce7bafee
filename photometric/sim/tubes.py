"""Tubes: meshes of an elliptical section swept along a path, for the thin rigid things a
person wears or has (a glasses frame's rims and temples, the teeth's arches).

Written by hand: a sweep is twenty lines with numpy, and the truth needs the mesh itself
(smooth vertex normals from its triangles), not a library's rendering of it.
"""

from __future__ import annotations

import numpy as np


def tube(path: np.ndarray, across, depth, closed: bool, up, k: int = 10
         ) -> tuple[np.ndarray, np.ndarray]:
    """(vertices, triangles) of a tube along ``path`` (N, 3): its section an ellipse with
    half-axes ``across`` and ``depth`` (mm; one number or one per path point), ``depth``
    along ``up`` (one vector or one per point) made perpendicular to the path, ``k``
    vertices around; triangles wound to face outward."""
    path = np.asarray(path, np.float64)
    n = len(path)
    nxt = np.roll(path, -1, 0) if closed else np.vstack([path[1:], 2 * path[-1] - path[-2]])
    prv = np.roll(path, 1, 0) if closed else np.vstack([2 * path[0] - path[1], path[:-1]])
    t = nxt - prv
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    up = np.broadcast_to(np.asarray(up, np.float64), path.shape)
    w = up - t * np.einsum("ij,ij->i", up, t)[:, None]
    w /= np.linalg.norm(w, axis=1, keepdims=True)
    u = np.cross(t, w)
    across = np.broadcast_to(np.asarray(across, np.float64), (n,))[:, None, None]
    depth = np.broadcast_to(np.asarray(depth, np.float64), (n,))[:, None, None]
    a = np.linspace(0.0, 2 * np.pi, k, endpoint=False)
    ring = (path[:, None, :] + across * np.cos(a)[None, :, None] * u[:, None, :]
            + depth * np.sin(a)[None, :, None] * w[:, None, :])
    i = np.arange(n if closed else n - 1)[:, None]
    j = np.arange(k)[None, :]
    v00, v01 = i * k + j, i * k + (j + 1) % k
    v10, v11 = ((i + 1) % n) * k + j, ((i + 1) % n) * k + (j + 1) % k
    faces = np.concatenate([np.stack([v00, v01, v11], -1).reshape(-1, 3),
                            np.stack([v00, v11, v10], -1).reshape(-1, 3)])
    verts = ring.reshape(-1, 3)
    # Outward: the triangles' normals point away from the path.
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]],
                  verts[faces[:, 2]] - verts[faces[:, 0]])
    centre = path[faces[:, 0] // k]
    if np.median(np.einsum("ij,ij->i", fn, verts[faces[:, 0]] - centre)) < 0:
        faces = faces[:, ::-1]
    return verts, faces.astype(np.int64)


def merge(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Meshes (vertices, triangles) as one."""
    verts, faces, base = [], [], 0
    for v, f in parts:
        verts.append(v)
        faces.append(f + base)
        base += len(v)
    return np.concatenate(verts).astype(np.float64), np.concatenate(faces).astype(np.int64)
