"""Synthetic subjects with exact ground truth, and the simulated booth's light rig.

A subject is a :class:`~photometric.render.Surface`; its normals *are* the ground truth
because every simulated photo is rendered from them. Two kinds:

* a white matte sphere, for calibration;
* faces: a real portrait's pixels (``skimage.data.astronaut()``, shipped with
  scikit-image) as albedo over a face-shaped height field built from MediaPipe Face Mesh
  landmarks of that same portrait (``data/astronaut_face_landmarks.csv``, made once, see
  ``data/README.md``), so the relief lines up with the eyes, nose and mouth in the albedo
  and the ring-flash render is a face that a face detector finds. A seed varies pose,
  scale, mirror, skin tone and relief, so many different subjects can be made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from photometric.lights import CHANNELS, DirectionalLight, Light, LightRig, PointLight, ring_flash
from photometric.render import Camera, Surface, render


def _direction(azimuth_deg: float, off_axis_deg: float) -> np.ndarray:
    """Unit vector ``off_axis_deg`` from +z, toward image azimuth (0 = right, 90 = up)."""
    a, t = np.radians(azimuth_deg), np.radians(off_axis_deg)
    return np.array([np.sin(t) * np.cos(a), np.sin(t) * np.sin(a), np.cos(t)])


#: The simulated booth's true flashes: near the nominal 30° rig but deliberately a little off
#: in angle and power, the way a real rig is, so that calibration has something to recover.
SIM_RIG = LightRig(
    {
        "center": np.array([0.0, 0.0, 1.0]),
        "left": _direction(181.0, 31.0),
        "right": _direction(-1.5, 29.0),
        "top": _direction(91.0, 32.0),
        "bottom": _direction(268.0, 28.5),
    },
    {"center": 1.0, "left": 0.92, "right": 1.06, "top": 1.0, "bottom": 0.95},
)


@dataclass(frozen=True)
class Booth:
    """Where the simulated flashes are: a rig of directions and powers, and their distance.

    ``distance=None`` makes every flash a distant light (the simplified model is then exact);
    a distance in mm makes them point lights and the ring flash a ring of ``ring_radius`` mm.
    """

    rig: LightRig = field(default_factory=lambda: SIM_RIG)
    distance: float | None = None
    ring_radius: float = 60.0
    ambient: tuple[float, float, float] = (0.04, 0.04, 0.035)

    def lights(self, channel: str) -> list[Light]:
        power = self.rig.intensity(channel)
        if channel == "center":
            return ring_flash(self.distance, self.ring_radius, intensity=power)
        d = self.rig.direction(channel)
        if self.distance is None:
            return [DirectionalLight(tuple(d), power)]
        pos = tuple(float(x) for x in d * self.distance)
        return [PointLight(pos, power, reference_distance=self.distance)]


def capture(
    subject: Surface,
    booth: Booth = Booth(),
    camera: Camera = Camera(),
    ambient: bool = False,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Render the five flash photos (and the ambient-only frame when ``ambient``).

    With ``ambient`` the room light adds to every flash photo, as it does in a real booth,
    and the ``ambient`` frame records it alone.
    """
    rng = np.random.default_rng(seed)
    room = booth.ambient if ambient else (0.0, 0.0, 0.0)
    shots = {c: render(subject, booth.lights(c), camera, room, rng) for c in CHANNELS}
    if ambient:
        shots["ambient"] = render(subject, [], camera, room, rng)
    return shots


def normals_from_height(h: np.ndarray) -> np.ndarray:
    """Unit normals (camera space, y up) of a height field given in pixel units."""
    d_row, d_col = np.gradient(h.astype(np.float64))
    n = np.stack([-d_col, d_row, np.ones_like(h, dtype=np.float64)], axis=-1)
    return (n / np.linalg.norm(n, axis=-1, keepdims=True)).astype(np.float32)


