"""A coarse check of a predicted normal map on a real photo, where no measured normals exist.

Face Mesh estimates each of its 478 landmarks in 3D (x, y in pixels, z in pixels with the same
scale, smaller nearer the camera). Its own triangles, shaded flat, give a coarse normal map of
the face: an estimate independent of the network (another model, trained on other data), right
in its large shapes (the forehead's curve, the nose's sides, the cheeks turning away, the jaw),
blind to anything finer than a triangle. A prediction is compared with it over the face oval
after both are smoothed to the mesh's scale, beside two trivial predictors: ``flat`` (every
normal toward the camera) and ``ellipsoid`` (a half-ellipsoid over the oval's box). A network
that has learnt only a mean face can beat ``flat`` and still not ``ellipsoid``; one that sees
the face's shape beats both.

Camera space as everywhere here: x right, y up, z toward the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import cv2
import numpy as np

#: Smoothing of both maps before they are compared, as a share of the face's width: the
#: mesh's triangles are about this size on the cheeks.
SMOOTH = 0.04


@cache
def triangles() -> np.ndarray:
    """(854, 3) landmark indices of Face Mesh's triangles (``data/triangles.csv``: the
    triangles of its tessellation's edges, written once from mediapipe's
    ``FACEMESH_TESSELATION``; ``tests/learning/test_shape_check.py`` checks they still
    match), so that this module imports no MediaPipe."""
    ref = resources.files("learning") / "data" / "triangles.csv"
    with resources.as_file(ref) as path:
        return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.int64)


def mesh_normals(landmarks: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) normals of Face Mesh's triangles, flat-shaded, nearer triangles drawn over
    farther ones (the far cheek of a turned face is hidden as in the photo), and the (H, W)
    bool mask they cover."""
    pts = np.asarray(landmarks, np.float64)
    tri = triangles()
    # camera space: y up, z toward the camera (MediaPipe's z grows away from it)
    p = np.stack([pts[:, 0], -pts[:, 1], -pts[:, 2]], axis=1)
    n = np.cross(p[tri[:, 1]] - p[tri[:, 0]], p[tri[:, 2]] - p[tri[:, 0]])
    n *= np.where(n[:, 2:] < 0, -1.0, 1.0)  # each toward the camera
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    h, w = shape
    ids = np.full((h, w), -1, np.int32)
    # the painter's algorithm: farthest first (MediaPipe's z: larger is farther)
    for k in np.argsort(-pts[tri, 2].mean(axis=1)):
        cv2.fillConvexPoly(ids, np.round(pts[tri[k], :2] - 0.5).astype(np.int32), int(k))
    mask = ids >= 0
    out = np.zeros((h, w, 3), np.float32)
    out[mask] = n[ids[mask]]
    return out, mask


def oval_mask(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    from learning.regions import parts

    order = _oval_order(parts()["face"], landmarks)
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(landmarks[order, :2] - 0.5).astype(np.int32)], 1)
    return m.astype(bool)


def _oval_order(ids: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The oval's landmarks in order round their centre (a closed polygon)."""
    xy = landmarks[ids, :2]
    c = xy.mean(axis=0)
    return ids[np.argsort(np.arctan2(xy[:, 1] - c[1], xy[:, 0] - c[0]))]


def ellipsoid(mask: np.ndarray) -> np.ndarray:
    """A half-ellipsoid's normals over ``mask``'s bounding box (depth half its width)."""
    ys, xs = np.nonzero(mask)
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    ax, ay = max((xs.max() - xs.min()) / 2, 1), max((ys.max() - ys.min()) / 2, 1)
    az = ax
    yy, xx = np.mgrid[: mask.shape[0], : mask.shape[1]].astype(np.float64)
    u, v = (xx - cx) / ax, -(yy - cy) / ay
    w = np.sqrt(np.clip(1 - u * u - v * v, 0.02, 1))
    n = np.stack([u / ax, v / ay, w / az], axis=-1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.where(mask[..., None], n, 0).astype(np.float32)


def _smooth(n: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """Normals averaged over a Gaussian window inside ``mask``, unit length again."""
    m = mask.astype(np.float32)
    num = cv2.GaussianBlur(n * m[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(m, (0, 0), sigma)
    out = num / np.maximum(den, 1e-6)[..., None]
    return out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-6)


@dataclass
class ShapeScore:
    """Mean angle (degrees) over the face oval between the mesh's normals and each map."""

    prediction: float
    flat: float
    ellipsoid: float
    pixels: int


def score(prediction: np.ndarray, pred_mask: np.ndarray, landmarks: np.ndarray) -> ShapeScore:
    """A prediction (H, W, 3) of a photo against the landmarks' mesh, over the face oval where
    the prediction holds, both smoothed to the mesh's scale."""
    shape = prediction.shape[:2]
    ref, covered = mesh_normals(landmarks, shape)
    region = oval_mask(landmarks, shape) & covered & pred_mask
    if not region.any():
        raise ValueError("the prediction does not cover the face")
    sigma = max(1.0, SMOOTH * float(np.ptp(landmarks[:, 0])))
    ref = _smooth(ref, covered, sigma)

    def mean_angle(n: np.ndarray, where: np.ndarray) -> float:
        n = _smooth(n.astype(np.float32), where, sigma)
        cos = np.clip((n[region] * ref[region]).sum(-1), -1, 1)
        return float(np.degrees(np.arccos(cos)).mean())

    flat = np.zeros_like(prediction, np.float32)
    flat[..., 2] = 1.0
    oval = oval_mask(landmarks, shape)
    return ShapeScore(mean_angle(prediction, pred_mask), mean_angle(flat, np.ones(shape, bool)),
                      mean_angle(ellipsoid(oval), oval), int(region.sum()))
