"""A z-buffer rasteriser for triangle meshes, with exact per-pixel truth and shadow maps.

Simulated people are meshes; the booth's photos of them need, per pixel, the
surface's normal, depth, 3-D position and albedo, and whether each flash sees the point
(cast shadows: the nose and brows shadow the cheeks under a side flash). This module gives
those for any mesh, in the project's camera space (x right, y up, z toward the camera, mm):

* :func:`rasterize`: which triangle covers each pixel centre (pixel centres at integer
  coordinates, as everywhere in ``photometric``) and its perspective-correct barycentric
  coordinates, nearest surface first. One numba pass over the triangles with edge functions
  and a depth buffer; interpolating any vertex attribute is then a gather (:func:`interpolate`).
* :func:`shadow_mask`: per visible pixel, whether a light at a point sees it, by a shadow map
  rendered from the light (a perspective view from the light toward the mesh), compared with
  a depth bias proportional to the map's texel size.

Why not a library: the maintained Python rasterisers (pyrender, moderngl, nvdiffrast) need
OpenGL or a GPU, which CI has not; pytorch3d's CPU rasteriser is slow and pulls a build.
A few dozen lines of numba do what is needed here, exactly, on one core.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


@dataclass(frozen=True)
class PerspectiveCamera:
    """A pinhole camera at the origin of camera space, looking down -z.

    ``focal_px``: focal length in pixels; ``width``, ``height``: image size; the principal
    point defaults to the image centre ((w - 1) / 2, (h - 1) / 2) in pixel-centre
    coordinates. A point (x, y, z), z < 0, lands at column cx + f x / -z, row cy - f y / -z.
    """

    focal_px: float
    width: int
    height: int
    cx: float | None = None
    cy: float | None = None

    @property
    def centre(self) -> tuple[float, float]:
        return (self.cx if self.cx is not None else (self.width - 1) / 2.0,
                self.cy if self.cy is not None else (self.height - 1) / 2.0)

    def project(self, points: np.ndarray) -> np.ndarray:
        """(N, 3) camera-space points -> (N, 3) (column, row, depth = -z)."""
        cx, cy = self.centre
        p = np.asarray(points, np.float64)
        d = -p[:, 2]
        return np.stack([cx + self.focal_px * p[:, 0] / d, cy - self.focal_px * p[:, 1] / d, d],
                        axis=1)

    def rays(self) -> np.ndarray:
        """(H, W, 3) unit vectors from the camera through each pixel centre."""
        cx, cy = self.centre
        rows, cols = np.mgrid[0:self.height, 0:self.width].astype(np.float64)
        d = np.stack([(cols - cx) / self.focal_px, -(rows - cy) / self.focal_px,
                      -np.ones_like(cols)], axis=-1)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)


@dataclass
class Fragments:
    """What :func:`rasterize` finds per pixel: ``face`` (H, W) int32, the triangle's index or
    -1 where no surface is; ``bary`` (H, W, 3) float32 perspective-correct barycentric
    coordinates of the pixel centre in that triangle; ``depth`` (H, W) float32, the distance
    along the view axis (-z, mm), ``inf`` where no surface is."""

    face: np.ndarray
    bary: np.ndarray
    depth: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.face >= 0


@njit(**_JIT)
def _raster(scr, faces, face_out, bary_out, depth_out, cull_back):
    """Edge functions over each triangle's bounding box, pixel centres at integers; depth
    test on the view-axis distance, interpolated as 1/d (exact under perspective)."""
    h, w = depth_out.shape
    for t in range(faces.shape[0]):
        i0, i1, i2 = faces[t, 0], faces[t, 1], faces[t, 2]
        x0, y0, d0 = scr[i0, 0], scr[i0, 1], scr[i0, 2]
        x1, y1, d1 = scr[i1, 0], scr[i1, 1], scr[i1, 2]
        x2, y2, d2 = scr[i2, 0], scr[i2, 1], scr[i2, 2]
        if d0 <= 0.0 or d1 <= 0.0 or d2 <= 0.0:
            continue  # behind the camera: not in a booth scene
        area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
        # Counter-clockwise in camera space is clockwise on screen (rows grow down): a
        # front face has negative screen area.
        if area == 0.0 or (cull_back and area > 0.0):
            continue
        inv_area = 1.0 / area
        c0 = max(int(np.ceil(min(x0, min(x1, x2)))), 0)
        c1 = min(int(np.floor(max(x0, max(x1, x2)))), w - 1)
        r0 = max(int(np.ceil(min(y0, min(y1, y2)))), 0)
        r1 = min(int(np.floor(max(y0, max(y1, y2)))), h - 1)
        iz0, iz1, iz2 = 1.0 / d0, 1.0 / d1, 1.0 / d2
        for r in range(r0, r1 + 1):
            py = float(r)
            for c in range(c0, c1 + 1):
                px = float(c)
                # Screen-space barycentrics (w0 for vertex 0, ...).
                w0 = ((x1 - px) * (y2 - py) - (x2 - px) * (y1 - py)) * inv_area
                w1 = ((x2 - px) * (y0 - py) - (x0 - px) * (y2 - py)) * inv_area
                w2 = 1.0 - w0 - w1
                if w0 < -1e-9 or w1 < -1e-9 or w2 < -1e-9:
                    continue
                iz = w0 * iz0 + w1 * iz1 + w2 * iz2
                d = 1.0 / iz
                if d >= depth_out[r, c]:
                    continue
                depth_out[r, c] = d
                face_out[r, c] = t
                # Perspective-correct: weights of attributes are w_k / d_k, normalised.
                bary_out[r, c, 0] = w0 * iz0 * d
                bary_out[r, c, 1] = w1 * iz1 * d
                bary_out[r, c, 2] = w2 * iz2 * d


def rasterize(vertices: np.ndarray, faces: np.ndarray, camera: PerspectiveCamera,
              cull_back: bool = False) -> Fragments:
    """The nearest surface at each pixel centre of ``camera`` (see :class:`Fragments`).

    ``vertices`` (N, 3) camera space in mm (in front of the camera: z < 0); ``faces`` (M, 3)
    vertex indices, counter-clockwise seen from outside when ``cull_back`` is used."""
    verts = np.asarray(vertices, np.float64)
    tri = np.ascontiguousarray(faces, np.int64)
    if verts.ndim != 2 or verts.shape[1] != 3 or tri.ndim != 2 or tri.shape[1] != 3:
        raise ValueError(f"expected vertices (N, 3) and faces (M, 3), got {verts.shape} and "
                         f"{tri.shape}")
    if tri.size and (tri.min() < 0 or tri.max() >= len(verts)):
        raise ValueError("a face refers to a vertex that does not exist")
    scr = np.ascontiguousarray(camera.project(verts))
    h, w = camera.height, camera.width
    face = np.full((h, w), -1, np.int32)
    bary = np.zeros((h, w, 3), np.float32)
    depth = np.full((h, w), np.inf, np.float64)
    _raster(scr, tri, face, bary, depth, cull_back)
    return Fragments(face, bary, depth.astype(np.float32))


def interpolate(frags: Fragments, faces: np.ndarray, values: np.ndarray) -> np.ndarray:
    """A per-vertex attribute (N, K) at every pixel (H, W, K), float32, zero where no surface
    is: the barycentric mix of the covering triangle's three vertices."""
    vals = np.asarray(values, np.float32)
    flat = vals.reshape(len(vals), -1)
    out = np.zeros((*frags.face.shape, flat.shape[1]), np.float32)
    m = frags.mask
    out[m] = mix(frags.bary[m], flat, np.asarray(faces)[frags.face[m]])
    return out.reshape(*frags.face.shape, *vals.shape[1:])


