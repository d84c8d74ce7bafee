"""MediaPipe Face Mesh landmarks of a portrait: 478 points in pixels, with depth.

mediapipe 0.10.21's ``solutions.face_mesh`` ships its model files inside the wheel, so this
runs offline. Static-image mode with refined landmarks (iris included: 478 points). When the
image holds several faces, the one with the largest landmark bounding box is used: in the booth
that is the subject in front of the camera, not a face on a poster behind them.

A ``FaceMesh`` is not thread-safe and costs ~100 ms to build, so each thread keeps its own.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from photometric.errors import InputError
from photometric.io import imageio

N_LANDMARKS = 478
MAX_FACES = 4
#: Face Mesh's own detector scores a plain white sphere 0.57 and real and simulated faces
#: 0.87-0.95 (checked on skimage's astronaut and synthetic faces 0-5); its default of 0.5
#: would find a "face" on the calibration sphere.
MIN_DETECTION = 0.75
_local = threading.local()


class NoFaceError(InputError):
    """Face Mesh found no face in the image."""


@dataclass
class Landmarks:
    """``points`` (478, 3): x, y in pixels (origin top-left), z in pixels (smaller = nearer
    the camera; MediaPipe's scale, relative to the face's centre)."""

    points: np.ndarray
    faces_found: int

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        x, y = self.points[:, 0], self.points[:, 1]
        return float(x.min()), float(y.min()), float(x.max()), float(y.max())


def _mesh():
    mesh = getattr(_local, "mesh", None)
    if mesh is None:
        import mediapipe as mp

        mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=True, refine_landmarks=True, max_num_faces=MAX_FACES,
            min_detection_confidence=MIN_DETECTION)
        _local.mesh = mesh
    return mesh


def rgb8(image: np.ndarray) -> np.ndarray:
    """An RGB (or grey) image of any depth as contiguous 8-bit RGB, what Face Mesh takes."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    return np.ascontiguousarray(imageio.to_uint8(image[..., :3]))


def detect(image: np.ndarray) -> Landmarks:
    """Landmarks of the largest face in an RGB image (uint8, uint16 or float in [0, 1])."""
    rgb = rgb8(image)
    h, w = rgb.shape[:2]
    found = _mesh().process(rgb).multi_face_landmarks
    if not found:
        raise NoFaceError("no face found (Face Mesh): is the subject facing the camera and "
                          "lit by the ring flash?")
    faces = [np.array([(p.x * w, p.y * h, p.z * w) for p in f.landmark], np.float32)
             for f in found]
    areas = [np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]
    return Landmarks(faces[int(np.argmax(areas))], len(faces))


def detect_all(image: np.ndarray, max_faces: int = 1) -> list[np.ndarray]:
    """Landmarks (478, 3) of up to ``max_faces`` faces (at most ``MAX_FACES``), largest
    first; NoFaceError when there is none."""
    rgb = rgb8(image)
    h, w = rgb.shape[:2]
    found = _mesh().process(rgb).multi_face_landmarks
    if not found:
        raise NoFaceError("no face found (Face Mesh)")
    faces = [np.array([(p.x * w, p.y * h, p.z * w) for p in f.landmark], np.float32)
             for f in found]
    faces.sort(key=lambda f: -float(np.ptp(f[:, 0]) * np.ptp(f[:, 1])))
    return faces[:max(1, max_faces)]


#: How ``landmarks.json`` (``booth landmarks``, a capture's derived/) states its coordinates.
CONVENTION = ("x, y in pixels from the top-left corner; z in pixels, smaller = nearer the "
              "camera (MediaPipe Face Mesh, refined: 478 points)")

def landmarks_doc(image: str, shape: tuple[int, ...], lm) -> dict:
    """The JSON form of Face Mesh landmarks (``booth landmarks``, a capture's derived/)."""
    return {"image": image, "width": shape[1], "height": shape[0],
            "faces_found": lm.faces_found, "convention": CONVENTION,
            "landmarks": [[round(float(v), 3) for v in p] for p in lm.points]}
