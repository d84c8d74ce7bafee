"""Every face in a photo, small or large, with its Face Mesh landmarks: what ``booth predict``
crops.

Face Mesh's own detector is MediaPipe's short-range one (faces within about 2 m filling much
of the frame): on a group photo it finds nothing. So faces are first found with MediaPipe's
full-range detector (``face_detection``, ``model_selection=1``, shipped in the same wheel),
which looks at a 192×192 copy of what it is given: a face of 100 pixels in a 3000-pixel photo
is 6 pixels there. It runs on the whole photo and on overlapping tiles of 1024, 2048, ...
pixels (a face is whole in some tile of each size a quarter larger than it; "slicing aided
inference", Akyon et al. 2022), and boxes found twice are merged (non-maximum suppression).
Each face is then cut out with room round it, scaled so that it fills Face Mesh's view, and
Face Mesh gives its 478 landmarks, mapped back to the photo's pixels. :func:`segment` is
MediaPipe's selfie segmentation, trained on real people: where a person is.
"""

from __future__ import annotations

import threading

import numpy as np

from learning.facemesh import MAX_FACES, NoFaceError, detect_all, native_stderr, rgb8
from learning.preprocess import Crop

TILE = 1024  # the smallest tile; each next size doubles it, up to the whole photo
OVERLAP = 0.25  # of a tile, shared with its neighbour
MIN_SCORE = 0.5  # the full-range detector's (Face Mesh's own check follows)
SAME_FACE_IOU = 0.3  # boxes overlapping more than this are one face
VIEW = 384  # pixels of the square Face Mesh is shown each face in
ROOM = 2.2  # that square's side, in face-box widths
_local = threading.local()


def segment(rgb: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1]: where MediaPipe's selfie segmentation (general model, shipped
    in the wheel) sees a person in an 8-bit RGB image."""
    seg = getattr(_local, "segmenter", None)
    if seg is None:
        with native_stderr():
            import mediapipe as mp

            seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
        _local.segmenter = seg
    with native_stderr():
        out = seg.process(np.ascontiguousarray(rgb8(rgb))).segmentation_mask
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def _detector():
    det = getattr(_local, "detector", None)
    if det is None:
        with native_stderr():
            import mediapipe as mp

            det = mp.solutions.face_detection.FaceDetection(
                model_selection=1, min_detection_confidence=MIN_SCORE)
        _local.detector = det
    return det


def _windows(h: int, w: int) -> list[tuple[int, int, int]]:
    """(x0, y0, side) of the whole photo's square hull and the tiles of each size below it."""
    out = []
    tile = TILE
    while tile < max(h, w):
        step = int(tile * (1 - OVERLAP))
        ys = sorted({min(y, max(0, h - tile)) for y in range(0, max(1, h - tile) + step, step)})
        xs = sorted({min(x, max(0, w - tile)) for x in range(0, max(1, w - tile) + step, step)})
        out += [(x, y, tile) for y in ys for x in xs]
        tile *= 2
    out.append((0, 0, max(h, w)))
    return out


def boxes(rgb: np.ndarray) -> list[tuple[float, float, float, float, float]]:
    """Faces as (score, x0, y0, x1, y1) in pixels, best first, each face once."""
    h, w = rgb.shape[:2]
    found = []
    for x0, y0, side in _windows(h, w):
        view = np.ascontiguousarray(rgb[y0:y0 + side, x0:x0 + side])
        vh, vw = view.shape[:2]
        with native_stderr():
            result = _detector().process(view)
        for d in result.detections or []:
            b = d.location_data.relative_bounding_box
            bx, by = x0 + b.xmin * vw, y0 + b.ymin * vh
            found.append((float(d.score[0]), bx, by, bx + b.width * vw, by + b.height * vh))
    found.sort(key=lambda f: -f[0])
    kept: list[tuple[float, float, float, float, float]] = []
    for f in found:
        if all(_iou(f[1:], k[1:]) <= SAME_FACE_IOU for k in kept):
            kept.append(f)
    return kept


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _mesh_in(rgb: np.ndarray, box) -> np.ndarray | None:
    """Face Mesh's landmarks (478, 3) of the face in ``box``, in photo pixels; None if it
    finds none there."""
    _, x0, y0, x1, y1 = box
    side = int(np.ceil(ROOM * max(x1 - x0, y1 - y0)))
    crop = Crop(int(round((x0 + x1 - side) / 2)), int(round((y0 + y1 - side) / 2)), side, VIEW)
    # The square around the face at VIEW pixels (area-averaged down; black past the photo).
    view = np.clip(np.rint(crop.image(rgb)), 0, 255).astype(np.uint8)
    try:
        faces = detect_all(view, MAX_FACES)
    except NoFaceError:
        return None
    # The face nearest the view's centre is the one the box found.
    centre = [np.hypot(*(f[:, :2].mean(axis=0) - VIEW / 2)) for f in faces]
    pts = faces[int(np.argmin(centre))] / crop.scale
    pts[:, 0] += crop.x0
    pts[:, 1] += crop.y0
    return pts


def find_faces(image: np.ndarray, max_faces: int = 1) -> list[np.ndarray]:
    """Landmarks (478, 3) in pixels of up to ``max_faces`` faces, largest first; NoFaceError
    when there is none."""
    rgb = rgb8(image)
    faces = []
    for box in boxes(rgb):
        pts = _mesh_in(rgb, box)
        if pts is not None and not any(_iou(_box(pts), _box(f)) > SAME_FACE_IOU for f in faces):
            faces.append(pts)
    if not faces:
        raise NoFaceError("no face found (MediaPipe's full-range face detector and Face Mesh)")
    faces.sort(key=lambda f: -float(np.ptp(f[:, 0]) * np.ptp(f[:, 1])))
    return faces[:max(1, max_faces)]


def _box(pts: np.ndarray) -> tuple[float, float, float, float]:
    return (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()),
            float(pts[:, 1].max()))