def mix(bary: np.ndarray, values: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Per point, the barycentric mix (P, K) of ``values`` (N, K) at the three vertices
    ``tri`` (P, 3) with weights ``bary`` (P, 3). Three scaled gathers: half the time of an
    einsum over the gathered corners (P, 3, K) when the dtypes differ."""
    return (bary[:, 0:1] * values[tri[:, 0]] + bary[:, 1:2] * values[tri[:, 1]]
            + bary[:, 2:3] * values[tri[:, 2]])


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Smooth unit normals per vertex: the area-weighted sum of the adjacent faces' normals
    (counter-clockwise faces seen from outside give outward normals)."""
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # |fn| = 2 × area
    # Summed per vertex with bincount (several times faster than np.add.at).
    n = np.zeros_like(v)
    corners = np.asarray(f, np.int64).reshape(-1)  # (F*3,): each face's three corners
    for j in range(3):
        n[:, j] = np.bincount(corners, weights=np.repeat(fn[:, j], 3), minlength=len(v))
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The rotation (3, 3) taking world (camera-space) vectors into the frame of a viewer at
    ``eye`` looking at ``target``: its -z toward the target, +y as close to world +y as
    possible (world +x when looking straight up or down)."""
    fwd = np.asarray(target, np.float64) - np.asarray(eye, np.float64)
    fwd /= np.linalg.norm(fwd)
    up = np.array([0.0, 1.0, 0.0]) if abs(fwd[1]) < 0.99 else np.array([1.0, 0.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, fwd)
    return np.stack([right, true_up, -fwd])


def shadow_mask(points: np.ndarray, valid: np.ndarray, vertices: np.ndarray,
                faces: np.ndarray, light: np.ndarray, normals: np.ndarray | None = None,
                size: int = 1024, bias_texels: float = 1.0) -> np.ndarray:
    """Which ``points`` (H, W, 3) (where ``valid``) a point light at ``light`` sees: True lit,
    False in a cast shadow (and False where not valid).

    A shadow map: the mesh rasterised from the light, in a square view that just holds the
    mesh, ``size`` texels wide; a point is lit when it is no farther from the light than the
    nearest surface in its texel plus a bias. The bias is ``bias_texels`` texels' width at
    the point's distance, plus, with the surface ``normals`` (H, W, 3), that width times the
    slope of the surface seen from the light (tan of the angle between normal and light,
    at most 20): across one texel a surface seen at a grazing angle spans that much depth,
    and without it a lit surface shadows itself in stripes ("shadow acne").
    """
    light = np.asarray(light, np.float64)
    verts = np.asarray(vertices, np.float64)
    centre = verts.mean(axis=0)
    rot = look_at(light, centre)
    local = (verts - light) @ rot.T  # light's frame: looking down its -z
    d = -local[:, 2]
    if (d <= 0).any():
        raise ValueError("the light is inside or beside the mesh: every vertex must lie in "
                         "front of it")
    # A field of view that just holds the mesh, as seen from the light.
    half = float(np.max(np.abs(local[:, :2]) / d[:, None])) * 1.02
    cam = PerspectiveCamera(focal_px=(size - 1) / 2.0 / half, width=size, height=size)
    frags = rasterize(local, faces, cam)
    pts = np.ascontiguousarray(points, np.float64)
    n = (np.ascontiguousarray(normals, np.float64) if normals is not None
         else np.zeros_like(pts))
    lit = np.zeros(valid.shape, bool)
    _shadow_test(pts.reshape(-1, 3), n.reshape(-1, 3), np.ascontiguousarray(valid).reshape(-1),
                 np.ascontiguousarray(rot), light, cam.focal_px, cam.centre[0], cam.centre[1],
                 frags.depth, float(bias_texels), normals is not None, lit.reshape(-1))
    return lit


@njit(**_JIT)
def _shadow_test(pts, normals, valid, rot, light, focal, cx, cy, depth, bias_texels,
                 slope_bias, out):
    """Per valid point: into the light's frame, onto its map, and lit when no farther than
    the map's nearest surface plus the bias (one pass: the numpy version made ten arrays)."""
    size = depth.shape[0]
    for i in range(pts.shape[0]):
        if not valid[i]:
            continue
        dx, dy, dz = pts[i, 0] - light[0], pts[i, 1] - light[1], pts[i, 2] - light[2]
        lx = rot[0, 0] * dx + rot[0, 1] * dy + rot[0, 2] * dz
        ly = rot[1, 0] * dx + rot[1, 1] * dy + rot[1, 2] * dz
        d = -(rot[2, 0] * dx + rot[2, 1] * dy + rot[2, 2] * dz)
        if d <= 0.0:
            continue
        col = min(max(int(np.rint(cx + focal * lx / d)), 0), size - 1)
        row = min(max(int(np.rint(cy - focal * ly / d)), 0), size - 1)
        slope = 0.0
        if slope_bias:
            nn = np.sqrt(normals[i, 0] ** 2 + normals[i, 1] ** 2 + normals[i, 2] ** 2)
            dist = np.sqrt(dx * dx + dy * dy + dz * dz)
            cos = -(normals[i, 0] * dx + normals[i, 1] * dy + normals[i, 2] * dz) / max(
                nn * dist, 1e-12)
            cos = min(max(cos, 0.05), 1.0)
            slope = min(np.sqrt(1.0 - cos * cos) / cos, 20.0)
        bias = (bias_texels + slope) * d / focal  # the texel's width at that distance
        out[i] = d <= depth[row, col] + bias


def uv_sphere(radius: float, centre: tuple[float, float, float], rings: int = 64,
              segments: int = 128) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A tessellated sphere: (vertices, faces, analytic unit normals), counter-clockwise seen
    from outside. For tests and the calibration sphere."""
    theta = np.linspace(0.0, np.pi, rings + 1)  # from +y (north) to -y
    phi = np.linspace(0.0, 2 * np.pi, segments, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    n = np.stack([np.sin(t) * np.sin(p), np.cos(t), np.sin(t) * np.cos(p)], axis=-1)
    n = n.reshape(-1, 3)
    verts = np.asarray(centre, np.float64) + radius * n
    faces = []
    for i in range(rings):
        for j in range(segments):
            a = i * segments + j
            b = i * segments + (j + 1) % segments
            c = (i + 1) * segments + j
            d = (i + 1) * segments + (j + 1) % segments
            if i > 0:
                faces.append((a, c, b))
            if i < rings - 1:
                faces.append((b, c, d))
    return verts, np.array(faces, np.int64), n.astype(np.float32)
