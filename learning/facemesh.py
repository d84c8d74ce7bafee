"""MediaPipe Face Mesh landmarks of a portrait: 478 points in pixels, with depth.

mediapipe 0.10.21's ``solutions.face_mesh`` ships its model files inside the wheel, so this
runs offline. Static-image mode with refined landmarks (iris included: 478 points). When the
image holds several faces, the one with the largest landmark bounding box is used: in the booth
that is the subject in front of the camera, not a face on a poster behind them.

A ``FaceMesh`` is not thread-safe and costs ~100 ms to build, so each thread keeps its own.

MediaPipe's native code (TensorFlow Lite, absl) writes start-up lines straight to file
descriptor 2 as each graph starts, in its first ``process()`` and in its own threads ("INFO:
Created TensorFlow Lite XNNPACK delegate", absl's "WARNING: All log messages before
absl::InitializeLog()", ``W0000 ...`` lines); no environment variable turns them off. So every
Face Mesh call runs with descriptor 2 sent to a temporary file (:func:`native_stderr`), and
afterwards what came there goes back: everything else at once, and those lines only where
descriptor 2 is a regular file (a log: the app's, the demo's, a ``2> FILE``), never to a
terminal or a pipe.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys
import tempfile
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

#: A line of MediaPipe's native start-up output: absl's INFO/WARNING lines
#: (``W0000 00:00:1796611441.283855 9314 file.cc:114] ...``), TensorFlow Lite's ``INFO:``
#: lines, absl's notice before its first line. Anything else (a native error, Python's own
#: text from another thread) is passed on.
NATIVE_NOISE = re.compile(r"[IW]\d{4} [\d:.]+ +\d+ [^\]\s]+:\d+\] |INFO: "
                          r"|WARNING: All log messages before absl::InitializeLog\(\)")
_fd2_lock = threading.Lock()  # guards the redirection below, shared by the threads
_fd2_users = 0
_fd2_saved: int | None = None  # the real descriptor 2 while it is redirected
_fd2_sink = None  # the temporary file descriptor 2 goes to meanwhile


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


@contextlib.contextmanager
def native_stderr():
    """Run the body with file descriptor 2 going to a temporary file, then put it back and
    pass on what came: MediaPipe's start-up lines (:data:`NATIVE_NOISE`) only where
    descriptor 2 is a regular file (a log), everything else as it was written. Threads share
    one redirection (the first in makes it, the last out undoes it); an exception in the
    body propagates after the descriptor is restored."""
    global _fd2_users, _fd2_saved, _fd2_sink
    with _fd2_lock:
        if _fd2_users == 0:
            try:
                sys.stderr.flush()  # Python's own text so far goes where it was going
            except (AttributeError, OSError, ValueError):
                pass
            saved = sink = None
            try:
                sink = tempfile.TemporaryFile()
                saved = os.dup(2)
                os.dup2(sink.fileno(), 2)
                _fd2_saved, _fd2_sink = saved, sink
            except OSError:  # no descriptor 2, or no temporary file: the lines go through
                if saved is not None:
                    os.close(saved)
                if sink is not None:
                    sink.close()
        _fd2_users += 1
    try:
        yield
    finally:
        with _fd2_lock:
            _fd2_users -= 1
            if _fd2_users == 0 and _fd2_saved is not None:
                saved, sink = _fd2_saved, _fd2_sink
                _fd2_saved = _fd2_sink = None
                try:
                    sys.stderr.flush()  # what Python wrote meanwhile is in the file too
                except (AttributeError, OSError, ValueError):
                    pass
                os.dup2(saved, 2)
                os.close(saved)
                with sink:
                    sink.seek(0)
                    _pass_on(sink.read())


def _pass_on(data: bytes) -> None:
    """Write what descriptor 2 got during :func:`native_stderr` to descriptor 2 again, less
    MediaPipe's start-up lines unless it is a regular file."""
    if not data:
        return
    try:
        to_log = stat.S_ISREG(os.fstat(2).st_mode)
    except OSError:
        return
    lines = data.splitlines(keepends=True)
    if not to_log:
        lines = [ln for ln in lines if not NATIVE_NOISE.match(ln.decode("utf-8", "replace"))]
    out = b"".join(lines)
    try:
        while out:
            out = out[os.write(2, out):]
    except OSError:
        pass


def _mesh():
    mesh = getattr(_local, "mesh", None)
    if mesh is None:
        with native_stderr():
            import mediapipe as mp

            mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=True, refine_landmarks=True, max_num_faces=MAX_FACES,
                min_detection_confidence=MIN_DETECTION)
        _local.mesh = mesh
    return mesh


def _faces(rgb: np.ndarray):
    """Face Mesh's faces in ``rgb``; its native lines kept off the terminal: a graph logs as
    it starts, from its own threads, and it starts when it is made, so the one redirection
    spans making it and its first ``process()``, which returns only once the graph has
    opened (a gap between the two let the XNNPACK line through on a loaded machine)."""
    with native_stderr():
        return _mesh().process(rgb).multi_face_landmarks


def rgb8(image: np.ndarray) -> np.ndarray:
    """An RGB (or grey) image of any depth as contiguous 8-bit RGB, what Face Mesh takes."""
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise InputError(f"expected an RGB image (H, W, 3), got shape {image.shape}")
    return np.ascontiguousarray(imageio.to_uint8(image[..., :3]))


#: What a NoFaceError suggests by default: the booth's capture, lit by its ring flash.
BOOTH_HINT = "is the subject facing the camera and lit by the ring flash?"


def detect(image: np.ndarray, hint: str = BOOTH_HINT) -> Landmarks:
    """Landmarks of the largest face in an RGB image (uint8, uint16 or float in [0, 1]);
    NoFaceError with ``hint`` (what to check) when there is none."""
    rgb = rgb8(image)
    h, w = rgb.shape[:2]
    found = _faces(rgb)
    if not found:
        raise NoFaceError(f"no face found (Face Mesh): {hint}")
    faces = [np.array([(p.x * w, p.y * h, p.z * w) for p in f.landmark], np.float32)
             for f in found]
    areas = [np.ptp(f[:, 0]) * np.ptp(f[:, 1]) for f in faces]
    return Landmarks(faces[int(np.argmax(areas))], len(faces))


def detect_all(image: np.ndarray, max_faces: int = 1) -> list[np.ndarray]:
    """Landmarks (478, 3) of up to ``max_faces`` faces (at most ``MAX_FACES``), largest
    first; NoFaceError when there is none."""
    rgb = rgb8(image)
    h, w = rgb.shape[:2]
    found = _faces(rgb)
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
