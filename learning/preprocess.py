"""From a capture to a training sample: a square crop of the sitter and the network's input
channels.

The crop is a square around the landmarks' bounding box, resized to ``size`` (default 512, the
paper's): in the ``face`` framing a quarter of the face's size added on each side (the
paper's crop), in the ``person`` framing enough for the hair, the ears, the neck and the top
of the shoulders (:data:`FRAMINGS`). The same crop is applied to the ring-flash
photo, the normal map (interpolated normals re-normalised) and the mask; where the square
reaches past the photo it is padded and masked out.

Input channels: RGB of the ring-flash photo, then (the paper: landmarks "at corresponding
positions on the face at channel four and five") two landmark channels in one of three
encodings, recorded in the dataset manifest:

- ``points``: each landmark drawn as a small disc at its position; channel 4 the facial part
  it belongs to (``PARTS``, as ``id / len(PARTS)``), channel 5 its depth.
- ``dense``: channel 4 a part label map (face oval filled, parts painted over it, each the
  convex hull of its landmarks), channel 5 the mesh depth interpolated linearly over the
  Delaunay triangles of the landmarks, inside the face oval.
- ``none``: RGB only (the paper's ablation).

Depth is MediaPipe's z (pixels, smaller = nearer the camera), mapped to ``0.5 - z / size`` in
the crop and clipped to [0, 1], so the face's centre plane sits at 0.5 and nearer is brighter;
0 means "no landmark here".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np

from learning.sample import ENCODINGS, PARTS, Sample
from photometric.io import imageio

__all__ = ["ENCODINGS", "FRAMINGS", "PARTS", "Crop", "Sample", "face_crop", "face_oval",
           "landmark_channels", "make_sample"]

#: How much of the sitter a crop shows, as (margin, drop) of :func:`face_crop`: ``face`` the
#: face and a little round it (the paper's crop); ``person`` the head with its hair and
#: ears, the neck and the top of the shoulders, where a relit portrait needs normals too.
FRAMINGS: dict[str, tuple[float, float]] = {"face": (0.25, 0.0), "person": (0.8, 0.35)}


@cache
def part_indices() -> dict[str, np.ndarray]:
    """Landmark indices of each part (Face Mesh's connection sets; 'face' = the oval)."""
    from mediapipe.python.solutions import face_mesh_connections as c

    sets = {"face": c.FACEMESH_FACE_OVAL, "left_eyebrow": c.FACEMESH_LEFT_EYEBROW,
            "right_eyebrow": c.FACEMESH_RIGHT_EYEBROW, "left_eye": c.FACEMESH_LEFT_EYE,
            "right_eye": c.FACEMESH_RIGHT_EYE, "left_iris": c.FACEMESH_LEFT_IRIS,
            "right_iris": c.FACEMESH_RIGHT_IRIS, "nose": c.FACEMESH_NOSE, "lips": c.FACEMESH_LIPS}
    return {k: np.array(sorted({i for e in v for i in e}), np.int64) for k, v in sets.items()}


@cache
def part_of_landmark() -> np.ndarray:
    """(478,) part id (1-based index into PARTS) of each landmark; 1 (face) if in none."""
    ids = np.ones(478, np.int64)
    for pid, name in enumerate(PARTS, start=1):
        if name != "face":
            ids[part_indices()[name]] = pid
    return ids


@cache
def oval_order() -> np.ndarray:
    """The face oval's landmarks in order around the face (a closed polygon)."""
    from mediapipe.python.solutions import face_mesh_connections as c

    nxt = dict(c.FACEMESH_FACE_OVAL)
    start = min(nxt)
    order = [start]
    while nxt[order[-1]] != start:
        order.append(nxt[order[-1]])
    return np.array(order, np.int64)


@dataclass(frozen=True)
class Crop:
    """A square of ``side`` pixels at (x0, y0) in the photo, resized to ``size``."""

    x0: int
    y0: int
    side: int
    size: int

    @property
    def scale(self) -> float:
        return self.size / self.side

    def points(self, landmarks: np.ndarray) -> np.ndarray:
        """Landmarks (x, y, z in photo pixels) -> in the crop's pixels."""
        out = landmarks.astype(np.float32).copy()
        out[:, 0] = (out[:, 0] - self.x0) * self.scale
        out[:, 1] = (out[:, 1] - self.y0) * self.scale
        out[:, 2] *= self.scale
        return out

    def _window(self, img: np.ndarray) -> np.ndarray:
        h, w = img.shape[:2]
        x0, y0, x1, y1 = self.x0, self.y0, self.x0 + self.side, self.y0 + self.side
        pad = ((max(0, -y0), max(0, y1 - h)), (max(0, -x0), max(0, x1 - w)))
        win = img[max(0, y0):min(h, y1), max(0, x0):min(w, x1)]
        if any(p for pair in pad for p in pair):
            win = np.pad(win, pad + ((0, 0),) * (img.ndim - 2))
        return win

    def image(self, img: np.ndarray) -> np.ndarray:
        """Crop and resize (area averaging when shrinking); float32 out."""
        return self._resize(self._window(img).astype(np.float32), img.shape[2:])

    def _resize(self, win: np.ndarray, channels: tuple[int, ...]) -> np.ndarray:
        interp = cv2.INTER_AREA if self.side >= self.size else cv2.INTER_LINEAR
        out = cv2.resize(win, (self.size, self.size), interpolation=interp)
        return out.reshape(self.size, self.size, *channels)

    def normals(self, normals: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crop normals and mask together; resampled normals are re-normalised, and pixels
        that are mostly outside the mask (or whose normals cancel) are masked out."""
        # OpenCV for the per-pixel steps: each 3-4x numpy's speed here (SIMD, no
        # broadcasting temporaries), the same float32 results.
        m = self._window(mask.astype(np.uint8, copy=False))
        n = self._resize(cv2.copyTo(self._window(normals).astype(np.float32, copy=False), m),
                         (3,))  # cv2.copyTo zero-fills outside the mask
        inside = self._resize(m.astype(np.float32), ())  # the fraction of each pixel in it
        length = cv2.sqrt(cv2.transform(cv2.multiply(n, n), np.ones((1, 3), np.float32)))
        keep = (inside >= 0.5) & (length > 0.5 * np.maximum(inside, 1e-6))
        inv = keep.astype(np.float32) / np.maximum(length, 1e-6)
        return cv2.multiply(n, cv2.merge([inv, inv, inv])), keep


    def labels(self, labels: np.ndarray) -> np.ndarray:
        """Crop and resize a label map (each pixel its nearest source pixel's label)."""
        win = self._window(np.ascontiguousarray(labels))
        return cv2.resize(win, (self.size, self.size), interpolation=cv2.INTER_NEAREST)


def face_crop(landmarks: np.ndarray, size: int = 512, framing: str = "face") -> Crop:
    """The square of ``framing`` (:data:`FRAMINGS`: ``margin`` of the face's size on each side
    of the landmarks' box, its centre ``drop`` of the face's size below the box's, toward
    the neck and shoulders).

    Flip-equivariant: the crop of a mirrored photo's mirrored landmarks is the mirror of this
    crop (the side is an integer and the centre is rounded symmetrically)."""
    margin, drop = FRAMINGS[framing]
    x, y = landmarks[:, 0], landmarks[:, 1]
    face = max(np.ptp(x), np.ptp(y))
    cx, cy = (x.min() + x.max()) / 2, (y.min() + y.max()) / 2 + drop * face
    side = int(np.ceil(face * (1 + 2 * margin)))
    side += side % 2  # even, so that the centre is a pixel corner
    return Crop(int(np.round(cx - side / 2)), int(np.round(cy - side / 2)), side, size)


def face_oval(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) uint8: 1 inside the face oval of landmarks in crop pixels."""
    oval = np.zeros((size, size), np.uint8)
    cv2.fillPoly(oval, [np.round(points[oval_order(), :2] - 0.5).astype(np.int32)], 1)
    return oval


def depth_value(z: np.ndarray, size: int) -> np.ndarray:
    return np.clip(0.5 - z / size, 0.0, 1.0)


def landmark_channels(points: np.ndarray, size: int, encoding: str) -> np.ndarray:
    """The two landmark channels (size, size, 2) float32 for landmarks in crop pixels."""
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding: expected one of {ENCODINGS}, got {encoding!r}")
    out = np.zeros((size, size, 2), np.float32)
    if encoding == "none":
        return out[..., :0]
    parts = part_of_landmark()
    depth = depth_value(points[:, 2], size)
    if encoding == "points":
        radius = max(1, round(size / 256))
        label = parts / len(PARTS)
        centres = np.floor(points[:, :2]).astype(int).tolist()
        for i in np.argsort(-points[:, 2]).tolist():  # far first: nearer points end on top
            cv2.circle(out, centres[i], radius, (float(label[i]), float(depth[i])), -1)
        return out
    from scipy.interpolate import LinearNDInterpolator, NearestNDInterpolator

    oval = face_oval(points, size)
    label = oval.astype(np.float32) * (1 / len(PARTS))
    for pid, name in enumerate(PARTS, start=1):
        if name == "face":
            continue
        hull = cv2.convexHull(np.round(points[part_indices()[name], :2] - 0.5).astype(np.int32))
        cv2.fillPoly(label, [hull], pid / len(PARTS))
    label *= oval
    ys, xs = np.nonzero(oval)
    values = LinearNDInterpolator(points[:, :2], depth)(xs + 0.5, ys + 0.5)
    edge = np.isnan(values)  # rasterised oval pixels whose centre is just outside the mesh
    if edge.any():
        values[edge] = NearestNDInterpolator(points[:, :2], depth)(xs[edge] + 0.5,
                                                                    ys[edge] + 0.5)
    dch = np.zeros((size, size), np.float32)
    dch[ys, xs] = values
    return np.stack([label, dch], axis=-1)


def make_sample(ring: np.ndarray, normals: np.ndarray, mask: np.ndarray, landmarks: np.ndarray,
                size: int = 512, encoding: str = "points", framing: str = "face",
                parts: np.ndarray | None = None) -> Sample:
    """Crop a capture (ring-flash photo, its normal map and mask, its landmarks in photo
    pixels, and the parts map where the truth has one) into a sample."""
    crop = face_crop(landmarks, size, framing)
    pts = crop.points(landmarks)
    n, m = crop.normals(normals, mask)
    image = np.clip(crop.image(imageio.to_float(ring)), 0.0, 1.0)
    return Sample(image, landmark_channels(pts, size, encoding), n, m, pts, encoding,
                  None if parts is None else crop.labels(parts))
