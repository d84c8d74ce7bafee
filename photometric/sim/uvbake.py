"""The per-process bake of the head's UV layout: each texel's neutral 3-D position and the
coordinates features are placed by (lips, brows, lashes, irises, hairline), once per process
(:func:`baked`), for :mod:`photometric.sim.paint`."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

# --- the per-process bake: texel -> neutral position, and feature coordinates -----------
from photometric import raster
from photometric.sim.people import CAVITY, EYE, SKIN, Template
from photometric.sim.skin import BROW_INNER, BROW_OUTER


@dataclass
class Chart:
    """A rectangle of UV space (u0, v0, u1, v1) with its own texel grid (H, W)."""

    label: int
    rect: tuple[float, float, float, float]
    shape: tuple[int, int]
    mm_per_texel: float
    fields: dict[str, np.ndarray]  # per-texel coordinates, float32 unless noted
    regions: dict[str, tuple[slice, slice]]  # bounding boxes of features (skin charts)


@dataclass
class Bake:
    charts: list[Chart]


def smooth(x: np.ndarray) -> np.ndarray:
    """Smoothstep of x clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _boundary_edges(faces: np.ndarray, labels: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mesh edges (E, 2) shared by a triangle labelled ``a`` and one labelled ``b``."""
    n = int(faces.max()) + 1

    def keys(lab: int) -> np.ndarray:
        f = faces[labels == lab]
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        e.sort(axis=1)
        return np.unique(e[:, 0] * n + e[:, 1])

    k = np.intersect1d(keys(a), keys(b))
    return np.stack([k // n, k % n], axis=1)


def _sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares sphere (centre, radius) through points (N, 3)."""
    a = np.c_[2 * points, np.ones(len(points))]
    s = np.linalg.lstsq(a, (points ** 2).sum(1), rcond=None)[0]
    return s[:3], float(np.sqrt(s[3] + s[:3] @ s[:3]))


@dataclass
class _Geometry:
    """Landmarks of the neutral template that features are placed by (mm)."""

    eye_y: float
    eye_z: float
    eyes: np.ndarray  # (2, 3) eye-front centres
    ball_centre: np.ndarray  # (2, 3) eyeball sphere centres
    ball_radius: float
    ball_axis: np.ndarray  # (2, 3) unit, toward the iris centre
    rim_points: list[np.ndarray]  # per eye, the opening's outline seen from the front (N, 2)
    rim_upper: list[np.ndarray]  # per eye (N,) bool: on the upper lid
    rim_t: list[np.ndarray]  # per eye (N,) 0 at the inner corner .. 1 at the outer
    mouth: np.ndarray  # (3,)
    mouth_half_width: float
    parting: np.ndarray  # quadratic coefficients of the parting line's y(x)
    nose_tip: np.ndarray  # (3,)
    head_z: float  # the vertical axis azimuths are measured around (x = 0, z = head_z)
    ear: tuple[tuple[float, float], tuple[float, float]]  # (y, z) centre and half-extents


def _opening(tpl: Template, centre: np.ndarray, mm: float = 0.2) -> np.ndarray:
    """The outline of an eye's opening as seen from the front: (N, 2) x, y (mm) of the
    eyeball's pixels that border skin in a near-orthographic view ``mm`` per pixel. (The
    skin's border with the eye socket lies partly tucked behind the eyeball: the lashes
    belong where the lids are seen to meet the eye.)"""
    dist = 3000.0
    w, h = int(60.0 / mm), int(40.0 / mm)
    cam = raster.PerspectiveCamera(focal_px=(dist - centre[2]) / mm, width=w, height=h)
    v = tpl.neutral.astype(np.float64) - [centre[0], centre[1], dist]
    frags = raster.rasterize(v, tpl.faces, cam)
    lab = np.full(frags.face.shape, -1, np.int64)
    lab[frags.mask] = tpl.labels[frags.face[frags.mask]]
    eye = lab == EYE
    skin = np.pad(lab == SKIN, 1)
    touch = skin[:-2, 1:-1] | skin[2:, 1:-1] | skin[1:-1, :-2] | skin[1:-1, 2:]
    r, c = np.nonzero(eye & touch)
    return np.stack([centre[0] + (c - (w - 1) / 2) * mm, centre[1] - (r - (h - 1) / 2) * mm],
                    axis=1)


def _geometry(tpl: Template) -> _Geometry:
    v = tpl.neutral.astype(np.float64)
    eyes = tpl.eyes.astype(np.float64)
    rims, ups, ts = [], [], []
    centres, radii, axes = [], [], []
    for k in range(2):
        c, r = _sphere(v[tpl.eye_ids[k]])
        pts = _opening(tpl, eyes[k])
        # Inner corner: nearest the midline; outer: farthest. Upper lid: above the chord.
        inner = pts[np.argmin(np.abs(pts[:, 0]))]
        outer = pts[np.argmax(np.abs(pts[:, 0]))]
        t = (np.abs(pts[:, 0]) - abs(inner[0])) / (abs(outer[0]) - abs(inner[0]))
        chord_y = inner[1] + np.clip(t, 0, 1) * (outer[1] - inner[1])
        rims.append(pts)
        ups.append(pts[:, 1] > chord_y)
        ts.append(np.clip(t, 0.0, 1.0))
        # The iris looks through the middle of the lids' opening (a little low: the upper
        # lid covers more of it), from the eyeball's centre.
        mid = 0.5 * (pts.min(0) + pts.max(0))
        target = np.array([0.5 * (c[0] + mid[0]), mid[1] - 0.5])
        d = target - c[:2]
        axis = np.array([d[0], d[1], np.sqrt(max(r * r - d @ d, 1.0))])
        centres.append(c)
        radii.append(r)
        axes.append(axis / np.linalg.norm(axis))
    mouth = tpl.mouth.astype(np.float64)
    medges = _boundary_edges(tpl.faces, tpl.labels, SKIN, CAVITY)
    mp = v[np.unique(medges)]
    mp = mp[(np.linalg.norm(mp - mouth, axis=1) < 40.0) & (mp[:, 2] > mouth[2] - 30.0)]
    parting = np.polyfit(mp[:, 0] - mouth[0], mp[:, 1], 2)
    front = (np.abs(v[:, 0]) < 5) & (v[:, 1] < eyes[:, 1].mean()) & (v[:, 1] > mouth[1])
    nose = v[front][np.argmax(v[front, 2])]
    skull = v[:, 1] > eyes[:, 1].mean() - 10.0
    # The ears: what sticks out beyond 75 mm from the midline beside the head's centre.
    ear = v[(np.abs(v[:, 0]) > 75.0) & (np.abs(v[:, 1] - (eyes[:, 1].mean() - 35.0)) < 45.0)
            & (np.abs(v[:, 2]) < 45.0)]
    lo, hi = ear[:, 1:].min(0), ear[:, 1:].max(0)
    return _Geometry(
        eye_y=float(eyes[:, 1].mean()), eye_z=float(eyes[:, 2].mean()), eyes=eyes,
        ball_centre=np.array(centres), ball_radius=float(np.mean(radii)),
        ball_axis=np.array(axes), rim_points=rims, rim_upper=ups, rim_t=ts, mouth=mouth,
        mouth_half_width=float(np.abs(mp[:, 0] - mouth[0]).max()), parting=parting,
        nose_tip=nose, head_z=float(0.5 * (v[skull, 2].max() + v[skull, 2].min()) - 10.0),
        ear=(tuple(float(a) for a in (lo + hi) / 2), tuple(float(a) for a in (hi - lo) / 2)))


def _charts(tpl: Template) -> list[tuple[int, np.ndarray, tuple[float, float, float, float]]]:
    """UV islands as (label, face ids, bounding rectangle), islands of one label whose
    rectangles overlap merged (shared UVs)."""
    n = len(tpl.uv)
    fu = tpl.face_uv
    e = np.concatenate([fu[:, [0, 1]], fu[:, [1, 2]], fu[:, [2, 0]]])
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    fcomp = comp[fu[:, 0]]
    islands = []
    for c in np.unique(fcomp):
        ids = np.flatnonzero(fcomp == c)
        label = int(np.bincount(tpl.labels[ids]).argmax())
        uv = tpl.uv[fu[ids].ravel()]
        islands.append([label, ids, (*uv.min(0), *uv.max(0))])
    merged = True
    while merged:
        merged = False
        for i in range(len(islands)):
            for j in range(i + 1, len(islands)):
                a, b = islands[i], islands[j]
                ra, rb = a[2], b[2]
                if (a[0] == b[0] and ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3]
                        and rb[1] < ra[3]):
                    a[1] = np.concatenate([a[1], b[1]])
                    a[2] = (min(ra[0], rb[0]), min(ra[1], rb[1]), max(ra[2], rb[2]),
                            max(ra[3], rb[3]))
                    del islands[j]
                    merged = True
                    break
            if merged:
                break
    return [(int(a), ids, tuple(float(x) for x in r)) for a, ids, r in islands]


