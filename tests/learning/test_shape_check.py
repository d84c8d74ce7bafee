"""The real-photo shape check: Face Mesh's own 3D mesh as a coarse reference, which must tell
a face's true normals from a flat map and an ellipsoid before it can judge a network."""

from __future__ import annotations

import numpy as np
import pytest

from learning import shape_check as sc


def test_true_normals_score_far_better_than_the_trivial_maps(face_capture):
    imgs, surf, lm = face_capture
    s = sc.score(surf.normals, surf.mask, lm)
    assert s.pixels > 5000
    assert s.prediction < 20.0  # the mesh is coarse, not wrong
    assert s.prediction < s.ellipsoid - 5.0 < s.flat - 10.0
    # a flat prediction scores exactly the flat predictor
    flat = np.zeros_like(surf.normals)
    flat[..., 2] = 1.0
    assert sc.score(flat, surf.mask, lm).prediction == pytest.approx(s.flat, abs=1e-3)


def test_the_mesh_faces_the_camera_and_turns_away_at_the_sides(face_capture):
    _, surf, lm = face_capture
    n, mask = sc.mesh_normals(lm, surf.mask.shape)
    assert (n[mask][:, 2] > 0).all()
    left, right = lm[234], lm[454]  # the face's edges at the cheekbones (image left, right)
    near = lambda p, dx: n[int(p[1]), int(p[0] + dx)]  # noqa: E731
    assert near(left, 4)[0] < -0.3 and near(right, -4)[0] > 0.3


def test_the_triangle_table_is_face_mesh_s():
    """data/triangles.csv: the triangles of Face Mesh's tessellation, as mediapipe has it."""
    import collections

    from mediapipe.python.solutions import face_mesh_connections as c

    edges = {tuple(sorted(e)) for e in c.FACEMESH_TESSELATION}
    nb = collections.defaultdict(set)
    for a, b in edges:
        nb[a].add(b)
        nb[b].add(a)
    tris = sorted({tuple(sorted((a, b, k))) for a, b in edges for k in nb[a] & nb[b]})
    assert [tuple(t) for t in sc.triangles().tolist()] == tris
    # a disc's faces by Euler's formula, less at most one three-edge cycle that is no face
    assert abs(len(tris) - (1 - len(nb) + len(edges))) <= 1
