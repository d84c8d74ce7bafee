"""Depth from a normal map, and the cast shadows a distant light throws on that depth.

Relighting with cast shadows needs to know, per light, which pixels the light reaches; a
normal map alone cannot say (the nose's shadow on the cheek is not local), so the normals are
first integrated into a depth map (:func:`integrate`) and then a ray is marched from each
pixel toward the light over that height field (:func:`lit`).

Geometry (the project's conventions): camera space x right, y up, z toward the camera; image
rows grow downward. The view is taken as **orthographic** along -z: the camera is about a
metre from a face, so the view rays across it are within a few degrees of the axis, which
for cast shadows (not for measuring a face) is near enough. **Depth** is the distance along
the view axis, away from the camera (-z), in **pixel widths** of the image, so that depth and
the image plane share one unit and a light's elevation is a slope in it. A surface
z = f(x, y) has normal ∝ (-∂f/∂x, -∂f/∂y, 1); with column c = x and row r = -y, depth d = -f
has gradient ∂d/∂c = nx/nz and ∂d/∂r = -ny/nz.

An integrated depth is known up to an offset per connected part of the mask (nothing in the
normals ties two separate regions together), so each part is given mean zero.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spl
from numba import njit
from scipy import ndimage

from photometric.errors import InputError

_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: nz is clipped from below to this before the gradients nx/nz, ny/nz are taken: at a
#: silhouette the normal turns sideways and the true slope goes to infinity; clipped, the
#: steepest slope is about 10 pixels of depth per pixel (84°), finite and still steep.
MIN_NZ = 0.1
#: Default bias of :func:`lit`, in pixel widths of depth: an occluder must stand this much
#: above the ray to cast a shadow, so that noise in an integrated depth does not shadow a
#: smooth surface from itself ("shadow acne"). Cast shadows shorten by bias / tan(elevation).
BIAS = 0.5
#: Relative residual at which the conjugate gradients stop: the depth is then within about
#: 1e-6 pixel widths of the exact least-squares solution at 512 × 512, far below the
#: discretisation's own error.
_RTOL = 1e-7


def integrate(normals: np.ndarray, mask: np.ndarray, max_side: int = 512) -> np.ndarray:
    """Depth (H, W) float32 from unit ``normals`` (H, W, 3) over ``mask`` (H, W).

    Depth is along the view axis, away from the camera, in pixel widths of the input image,
    orthographic view (see the module's docstring); mean 0 over each 4-connected part of the
    mask, 0 outside it. It is the least-squares surface whose differences between
    4-neighbours inside the mask best match the normals' slopes (the Poisson equation with a
    natural, Neumann, boundary on the mask's edge, so nothing outside the mask pulls on it).

    When the larger side exceeds ``max_side`` the normals are area-averaged down to it,
    integrated there and the depth upsampled bilinearly: a depth map for cast shadows needs
    no finer detail than that, and the solve's cost grows faster than the pixel count.
    """
    n = np.asarray(normals)
    m = np.asarray(mask)
    if n.ndim != 3 or n.shape[2] != 3:
        raise InputError(f"normals: expected an (H, W, 3) array, got shape {n.shape}")
    if m.shape != n.shape[:2]:
        raise InputError(f"mask: expected shape {n.shape[:2]} (the normals' H, W), got "
                         f"{m.shape}")
    if int(max_side) < 2:
        raise InputError(f"max_side: expected at least 2, got {max_side}")
    m = m.astype(bool)
    h, w = m.shape
    if not m.any():
        return np.zeros((h, w), np.float32)
    n = n.astype(np.float32, copy=False)
    if not np.isfinite(n[m]).all():
        raise InputError("normals: expected finite values inside the mask")
    if max(h, w) <= max_side:
        return _solve(n, m, 1.0, 1.0).astype(np.float32)

    # Reduced resolution: the same factor on both axes, so pixels stay (nearly) square.
    s = max(h, w) / max_side
    hs, ws = max(1, round(h / s)), max(1, round(w / s))
    ar, ac = _area_matrix(hs, h), _area_matrix(ws, w)
    mf = m.astype(np.float32)
    frac = _shrink(ar, ac, mf)
    small_m = frac >= 0.5  # majority of the block's area
    if not small_m.any():
        return np.zeros((h, w), np.float32)
    # (np.where, not a product with the mask: whatever lies outside it may be NaN.)
    small_n = np.stack([_shrink(ar, ac, np.where(m, n[..., k], np.float32(0)))
                        for k in range(3)], axis=-1)
    norm = np.linalg.norm(small_n, axis=-1, keepdims=True)
    small_n = np.where(norm > 1e-6, small_n / np.maximum(norm, 1e-6), (0.0, 0.0, 1.0))
    # The slopes are per reduced pixel in input pixel widths: a reduced pixel spans h/hs
    # input rows and w/ws input columns.
    small_d = _solve(small_n.astype(np.float32), small_m, h / hs, w / ws)
    # Extend the depth past the reduced mask's edge (nearest inside value) so that the
    # bilinear upsampling does not pull the edge toward the zeros outside.
    _, (ir, ic) = ndimage.distance_transform_edt(~small_m, return_indices=True)
    small_d = small_d[ir, ic]
    depth = _upsample(_upsample(small_d, h).T, w).T
    depth[~m] = 0.0
    return _zero_mean(depth, m).astype(np.float32)


def _solve(normals: np.ndarray, mask: np.ndarray, row_px: float, col_px: float) -> np.ndarray:
    """The masked least-squares depth (H, W) float64, in units where one step along a row is
    ``col_px`` and one down a column ``row_px`` (1, 1 at full resolution)."""
    nz = np.maximum(normals[..., 2].astype(np.float64), MIN_NZ)
    p = normals[..., 0] / nz * col_px  # depth change per column step
    q = -normals[..., 1] / nz * row_px  # depth change per row step
    idx = np.full(mask.shape, -1, np.int64)
    count = int(mask.sum())
    idx[mask] = np.arange(count)
    # One equation per pair of 4-neighbours inside the mask: z_j - z_i = the mean of their
    # two slopes along that edge (the trapezoid rule, exact for a quadratic surface).
    hm = mask[:, :-1] & mask[:, 1:]
    vm = mask[:-1] & mask[1:]
    i = np.concatenate([idx[:, :-1][hm], idx[:-1][vm]])
    j = np.concatenate([idx[:, 1:][hm], idx[1:][vm]])
    g = np.concatenate([0.5 * (p[:, :-1] + p[:, 1:])[hm], 0.5 * (q[:-1] + q[1:])[vm]])
    # The normal equations: the mask's graph Laplacian L z = Dᵀ g.
    ones = np.ones(len(i))
    lap = sp.csr_matrix((np.concatenate([-ones, -ones, ones, ones]),
                         (np.concatenate([i, j, i, j]), np.concatenate([j, i, i, j]))),
                        shape=(count, count))
    rhs = np.bincount(j, g, count) - np.bincount(i, g, count)
    # L is singular (a constant per part of the mask): pin one pixel of each part at 0 and
    # drop it, which leaves a positive definite system; the mean is removed afterwards.
    labels, parts = ndimage.label(mask)
    part = labels[mask] - 1
    first = np.full(parts, count, np.int64)
    np.minimum.at(first, part, np.arange(count))
    free = np.ones(count, bool)
    free[first] = False
    z = np.zeros(count)
    if free.any():
        z[free] = _spd_solve(lap[free][:, free].tocsr(), rhs[free])
    depth = np.zeros(mask.shape)
    depth[mask] = z
    return _zero_mean(depth, mask, labels, parts)


def _spd_solve(a: sp.csr_matrix, b: np.ndarray) -> np.ndarray:
    """x with a x = b, ``a`` a masked grid Laplacian (symmetric positive definite).

    Conjugate gradients preconditioned by pyamg's classical (Ruge-Stüben) multigrid. Why: a
    direct sparse LU (SuperLU, which has no nested-dissection ordering) takes ~1.3 s at
    512 × 512, plain CG needs thousands of iterations (the Laplacian's condition number grows
    as the pixel count); with the multigrid it needs under ten (~0.3 s at 512 × 512). If it
    ever stalls, LU decides.
    """
    import pyamg

    residuals: list[float] = []
    x = pyamg.ruge_stuben_solver(a).solve(b, tol=_RTOL, accel="cg", maxiter=200,
                                          residuals=residuals)
    if residuals[-1] > _RTOL * residuals[0]:
        x = spl.spsolve(a.tocsc(), b, permc_spec="MMD_AT_PLUS_A")
    return x


def _zero_mean(depth: np.ndarray, mask: np.ndarray, labels: np.ndarray | None = None,
               parts: int | None = None) -> np.ndarray:
    """``depth`` with each 4-connected part of ``mask`` shifted to mean 0."""
    if labels is None:
        labels, parts = ndimage.label(mask)
    lab = labels[mask]
    means = np.bincount(lab, depth[mask], parts + 1) / np.maximum(np.bincount(lab), 1)
    depth[mask] -= means[lab]
    return depth


def _area_matrix(n_out: int, n_in: int) -> sp.csr_matrix:
    """(n_out, n_in) float32: output cell i averages the inputs over [i s, (i + 1) s),
    s = n_in / n_out, each input pixel weighted by its overlap."""
    s = n_in / n_out
    i = np.arange(n_out)
    lo, hi = i * s, (i + 1) * s
    rows, cols, vals = [], [], []
    for k in range(int(np.ceil(s)) + 1):
        j = np.floor(lo).astype(np.int64) + k
        overlap = np.minimum(j + 1, hi) - np.maximum(j, lo)
        keep = (j < n_in) & (overlap > 0)
        rows.append(i[keep])
        cols.append(j[keep])
        vals.append(overlap[keep] / s)
    return sp.csr_matrix((np.concatenate(vals).astype(np.float32),
                          (np.concatenate(rows), np.concatenate(cols))), shape=(n_out, n_in))


def _shrink(ar: sp.csr_matrix, ac: sp.csr_matrix, x: np.ndarray) -> np.ndarray:
    """The area average of ``x`` (H, W) onto the reduced grid: ar x acᵀ."""
    return np.asarray((ac @ np.asarray(ar @ x).T).T)


def _upsample(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` (h, ...) linearly interpolated along its first axis to (n, ...), sample i of
    ``x`` standing at the centre of the i-th of h equal cells spanning n."""
    h = x.shape[0]
    pos = np.clip((np.arange(n) + 0.5) * (h / n) - 0.5, 0.0, h - 1)
    i0 = np.minimum(pos.astype(np.int64), h - 1)
    i1 = np.minimum(i0 + 1, h - 1)
    f = (pos - i0).reshape((n,) + (1,) * (x.ndim - 1))
    return x[i0] * (1.0 - f) + x[i1] * f


def lit(depth: np.ndarray, mask: np.ndarray, direction: np.ndarray,
        bias: float = BIAS) -> np.ndarray:
    """(H, W) bool: the pixels of ``mask`` that a distant light in ``direction`` reaches.

    ``depth`` (H, W): away from the camera, in pixel widths (as :func:`integrate` gives);
    ``direction``: from the surface toward the light, camera space (normalised here).
    From each mask pixel a ray goes toward the light, one pixel per step along the image's
    dominant axis, rising toward the camera by the light's elevation; the pixel is in shadow
    if the depth (interpolated linearly across the other axis) is nearer the camera than the
    ray by more than ``bias`` anywhere before the ray leaves the mask or the image, or rises
    above every depth still ahead of it. A sample that touches a pixel outside the mask ends
    the ray: only the height field is known, nothing about what lies beyond its edge, and
    at a silhouette, where the depth is steepest and least sure, this keeps a surface from
    shadowing itself.

    Cast shadows only: a surface turned away from the light (n·l ≤ 0) is the shading's
    business. A light on the view axis shadows nothing. A light from behind (z < 0) is
    marched the same way with the ray sinking away from the camera: only a visible surface
    between the pixel and the mask's edge can shadow it (for a pixel facing such a light,
    at a silhouette, that is the right answer). Outside the mask: False.

    One core, no Python per pixel: ~10-30 ms per light at 512 × 512 for a face-sized mask
    lit from the front half-space, longer for a light from behind (rays run to the edge).
    """
    d = np.asarray(depth)
    m = np.asarray(mask)
    if d.ndim != 2:
        raise InputError(f"depth: expected an (H, W) array, got shape {d.shape}")
    if m.shape != d.shape:
        raise InputError(f"mask: expected shape {d.shape} (the depth's), got {m.shape}")
    ld = np.asarray(direction, np.float64).reshape(-1)
    if ld.shape != (3,) or not np.isfinite(ld).all() or not np.linalg.norm(ld) > 0:
        raise InputError(f"direction: expected a non-zero 3-vector, got {direction!r}")
    if not np.isfinite(bias) or bias < 0:
        raise InputError(f"bias: expected a finite value ≥ 0, got {bias!r}")
    m = np.ascontiguousarray(m, bool)
    ld = ld / np.linalg.norm(ld)
    rho = float(np.hypot(ld[0], ld[1]))
    if rho < 1e-9 or not m.any():
        return m.copy()
    d = np.ascontiguousarray(d, np.float32)
    u, v = ld[0] / rho, -ld[1] / rho  # the light's way in the image: columns, rows
    transpose = abs(v) > abs(u)
    if transpose:  # march along the rows of the transposed image: one kernel for both
        d, m, u, v = np.ascontiguousarray(d.T), np.ascontiguousarray(m.T), v, u
    rise = ld[2] / rho / abs(u)  # toward the camera per step, pixel widths
    h, w = d.shape
    tiles = (-(-h // _TILE), -(-w // _TILE))
    tmin, tfull, top = np.empty(tiles, np.float32), np.empty(tiles, bool), np.empty(w)
    if not _bounds(d, m, tmin, tfull, top):
        raise InputError("depth: expected finite values inside the mask")
    # ``top``: the nearest depth over the columns still ahead of a ray. Once the ray is
    # above it, nothing further can occlude (lit from the right, a ray from the right cheek
    # stops without climbing to the nose's height).
    top = np.minimum.accumulate(top) if u < 0 else np.minimum.accumulate(top[::-1])[::-1]
    if rise <= 0:  # a light from behind: the ray sinks, never clears anything
        top[:] = -np.inf
        tfull[:] = False
    out = np.zeros(m.shape, bool)
    _march(d, m, 1 if u >= 0 else -1, 1 if v >= 0 else -1, abs(v) / abs(u), rise,
           float(bias), top, tmin, tfull, out)
    return np.ascontiguousarray(out.T) if transpose else out


#: Block size of :func:`_bounds`' skip test.
_TILE = 8


@njit(**_JIT)
def _bounds(depth, mask, tmin, tfull, colmin):
    """What lets :func:`_march` stop or skip early, in one pass: per 8 × 8 block, the
    nearest depth over it and a one-pixel apron (the interpolation's second pixel), and
    whether all those pixels are in the mask and the image (``tfull``); per column, the
    nearest depth in the mask. A ray above a full block's nearest depth cannot be shadowed
    there and skips it, so rays cost steps only near the surface (the idea of maximum
    mipmaps, Tevs et al. 2008, at one level). False if a mask pixel's depth is not finite."""
    h, w = depth.shape
    t = _TILE
    th, tw = tmin.shape
    tmin[:] = np.inf
    colmin[:] = np.inf
    for tr in range(th):
        for tc in range(tw):
            tfull[tr, tc] = tr * t >= 1 and tr * t + t < h and tc * t >= 1 and tc * t + t < w
    finite = True
    for r in range(h):
        tr0, tr1 = max((r - 1) // t, 0), min((r + 1) // t, th - 1)
        for c in range(w):
            tc0, tc1 = max((c - 1) // t, 0), min((c + 1) // t, tw - 1)
            if mask[r, c]:
                v = depth[r, c]
                if not np.isfinite(v):
                    finite = False
                colmin[c] = min(colmin[c], v)
                for tr in range(tr0, tr1 + 1):
                    for tc in range(tc0, tc1 + 1):
                        tmin[tr, tc] = min(tmin[tr, tc], v)
            else:
                for tr in range(tr0, tr1 + 1):
                    for tc in range(tc0, tc1 + 1):
                        tfull[tr, tc] = False
    return finite


@njit(**_JIT)
def _march(depth, mask, s_major, s_minor, minor, rise, bias, top, tmin, tfull, out):
    """The ray march of :func:`lit`, one pixel at a time, along rows of the image (the
    caller transposes for a light whose way is mostly vertical). The step's offset across
    rows is taken as a magnitude and a sign, so that a mirrored scene under the mirrored
    light gives exactly the mirrored answer (the same interpolation weights, bit for bit);
    skipping blocks changes no answer, only the time."""
    h, w = depth.shape
    t = _TILE  # a compile-time constant to numba
    for r in range(h):
        for c in range(w):
            if not mask[r, c]:
                continue
            d0 = np.float64(depth[r, c])
            shadow = False
            k = 1
            while True:
                ray = d0 - k * rise - bias  # an occluder must be nearer than this
                cc = c + s_major * k
                if cc < 0 or cc >= w or ray <= top[cc]:
                    break  # out of the image, or above every surface still ahead
                off = k * minor
                a = np.int64(off)  # off ≥ 0: truncation is floor
                f = off - a
                r0 = r + s_minor * a
                if r0 < 0 or r0 >= h or not mask[r0, cc]:
                    break
                tr, tc = r0 // t, cc // t
                if tfull[tr, tc] and tmin[tr, tc] > ray + 1e-6:
                    # The ray stays above this block from here on (it only rises): go to
                    # the last step still inside the block, counted low to be safe.
                    if s_major > 0:
                        k_end = tc * t + t - 1 - c
                    else:
                        k_end = c - tc * t
                    if minor > 0.0:
                        rows_left = (tr * t + t - 1 - r) if s_minor > 0 else (r - tr * t)
                        k_rows = (rows_left + 1) / minor - 1e-6
                        if k_rows < k_end:
                            k_end = np.int64(k_rows)
                    k = max(k_end, k) + 1
                    continue
                val = np.float64(depth[r0, cc])
                if f > 0.0:
                    r1 = r0 + s_minor
                    if r1 < 0 or r1 >= h or not mask[r1, cc]:
                        break
                    val = (1.0 - f) * val + f * depth[r1, cc]
                if val < ray:
                    shadow = True
                    break
                k += 1
            out[r, c] = not shadow
