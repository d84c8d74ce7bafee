"""Quality checks of a capture, for the operator to decide on a retake.

The sequencer already refuses photos that cannot be right (black, mostly clipped, lit from the
wrong side). These checks are softer and look at the capture as a whole: the face is found by
Face Mesh in the ring-flash photo; no photo clips the face; the ring-flash photo is not too
dark; each directional photo is brighter on its flash's side; and the subject did not move
between shots (phase correlation of each photo against the ring-flash one, on high-passed
log images so that the change of lighting does not read as motion). After photometric
stereo, many pixels solved around a specular highlight suggest a misaligned polariser.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from photometric.io import imageio

#: Which third of the frame each flash lights more than the ring flash does: rows, columns.
SIDES = {"left": (slice(None), 0), "right": (slice(None), 2), "top": (0, slice(None)),
         "bottom": (2, slice(None))}


@dataclass(frozen=True)
class Limits:
    clipped_fraction: float = 0.01  # of the lit subject at full scale
    dark_level: float = 0.15  # 95th percentile of the lit subject in the ring-flash photo
    # (linear; sRGB 108. A sitter exposed for the skin (median 0.18) with dark hair in the
    # lit subject has its 95th percentile near 0.22-0.3.)
    moved_px: float = 1.5  # shift between shots, at 512 px width (scaled with the image)
    # Of the subject's normals solved around a highlight. Room light the capture does not
    # subtract (no ambient frame) trips the test on a few % of a matte face (3.4 % measured on
    # the simulated booth), a shiny face 13 %: the warning sits between.
    specular_fraction: float = 0.06


@dataclass(frozen=True)
class QcWarning:
    check: str  # face, clipped, dark, side, moved, specular
    channel: str | None
    message: str


def as_float(images: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """uint8/uint16 photos -> float32 in [0, 1] (float photos pass through)."""
    return {k: imageio.to_float(v) for k, v in images.items()}


def grey(img: np.ndarray) -> np.ndarray:
    x = img.mean(axis=-1) if img.ndim == 3 else img
    return x.astype(np.float32, copy=False)


def lit_region(center: np.ndarray) -> np.ndarray:
    """The subject: what the ring flash lights well above the background (a fifth of the
    photo's 99th percentile: its maximum would be the whites of the eyes, which for dark
    skin exposed for the face are several times brighter than the skin)."""
    return center > max(0.05, 0.2 * float(np.percentile(center, 99)))


def face_region(found, shape: tuple[int, int]) -> np.ndarray | None:
    """(H, W) bool: the hull of the face's landmarks (``found``: Face Mesh's Landmarks, an
    (N, 2+) array of pixel positions, or None when the finder gives none)."""
    points = getattr(found, "points", found)
    if points is None:
        return None
    hull = cv2.convexHull(np.round(np.asarray(points)[:, :2]).astype(np.int32))
    out = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(out, hull, 1)
    return out.astype(bool)


def _clipping(ch: str, img: np.ndarray, lit: np.ndarray, face: np.ndarray | None,
              limit: float) -> list[QcWarning]:
    """Clipped pixels of one photo. Where the face is known, the flash is blamed only for a
    clipped face: white hair, a white collar or a glint beside it clip at an exposure that
    is right for the skin, and lowering the flash would darken the face to save them."""
    full = (img >= 0.995).any(axis=-1) if img.ndim == 3 else img >= 0.995
    if face is not None and (face & lit).any():
        on_face = float(full[face & lit].mean())
        if on_face > limit:
            return [QcWarning("clipped", ch, f"{ch}: {100 * on_face:.1f}% of the face is "
                              "clipped: lower the flash power or ISO")]
        off = lit & ~face
        beside = float(full[off].mean()) if off.any() else 0.0
        if beside > limit:
            return [QcWarning("clipped", ch, f"{ch}: {100 * beside:.1f}% of the subject "
                              "beside the face is clipped (white hair or clothes, a glint): "
                              "the face is well exposed; no normals are measured there")]
        return []
    clipped = float(full[lit].mean())
    if clipped > limit:
        return [QcWarning("clipped", ch, f"{ch}: {100 * clipped:.1f}% of the subject is "
                          "clipped: lower the flash power or ISO")]
    return []


def lit_from_side(channel: str, x: np.ndarray, center: np.ndarray) -> bool | None:
    """Is the flash's side of the subject lit more, relative to the ring flash? None when
    there is too little subject to tell. Left and right compare the subject's outer thirds
    of columns; top and bottom the outer thirds of rows of its middle third of columns."""
    lit = lit_region(center)
    if lit.sum() < 100:
        return None
    rows, cols = np.nonzero(lit)
    vals = x[rows, cols] / np.maximum(center[rows, cols], 1e-3)
    if channel in ("left", "right"):
        pos, side = cols, SIDES[channel][1]
    else:
        # Top and bottom: the subject's middle third of columns (head, neck and chest), not
        # the shoulders beside it, whose tops face up and take little of the bottom flash.
        c0, c1 = np.percentile(cols, [33, 67])
        keep = (cols >= c0) & (cols <= c1)
        pos, side, vals = rows[keep], SIDES[channel][0], vals[keep]
    lo, hi = np.percentile(pos, [33, 67])
    thirds = [pos < lo, (pos >= lo) & (pos < hi), pos >= hi]
    return bool(vals[thirds[side]].mean() > vals[thirds[2 - side]].mean())


def _highpass_log(x: np.ndarray) -> np.ndarray:
    g = np.log(x + 0.02)
    return (g - cv2.GaussianBlur(g, (0, 0), 4)).astype(np.float32)


def shift_px(reference: np.ndarray, x: np.ndarray) -> float:
    """How far (pixels) the subject in ``x`` is displaced from ``reference``."""
    win = cv2.createHanningWindow(reference.shape[::-1], cv2.CV_32F)
    (dx, dy), _ = cv2.phaseCorrelate(_highpass_log(reference), _highpass_log(x), win)
    return float(np.hypot(dx, dy))


def assess(images: Mapping[str, np.ndarray], limits: Limits = Limits(),
           find_face=None) -> list[QcWarning]:
    """Warnings for a capture's photos (RGB, uint or float in [0, 1], keyed by channel).

    ``find_face(rgb)`` raises when no face is found and may return its landmarks (pixels),
    so that clipping is judged on the face apart from the rest; by default MediaPipe Face
    Mesh. Pass ``find_face=False`` for subjects that are not faces (the calibration sphere).
    """
    out: list[QcWarning] = []
    images = as_float(images)
    center = grey(images["center"])
    lit = lit_region(center)
    face = None
    if find_face is None:
        from learning.facemesh import detect as find_face
    if find_face:
        try:
            face = face_region(find_face(images["center"]), center.shape)
        except Exception as exc:  # noqa: BLE001 - any failure of the detector is "no face"
            out.append(QcWarning("face", "center", f"face not found: {exc}"))
    for ch, img in images.items():
        x = grey(img)
        if ch != "ambient" and lit.any():
            out += _clipping(ch, img, lit, face, limits.clipped_fraction)
        if ch in SIDES and lit_from_side(ch, x, center) is False:
            out.append(QcWarning("side", ch, f"{ch}: not lit from the {ch}: is that flash cabled "
                               "to the right channel?"))
    if lit.any() and np.percentile(center[lit], 95) < limits.dark_level:
        out.append(QcWarning("dark", "center", "the ring-flash photo is dark: raise the flash "
                           "power or ISO, or open the aperture"))
    limit = limits.moved_px * max(1.0, center.shape[1] / 512)
    for ch in ("left", "right", "top", "bottom"):
        if ch in images:
            d = shift_px(center, grey(images[ch]))
            if d > limit:
                out.append(QcWarning("moved", ch, f"the subject moved {d:.1f} px between the "
                                   f"ring-flash and {ch} photos: retake"))
    return out


def highlights(specular_pixels: int, valid_pixels: int,
               limits: Limits = Limits()) -> list[QcWarning]:
    """A warning when photometric stereo had to leave out many highlights: with the flashes'
    and the lens's polarisers crossed there are next to none, so many suggest one has turned."""
    if valid_pixels <= 0 or specular_pixels <= limits.specular_fraction * valid_pixels:
        return []
    share = 100 * specular_pixels / valid_pixels
    return [QcWarning("specular", None, f"specular highlights on {share:.1f}% of the subject "
                      "(solved without the flash that caused each): check that the flash and "
                      "lens polarisers are crossed at 90°")]


def to_dict(warnings: list[QcWarning]) -> list[dict]:
    return [asdict(w) for w in warnings]