def _area(p: np.ndarray, f: np.ndarray) -> float:
    a, b = p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]]
    if p.shape[1] == 2:
        return float(0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())
    return float(0.5 * np.linalg.norm(np.cross(a, b), axis=1).sum())


def _bake(tpl: Template, resolution: int) -> Bake:
    """Every chart's texel grid, the neutral position and normal of each texel (texels off
    the triangles take their nearest covered texel's, so bilinear lookups at a chart's edge
    see no garbage), and the feature coordinates painting needs."""
    geo = _geometry(tpl)
    islands = _charts(tpl)
    pos_uv = np.zeros((len(tpl.uv), 3), np.float32)
    pos_uv[tpl.face_uv.ravel()] = tpl.neutral[tpl.faces.ravel()]
    nrm_uv = np.zeros((len(tpl.uv), 3), np.float32)
    nrm_uv[tpl.face_uv.ravel()] = raster.vertex_normals(tpl.neutral, tpl.faces)[
        tpl.faces.ravel()]
    skin_side = max(max(r[2] - r[0], r[3] - r[1]) for lab, _, r in islands if lab == SKIN)
    eye_side = max((max(r[2] - r[0], r[3] - r[1]) for lab, _, r in islands if lab == EYE),
                   default=1.0)
    charts = []
    for label, ids, rect in islands:
        if label == CAVITY:
            continue  # a constant colour
        density = (resolution / skin_side if label == SKIN
                   else max(64, resolution // 8) / eye_side)  # texels per UV unit
        pad = 2.0 / density
        u0, v0, u1, v1 = rect[0] - pad, rect[1] - pad, rect[2] + pad, rect[3] + pad
        w = int(np.ceil((u1 - u0) * density))
        h = int(np.ceil((v1 - v0) * density))
        u1, v1 = u0 + w / density, v0 + h / density
        verts = np.stack([(tpl.uv[:, 0] - u0) * density - 0.5,
                          -((v1 - tpl.uv[:, 1]) * density - 0.5),
                          -np.ones(len(tpl.uv))], axis=1)
        cam = raster.PerspectiveCamera(focal_px=1.0, width=w, height=h, cx=0.0, cy=0.0)
        faces = tpl.face_uv[ids]
        frags = raster.rasterize(verts, faces, cam)
        pos = raster.interpolate(frags, faces, pos_uv)
        nrm = raster.interpolate(frags, faces, nrm_uv)
        if not frags.mask.all():
            idx = ndimage.distance_transform_edt(~frags.mask, return_distances=False,
                                                 return_indices=True)
            pos, nrm = pos[idx[0], idx[1]], nrm[idx[0], idx[1]]
        mm = np.sqrt(_area(tpl.neutral, tpl.faces[ids]) / _area(tpl.uv, faces)) / density
        fields = (_skin_fields(pos, nrm, geo) if label == SKIN else _eye_fields(pos, geo))
        regions = _regions(fields) if label == SKIN else {}
        charts.append(Chart(label, (u0, v0, u1, v1), (h, w), float(mm), fields, regions))
    return Bake(charts)


def _skin_fields(pos: np.ndarray, nrm: np.ndarray, geo: _Geometry) -> dict[str, np.ndarray]:
    """Coordinates of every skin texel: height above the eyes, azimuth around the head,
    lips', brows' and lids' local coordinates, and weights of regions (ear, beard, flush,
    freckles)."""
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    f32 = np.float32
    out: dict[str, np.ndarray] = {}
    out["x"] = x.astype(f32)
    out["y"] = (y - geo.eye_y).astype(f32)
    az = np.degrees(np.arctan2(x, z - geo.head_z))
    out["az"] = np.clip(np.rint(az + 180.0), 0, 360).astype(np.int16)  # 0..360, 180 front
    # The ears: an ellipse (in y, z) around where they stick out beyond the skull (whose
    # half-width there is about 70 mm), and a few mm more (the hair stops short of them).
    (ey, ez), (ay, az_) = geo.ear
    r = np.sqrt(((y - ey) / (ay + 4.0)) ** 2 + ((z - ez) / (az_ + 4.0)) ** 2)
    out["ear"] = (smooth((1.1 - r) / 0.2) * smooth((np.abs(x) - 66.0) / 4.0)).astype(f32)
    front = nrm[..., 2]
    # Lips: across (t, -1..1 corner to corner) and up from the parting line (mm).
    m = geo.mouth
    dx = x - m[0]
    t = dx / (geo.mouth_half_width * 1.04)
    out["lip_t"] = t.astype(f32)
    out["lip_y"] = (y - np.polyval(geo.parting, np.clip(dx, -geo.mouth_half_width,
                                                         geo.mouth_half_width))).astype(f32)
    out["lip_ok"] = smooth((z - (m[2] - 25.0)) / 3.0).astype(f32)
    # Brows: out from the midline and up from the eyes, on the front of the forehead.
    out["brow_ok"] = ((z > geo.eye_z - 30.0) & (front > 0.15)).astype(f32)
    # Lids: distance (seen from the front) to the eye's opening, which lid, where along.
    rim_d = np.full(x.shape, 99.0, f32)
    rim_up = np.zeros(x.shape, f32)
    rim_t = np.zeros(x.shape, f32)
    for k in range(2):
        near = ((np.linalg.norm(pos - geo.eyes[k].astype(f32), axis=-1) < 28.0)
                & (z > geo.eye_z - 12.0))
        tree = cKDTree(geo.rim_points[k])
        d, i = tree.query(pos[near][:, :2], k=1)
        better = d < rim_d[near]
        sel = np.flatnonzero(near.ravel())[better]
        rim_d.ravel()[sel] = d[better]
        rim_up.ravel()[sel] = geo.rim_upper[k][i[better]]
        rim_t.ravel()[sel] = geo.rim_t[k][i[better]]
    out["rim_d"], out["rim_up"], out["rim_t"] = rim_d, rim_up, rim_t
    # Beard: below a line from the nose base over the cheeks to the sideburns, above the
    # throat, on the front half of the head.
    a = np.abs(az)
    my = m[1]
    upper = np.interp(a, [0, 8, 14, 20, 30, 45, 60, 72, 80, 90],
                      [my + 15, my + 14, my + 5, my + 5, my + 14, my + 24, geo.eye_y - 26,
                       geo.eye_y - 12, geo.eye_y - 20, geo.eye_y - 40])
    lower = np.interp(a, [0, 30, 50, 70, 90], [my - 57, my - 53, my - 43, my - 25, my - 10])
    nose_gap = smooth((np.linalg.norm(pos - geo.nose_tip, axis=-1) - 14.0) / 4.0)
    out["beard"] = (smooth((upper - y) / 4.0) * smooth((y - lower) / 12.0)
                    * smooth((92.0 - a) / 6.0) * nose_gap * (1.0 - out["ear"])).astype(f32)
    # Flush (more blood near the surface): cheeks, nose, ears; freckles: the sun-facing face.
    cheek = np.array([40.0, geo.eye_y - 28.0, geo.eye_z + 8.0], np.float32)
    cheeks = np.minimum(np.linalg.norm(pos - cheek * [-1, 1, 1], axis=-1),
                        np.linalg.norm(pos - cheek, axis=-1))
    nose = np.linalg.norm(pos - geo.nose_tip, axis=-1)
    out["flush"] = (np.exp(-(cheeks / 25.0) ** 2) + 0.7 * np.exp(-(nose / 12.0) ** 2)
                    + 0.6 * out["ear"]).astype(f32)
    face = np.linalg.norm((pos - [0.0, geo.eye_y - 15.0, geo.eye_z + 24.0]) * [1.0, 0.8, 1.0],
                          axis=-1)
    out["freckle"] = (np.exp(-(face / 45.0) ** 2) * np.clip(front + 0.2, 0, 1)).astype(f32)
    return out


def _bbox(mask: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of a mask's True texels (empty slices when none)."""
    r = np.flatnonzero(mask.any(axis=1))
    c = np.flatnonzero(mask.any(axis=0))
    if r.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1)


def _regions(f: dict[str, np.ndarray]) -> dict[str, tuple[slice, slice]]:
    """Where on a skin chart each feature can be, for any person (see :func:`draw`'s
    ranges): lids, brows, lips, beard."""
    s = (np.abs(f["x"]) - BROW_INNER) / (BROW_OUTER - BROW_INNER)
    lips = ((np.abs(f["lip_t"]) < 1.05) & (f["lip_y"] > -14.0) & (f["lip_y"] < 12.0)
            & (f["lip_ok"] > 0))
    return {
        "lash": _bbox(f["rim_d"] < 6.0),
        "brow": _bbox((s > -0.1) & (s < 1.1) & (f["y"] > 0.0) & (f["y"] < 45.0)
                      & (f["brow_ok"] > 0)),
        "lips": _bbox(lips),
        "beard": _bbox((f["beard"] > 0) | lips),  # holds the lips' box: they cut the beard
    }


def _eye_fields(pos: np.ndarray, geo: _Geometry) -> dict[str, np.ndarray]:
    """Eyeball texels: arc distance from the iris centre (mm), and the angle around it
    (radians, 0 toward the outer corner, pi/2 up)."""
    k = (pos[..., 0] > 0).astype(np.int64)  # which eye
    c = geo.ball_centre[k]
    axis = geo.ball_axis[k]
    d = pos - c
    d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
    cos = np.clip(np.einsum("...k,...k->...", d, axis), -1.0, 1.0)
    rho = geo.ball_radius * np.arccos(cos)
    outward = np.where(k == 1, 1.0, -1.0)
    psi = np.arctan2(d[..., 1] - cos * axis[..., 1],
                     outward * (d[..., 0] - cos * axis[..., 0]))
    return {"rho": rho.astype(np.float32), "psi": psi.astype(np.float32)}


_bakes: dict[tuple[int, int], tuple[Template, Bake]] = {}
_bake_lock = threading.Lock()


def baked(tpl: Template, resolution: int = 1024) -> Bake:
    """:func:`_bake` once per template and resolution (about a second)."""
    key = (id(tpl), int(resolution))
    with _bake_lock:
        hit = _bakes.get(key)
        if hit is None or hit[0] is not tpl:
            hit = (tpl, _bake(tpl, int(resolution)))
            _bakes[key] = hit
        return hit[1]


def vertex_fields(tpl: Template) -> dict[str, np.ndarray]:
    """The skin's fields (:func:`_skin_fields`: height above the eyes, azimuth, the lips'
    coordinates, the beard's weight, ...) at the template's own vertices, for geometry that
    follows a painted region (a beard grown where stubble is painted)."""
    v = tpl.neutral.astype(np.float32)
    n = raster.vertex_normals(tpl.neutral, tpl.faces)
    return _skin_fields(v, n, _geometry(tpl))