def sphere(
    size: int = 512, radius: float | None = None, albedo: float = 0.9, radius_mm: float = 50.0
) -> Surface:
    """A white matte sphere centred in a ``size``² image (pixel centres at integer coords)."""
    r = radius if radius is not None else 0.4 * size
    c = (size - 1) / 2.0
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    x, y = (cols - c) / r, -(rows - c) / r
    rho2 = x * x + y * y
    mask = rho2 < 1.0
    z = np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    normals = np.where(mask[..., None], np.stack([x, y, z], -1), 0.0).astype(np.float32)
    mm = radius_mm / r
    positions = (np.stack([x, y, z], -1) * r * mm).astype(np.float32)
    alb = np.where(mask[..., None], np.float32(albedo), np.float32(0.0)) * np.ones(3, np.float32)
    return Surface(normals, alb.astype(np.float32), mask, positions)


@lru_cache(maxsize=1)
def _astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut().astype(np.float32) / 255.0


@lru_cache(maxsize=1)
def _face_relief() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The portrait's landmark depth on a 1-pixel grid over the face hull (NaN outside).

    A smoothing thin-plate spline, not an interpolating mesh: Face Mesh puts some landmarks
    at one image point with different depths (the cheek contour), which a mesh turns into
    spikes. Returns (grid, grid origin (x, y), hull polygon, landmarks), astronaut pixels.
    """
    from scipy.interpolate import RBFInterpolator

    ref = resources.files("photometric") / "data" / "astronaut_face_landmarks.csv"
    with resources.as_file(ref) as path:
        lm = np.loadtxt(path, delimiter=",", dtype=np.float64)
    hull = cv2.convexHull(lm[:, :2].astype(np.float32)).reshape(-1, 2).astype(np.float64)
    spline = RBFInterpolator(lm[:, :2], -lm[:, 2], kernel="thin_plate_spline", smoothing=5.0)
    x0, y0 = np.floor(hull.min(0)) - 1
    x1, y1 = np.ceil(hull.max(0)) + 1
    gy, gx = np.mgrid[y0 : y1 + 1, x0 : x1 + 1]
    grid = spline(np.column_stack([gx.ravel(), gy.ravel()])).reshape(gx.shape)
    inside = np.zeros(gx.shape, np.uint8)
    cv2.fillConvexPoly(inside, np.round(hull - [x0, y0]).astype(np.int32), 1)
    grid = np.where(inside > 0, grid, np.nan).astype(np.float32)
    return grid, np.array([x0, y0]), hull, lm


# Where the head sits in the astronaut portrait (pixels), and the window a subject is cut from.
_ASTRO_CENTER = np.array([225.0, 122.0])
_ASTRO_SIDE = 200.0
_HEAD_WIDTH_MM = 160.0


def face(seed: int = 0, size: int = 512, specular: float = 0.0) -> Surface:
    """A face-shaped subject; each ``seed`` gives a different pose, scale, tone and relief."""
    rng = np.random.default_rng(seed)
    relief_grid, origin, hull, lm = _face_relief()
    scale = rng.uniform(0.9, 1.1)
    angle = np.radians(rng.uniform(-8.0, 8.0))
    shift = rng.uniform(-0.04, 0.04, 2) * _ASTRO_SIDE
    mirror = bool(rng.integers(0, 2))
    depth = rng.uniform(0.5, 0.75)  # relief strength (MediaPipe's z runs deep)
    tone = rng.uniform(0.8, 1.1, 3)

    # Affine map astronaut pixels -> output pixels: zoom, rotate, optional mirror, re-centre.
    s = size / (_ASTRO_SIDE * scale)
    cos_a, sin_a = np.cos(angle), np.sin(angle)
    lin = s * np.array([[cos_a, -sin_a], [sin_a, cos_a]])
    if mirror:
        lin = lin @ np.diag([-1.0, 1.0])
    out_c = np.full(2, (size - 1) / 2.0)
    src_c = _ASTRO_CENTER + shift
    fwd = np.hstack([lin, (out_c - lin @ src_c)[:, None]])
    inv = cv2.invertAffineTransform(fwd)

    # Every output pixel's position in the portrait.
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    px = inv[0, 0] * cols + inv[0, 1] * rows + inv[0, 2]
    py = inv[1, 0] * cols + inv[1, 1] * rows + inv[1, 2]

    # Head: an ellipsoid around the landmark hull (astronaut pixels).
    x0, y0 = hull.min(0)
    x1, y1 = hull.max(0)
    fw, fh = x1 - x0, y1 - y0
    hcx, hcy = (x0 + x1) / 2, y0 + 0.36 * fh
    ax, ay = 0.6 * fw, 0.68 * fh
    az = 0.85 * ax
    u, v = (px - hcx) / ax, (py - hcy) / ay
    inside = u * u + v * v < 1.0
    h_head = az * np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, None))

    # Face relief from the landmarks, levelled onto the ellipsoid along the hull.
    h_face = cv2.remap(relief_grid, (px - origin[0]).astype(np.float32),
                       (py - origin[1]).astype(np.float32), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=float("nan"))
    in_hull = np.isfinite(h_face)
    hu, hv = (lm[:, 0] - hcx) / ax, (lm[:, 1] - hcy) / ay
    on_hull = np.isin(np.arange(len(lm)), cv2.convexHull(lm[:, :2].astype(np.float32),
                                                        returnPoints=False).ravel())
    offset = np.mean(az * np.sqrt(np.clip(1 - hu**2 - hv**2, 0, None))[on_hull]
                     - (-lm[on_hull, 2]))
    relief = np.where(in_hull, np.nan_to_num(h_face) + offset - h_head, 0.0)
    # Blend the relief in over ~10 % of the face width from the hull edge.
    hull_px = cv2.transform(hull[None].astype(np.float64), fwd).reshape(-1, 2)
    hull_mask = np.zeros((size, size), np.uint8)
    cv2.fillConvexPoly(hull_mask, np.round(hull_px).astype(np.int32), 1)
    dist = cv2.distanceTransform(hull_mask, cv2.DIST_L2, 5)
    blend = np.clip(dist / (0.1 * fw * s), 0.0, 1.0)
    blend = blend * blend * (3 - 2 * blend)
    # A few soft bumps make each subject's relief its own.
    bumps = np.zeros_like(px)
    for _ in range(3):
        bx, by = rng.uniform(x0, x1), rng.uniform(y0, y1)
        sig = rng.uniform(0.1, 0.25) * fw
        bumps += rng.uniform(-0.04, 0.04) * ax * np.exp(-((px - bx) ** 2 + (py - by) ** 2)
                                                        / (2 * sig**2))
    # The landmark mesh is coarse and noisy at the cheeks: keep only its smooth shape.
    relief = cv2.GaussianBlur(blend * (depth * relief + bumps), (0, 0), 3.5 * s)
    height = np.where(inside, (h_head + relief) * s, 0.0)
    height = cv2.GaussianBlur(height, (0, 0), 0.6 * s)
    mask = inside & (height > 0)
    normals = normals_from_height(height)
    normals[~mask] = 0.0

    albedo = cv2.warpAffine(_astronaut(), fwd, (size, size), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REFLECT)
    albedo = np.clip(albedo * tone / max(1.0, float(tone.max())), 0.0, 1.0).astype(np.float32)
    albedo[~mask] = 0.0

    mm = _HEAD_WIDTH_MM / (2 * ax * s)
    c = (size - 1) / 2.0
    positions = np.stack([(cols - c), -(rows - c), height], -1) * mm
    return Surface(normals, albedo, mask, positions.astype(np.float32), specular=specular)


def subject(kind: str, seed: int = 0, size: int = 512, specular: float = 0.0) -> Surface:
    """A subject by name: ``sphere`` or ``face``."""
    if kind == "sphere":
        return sphere(size)
    if kind == "face":
        return face(seed, size, specular)
    raise ValueError(f"unknown subject kind {kind!r}; expected 'face' or 'sphere'")
