"""Facial regions of a face crop, from its Face Mesh landmarks: where evaluation scores the
prediction part by part (eyes, brows, nose, mouth, cheeks, forehead, the rest).

The landmarks of each part (Face Mesh's connection sets: face oval, eyebrows, eyes, irises,
nose, lips) are kept in ``data/parts.csv``, written once from mediapipe's
``face_mesh_connections`` (``tests/learning/test_regions.py`` checks it still matches), so
that the evaluation path imports no MediaPipe. Eyes, brows, nose and mouth are the convex
hulls of their parts (brows widened by a twentieth of the face's width: their landmarks trace
a thin line); the forehead is the face oval above the brows, the cheeks the oval between the
eyes and the mouth's lower edge, beside the nose and mouth; the rest (chin, jaw, temples) is
``other``.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import cv2
import numpy as np

REGIONS = ("eyes", "brows", "nose", "mouth", "cheeks", "forehead", "other")


@cache
def parts() -> dict[str, np.ndarray]:
    """Part name -> its landmark indices."""
    ref = resources.files("learning") / "data" / "parts.csv"
    out: dict[str, list[int]] = {}
    with resources.as_file(ref) as path, open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            out.setdefault(row["part"], []).append(int(row["landmark"]))
    return {k: np.asarray(v, np.int64) for k, v in out.items()}


def _hull(mask: np.ndarray, pts: np.ndarray) -> None:
    hull = cv2.convexHull(np.round(pts[:, :2] - 0.5).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)


def region_masks(landmarks: np.ndarray, size: int) -> dict[str, np.ndarray]:
    """Region name (``REGIONS``) -> (size, size) bool, disjoint, for landmarks in crop pixels;
    together they cover the face oval."""
    p = parts()
    lm = np.asarray(landmarks, np.float64)

    def hull(*names: str) -> np.ndarray:
        m = np.zeros((size, size), np.uint8)
        for n in names:
            _hull(m, lm[p[n]])
        return m.astype(bool)

    oval = hull("face")
    eyes = hull("left_eye", "right_eye")
    face_w = float(np.ptp(lm[p["face"], 0]))
    k = max(1, int(round(face_w / 20)))
    brows = cv2.dilate(hull("left_eyebrow", "right_eyebrow").astype(np.uint8),
                       np.ones((k, k), np.uint8)).astype(bool)
    nose = hull("nose")
    mouth = hull("lips")
    rows = np.arange(size)[:, None]
    cols = np.arange(size)[None, :]
    brow_top = lm[np.concatenate([p["left_eyebrow"], p["right_eyebrow"]]), 1].min()
    eye_low = lm[np.concatenate([p["left_eye"], p["right_eye"]]), 1].max()
    mouth_low = lm[p["lips"], 1].max()
    centre_l = min(lm[p["nose"], 0].min(), lm[p["lips"], 0].min())
    centre_r = max(lm[p["nose"], 0].max(), lm[p["lips"], 0].max())
    out = {"eyes": eyes, "brows": brows & ~eyes}
    taken = out["eyes"] | out["brows"]
    out["nose"] = nose & ~taken
    taken |= out["nose"]
    out["mouth"] = mouth & ~taken
    taken |= out["mouth"]
    out["forehead"] = oval & (rows < brow_top) & ~taken
    taken |= out["forehead"]
    side = (cols < centre_l) | (cols > centre_r)
    out["cheeks"] = oval & (rows > eye_low) & (rows <= mouth_low) & side & ~taken
    taken |= out["cheeks"]
    out["other"] = oval & ~taken
    return {name: out[name] for name in REGIONS}
