"""Fused kernels for photometric stereo, compiled with numba.

Why not plain numpy: a vectorised numpy version makes ~40 passes over full-size float32
temporaries (grey conversion, ratios, matrix product, normalisation, albedo), which at 24 MP
is seconds and gigabytes. These kernels work one image row at a time: each input row is
read straight from its 8/16-bit array into small row buffers that stay in cache, and every
per-pixel step is branch-free float32 arithmetic over flat rows, so that LLVM turns the loops
into SIMD code. (Indexing as ``img[i, j, c]`` instead of a flat row defeats the vectoriser:
measured 4.5× slower.) Memory beyond the outputs is a few rows. Single-threaded on purpose:
callers decide how many captures to process in parallel.

Images arrive as five separate (H, W·C) arrays, C = 1 or 3 (``nch``), in ``CHANNELS`` order
(center, left, right, top, bottom), plus an ambient array used when ``has_amb``. Outputs
are flat too: normals (H, W·3), albedo (H, W·C), and (H, W) mask, confidence, used, flags.
Thresholds arrive absolute: ``dark`` as a grey value in units of full scale (the caller
derives it from the capture's data level, sampled by :func:`level_sample`), ``sat_raw`` in
the images' raw units (from their white level).

The two solvers leave a lit pixel they cannot solve flagged FILLED, its usable lights in
``used``, and return how many; :func:`fill_grid` and :func:`fill_pixels` then fill those
(``stereo._fill``): scalar code over a few percent of the pixels, after the fused pass.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Per-pixel flags (StereoResult.flags).
SHADOWED = np.uint8(1)  # at least one flash image too dark to use at this pixel
SATURATED = np.uint8(2)  # at least one flash image clipped at this pixel
UNDERDETERMINED = np.uint8(4)  # lit, but by fewer than three usable lights
CLAMPED = np.uint8(8)  # simplified: gradient clamped to the range seen on the sphere
FILLED = np.uint8(16)  # lit, but not solvable here: filled from the neighbours (stereo._fill)
SPECULAR = np.uint8(32)  # lambertian: the brightest observation was a highlight, left out

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}
_F = np.float32
_U8 = np.uint8


@njit(**_JIT)
def _grey_row(img, amb, has_amb, i, nch, luma, scale, sat_raw, bit, grey, sat):
    """Row ``i`` of ``img``: ambient-subtracted, luma-weighted grey (in [0, 1]) into
    ``grey``; ORs ``bit`` into ``sat`` where any raw channel is at or above ``sat_raw``."""
    w = grey.shape[0]
    row = img[i]
    arow = amb[i] if has_amb else amb[0]
    b8 = _U8(bit)
    z8 = _U8(0)
    zero = _F(0)
    if nch == 3:
        w0 = _F(luma[0] * scale)
        w1 = _F(luma[1] * scale)
        w2 = _F(luma[2] * scale)
        if has_amb:
            for j in range(w):
                a = _F(row[3 * j])
                b = _F(row[3 * j + 1])
                c = _F(row[3 * j + 2])
                hot = max(a, max(b, c)) >= sat_raw
                a = max(a - _F(arow[3 * j]), zero)
                b = max(b - _F(arow[3 * j + 1]), zero)
                c = max(c - _F(arow[3 * j + 2]), zero)
                grey[j] = w0 * a + w1 * b + w2 * c
                sat[j] |= b8 if hot else z8
        else:
            for j in range(w):
                a = _F(row[3 * j])
                b = _F(row[3 * j + 1])
                c = _F(row[3 * j + 2])
                hot = max(a, max(b, c)) >= sat_raw
                grey[j] = w0 * a + w1 * b + w2 * c
                sat[j] |= b8 if hot else z8
    else:
        s = _F(scale)
        for j in range(w):
            a = _F(row[j])
            hot = a >= sat_raw
            if has_amb:
                a = max(a - _F(arow[j]), zero)
            grey[j] = s * a
            sat[j] |= b8 if hot else z8


@njit(**_JIT)
def _grey_rows(ic, il, ir, it, ib, amb, has_amb, i, nch, luma, scale, sat_raw, grey, sat):
    sat[:] = 0
    _grey_row(ic, amb, has_amb, i, nch, luma, scale, sat_raw, 1, grey[0], sat)
    _grey_row(il, amb, has_amb, i, nch, luma, scale, sat_raw, 2, grey[1], sat)
    _grey_row(ir, amb, has_amb, i, nch, luma, scale, sat_raw, 4, grey[2], sat)
    _grey_row(it, amb, has_amb, i, nch, luma, scale, sat_raw, 8, grey[3], sat)
    _grey_row(ib, amb, has_amb, i, nch, luma, scale, sat_raw, 16, grey[4], sat)


@njit(inline="always", **_JIT)
def _grey_px(row, arow, j, nch, luma, scale):
    """Ambient-subtracted grey value of pixel ``j`` of a raw row (in [0, 1])."""
    if nch == 3:
        return _F(scale) * (_F(luma[0]) * _pos(row[3 * j], arow[3 * j])
                            + _F(luma[1]) * _pos(row[3 * j + 1], arow[3 * j + 1])
                            + _F(luma[2]) * _pos(row[3 * j + 2], arow[3 * j + 2]))
    return _F(scale) * _pos(row[j], arow[j])


@njit(**_JIT)
def level_sample(ic, il, ir, it, ib, amb, has_amb, nch, scale, luma, rows, cols, med, top):
    """At pixels ``rows`` × ``cols``: the median (into ``med``) and the largest (into
    ``top``) of the five ambient-subtracted grey observations, row-major.

    The median, because a specular highlight is one flash's: it can be a pixel's brightest
    observation but never its median, so highlights do not raise the data level.
    """
    n = 0
    for i in rows:
        r0, r1, r2, r3, r4 = ic[i], il[i], ir[i], it[i], ib[i]
        ar = amb[i] if has_amb else amb[0]
        for j in cols:
            a = _grey_px(r0, ar, j, nch, luma, scale)
            b = _grey_px(r1, ar, j, nch, luma, scale)
            c = _grey_px(r2, ar, j, nch, luma, scale)
            d = _grey_px(r3, ar, j, nch, luma, scale)
            e = _grey_px(r4, ar, j, nch, luma, scale)
            # Median of five by min/max: the smallest and the largest of a..d cannot be the
            # median; the middle two of a..d and e leave a median of three.
            x = max(min(a, b), min(c, d))
            y = min(max(a, b), max(c, d))
            med[n] = max(min(x, y), min(max(x, y), e))
            top[n] = max(max(max(a, b), max(c, d)), e)
            n += 1


@njit(**_JIT)
def fill_grid(normals, albedo, mask, confidence, flags, nch, luma, f, grid, cand):
    """The prior's sums for ``stereo._fill`` in one pass, and the pixels to fill.

    ``grid`` (gh + 1, gw + 1, 5 + C) float64 becomes the integral image (summed-area table,
    a zero first row and column) over f×f blocks of: b = ρ n times the weight (3), the weight
    (confidence to a quarter, plus 0.05, on valid pixels), the valid count, and the colour
    albedo times the weight (C). Only the middle row of each block is summed (f pixels of
    f², for speed: the pass is memory-bound), but all its columns, and pixels beyond the last
    whole block are left out, so that a mirrored image gives the mirrored grid. ``cand``
    receives the flat indices of pixels flagged FILLED, as many as it holds; returns their
    number.
    """
    h, w = mask.shape
    gh, gw = grid.shape[0] - 1, grid.shape[1] - 1
    nc = grid.shape[2]
    grid[0] = 0
    grid[:, 0] = 0  # every other cell is written below: each block has a middle row
    l0, l1, l2 = _F(luma[0]), _F(luma[1]), _F(luma[2])
    n = 0
    for i in range(h):
        frow = flags[i]
        for j in range(w):
            if frow[j] & FILLED:
                if n < cand.size:
                    cand[n] = i * w + j
                n += 1
        gi = i // f + 1
        if gi > gh or i % f != f // 2:
            continue
        nrow, arow, mrow, crow = normals[i], albedo[i], mask[i], confidence[i]
        # Invalid pixels have zero normals and albedo: weight 0 and no branch on validity.
        # Scalar accumulators and plain stores: a view per cell (grid[gi, k]) costs 4×.
        for k in range(gw):
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = _F(0)
            for j in range(k * f, k * f + f):
                m = mrow[j]
                wt = (_F(0.05) + np.floor(crow[j] * _F(4) + _F(0.5)) * _F(0.25)) if m \
                    else _F(0)
                if nch == 3:
                    a0, a1, a2 = arow[3 * j], arow[3 * j + 1], arow[3 * j + 2]
                    rw = (l0 * a0 + l1 * a1 + l2 * a2) * wt
                    s5 += a0 * wt
                    s6 += a1 * wt
                    s7 += a2 * wt
                else:
                    rw = arow[j] * wt
                    s5 += rw
                s0 += nrow[3 * j] * rw
                s1 += nrow[3 * j + 1] * rw
                s2 += nrow[3 * j + 2] * rw
                s3 += wt
                s4 += _F(1) if m else _F(0)
            grid[gi, k + 1, 0] = s0
            grid[gi, k + 1, 1] = s1
            grid[gi, k + 1, 2] = s2
            grid[gi, k + 1, 3] = s3
            grid[gi, k + 1, 4] = s4
            grid[gi, k + 1, 5] = s5
            if nch == 3:
                grid[gi, k + 1, 6] = s6
                grid[gi, k + 1, 7] = s7
    # Block sums to a summed-area table: cumulative along rows, then down the columns.
    for i in range(1, gh + 1):
        for j in range(1, gw + 1):
            for c in range(nc):
                grid[i, j, c] += grid[i, j - 1, c]
    for i in range(1, gh + 1):
        for j in range(1, gw + 1):
            for c in range(nc):
                grid[i, j, c] += grid[i - 1, j, c]
    return n


#: Albedo ratio (pixel's own / its neighbours') beyond which stereo._fill stops trusting the
#: neighbours' albedo.
_ALBEDO_JUMP = 1.5


@njit(inline="always", **_JIT)
def _cofactors(m0, m1, m2, m3, m4, m5):
    """Cofactors and determinant of the symmetric 3×3 [[m0 m1 m2] [m1 m3 m4] [m2 m4 m5]]
    (in the arguments' own precision): (k00, k01, k02, k11, k12, k22, det)."""
    k00 = m3 * m5 - m4 * m4
    k01 = m2 * m4 - m1 * m5
    k02 = m1 * m4 - m2 * m3
    k11 = m0 * m5 - m2 * m2
    k12 = m1 * m2 - m0 * m4
    k22 = m0 * m3 - m1 * m1
    return k00, k01, k02, k11, k12, k22, m0 * k00 + m1 * k01 + m2 * k02


@njit(inline="always", **_JIT)
def _solve3_f64(m0, m1, m2, m3, m4, m5, r0, r1, r2):
    """:func:`_solve3` in float64, for the few filled pixels."""
    k00, k01, k02, k11, k12, k22, det = _cofactors(m0, m1, m2, m3, m4, m5)
    inv = 1.0 / det if det > 1e-300 else 0.0
    return ((k00 * r0 + k01 * r1 + k02 * r2) * inv, (k01 * r0 + k11 * r1 + k12 * r2) * inv,
            (k02 * r0 + k12 * r1 + k22 * r2) * inv, det)


@njit(**_JIT)
def fill_pixels(cand, table, f, radii, share, ic, il, ir, it, ib, amb, has_amb, nch, scale,
                luma, lights, project, normals, albedo, mask, confidence, used, flags):
    """Fill the pixels ``cand`` (flat indices) from the summed-area ``table`` of
    :func:`fill_grid`: see ``stereo._fill``. Returns how many were filled.

    Per pixel: the prior b_p (and colour albedo) is the weighted mean over the smallest box
    of half-width ``radii[m]`` cells that has ``share`` of its pixels solved. With
    ``project`` it is moved to the nearest b that fits the usable observations (bits in
    ``used``, lights ``lights`` (5, 3)): b = b_p + (Σ s sᵀ + λI)⁻¹ Σ s (I - s · b_p), which
    is Sᵀ(S Sᵀ)⁻¹(I - S b_p) as λ → 0, and least squares for three or more; except where
    the pixel's albedo is not its neighbours' (below). The albedo is then the kernel's
    Σ I (s · n) / Σ (s · n)². A pixel with no box found loses FILLED.
    Scalar code on a few percent of the pixels: no vectorisation to protect here.
    """
    h, w = mask.shape
    gh, gw = table.shape[0] - 1, table.shape[1] - 1
    nc = table.shape[2]
    sums = np.empty(nc)
    obs = np.empty((5, 3))
    grey = np.empty(5)
    lam = 0.0
    for k in range(5):
        lam += lights[k, 0] ** 2 + lights[k, 1] ** 2 + lights[k, 2] ** 2
    lam *= 1e-6 / 5
    done = 0
    for p in cand:
        i, j = p // w, p % w
        ci, cj = min(i // f, gh - 1), min(j // f, gw - 1)
        found = False
        for r in radii:
            y0, y1 = max(ci - r, 0), min(ci + r + 1, gh)
            x0, x1 = max(cj - r, 0), min(cj + r + 1, gw)
            cnt = table[y1, x1, 4] - table[y0, x1, 4] - table[y1, x0, 4] + table[y0, x0, 4]
            wsum = table[y1, x1, 3] - table[y0, x1, 3] - table[y1, x0, 3] + table[y0, x0, 3]
            if cnt >= share * f * (y1 - y0) * (x1 - x0) and wsum > 0:
                for c in range(nc):
                    sums[c] = (table[y1, x1, c] - table[y0, x1, c] - table[y1, x0, c]
                               + table[y0, x0, c]) / wsum
                found = True
                break
        if not found:
            flags[i, j] &= ~FILLED
            used[i, j] = 0
            continue
        bits = used[i, j]
        px, py, pz = sums[0], sums[1], sums[2]
        bx, by, bz = px, py, pz
        if project:
            ar = amb[i] if has_amb else amb[0]
            rows = (ic[i], il[i], ir[i], it[i], ib[i])
            for k in range(5):
                g = 0.0
                for c in range(nch):
                    q = nch * j + c
                    v = max(float(rows[k][q]) - float(ar[q]), 0.0) * scale
                    obs[k, c] = v
                    g += v * (luma[c] if nch == 3 else 1.0)
                grey[k] = g
            # The correction assumes the neighbours' albedo. Where this pixel's observations
            # say otherwise (by more than 1.5×, along the prior's direction: dark hair, brows
            # next to skin), it would turn their albedo difference into a tilt (measured: 9°
            # mean error on a face's filled pixels, against 5° this way). There, rescale the
            # prior to this pixel's albedo, and with one or two lights keep only what is
            # albedo-free: nothing with one, the ratio of the two (c · n = 0) with two.
            pn = np.sqrt(px * px + py * py + pz * pz)
            num = den = 0.0
            nb = 0
            for k in range(5):
                if (bits >> k) & 1:
                    sn = (lights[k, 0] * px + lights[k, 1] * py + lights[k, 2] * pz) / pn
                    num += grey[k] * sn
                    den += sn * sn
                    nb += 1
            ratio = num / den / pn if (den > 1e-9) & (num > 0) else 1.0
            own = (ratio > _ALBEDO_JUMP) | (ratio * _ALBEDO_JUMP < 1.0)
            if own:
                px, py, pz = px * ratio, py * ratio, pz * ratio
                bx, by, bz = px, py, pz
            if own and nb == 2:
                ka = kb = -1
                for k in range(5):
                    if (bits >> k) & 1:
                        kb = k if ka >= 0 else kb
                        ka = k if ka < 0 else ka
                cx = grey[kb] * lights[ka, 0] - grey[ka] * lights[kb, 0]
                cy = grey[kb] * lights[ka, 1] - grey[ka] * lights[kb, 1]
                cz = grey[kb] * lights[ka, 2] - grey[ka] * lights[kb, 2]
                cc = cx * cx + cy * cy + cz * cz
                t = (cx * px + cy * py + cz * pz) / cc if cc > 1e-18 else 0.0
                bx, by, bz = px - t * cx, py - t * cy, pz - t * cz
            elif not (own and nb < 2):
                m0 = m1 = m2 = m3 = m4 = m5 = 0.0
                r0 = r1 = r2 = 0.0
                for k in range(5):
                    if (bits >> k) & 1:
                        sx, sy, sz = lights[k, 0], lights[k, 1], lights[k, 2]
                        e = grey[k] - (sx * px + sy * py + sz * pz)
                        m0 += sx * sx
                        m1 += sx * sy
                        m2 += sx * sz
                        m3 += sy * sy
                        m4 += sy * sz
                        m5 += sz * sz
                        r0 += e * sx
                        r1 += e * sy
                        r2 += e * sz
                dx, dy, dz, _ = _solve3_f64(m0 + lam, m1, m2, m3 + lam, m4, m5 + lam, r0, r1, r2)
                bx, by, bz = px + dx, py + dy, pz + dz
        norm = np.sqrt(bx * bx + by * by + bz * bz)
        if not (norm > 1e-12 and bz > 0.02 * norm):
            # Observations that contradict the neighbours (a tilt past the limb): the prior.
            bx, by, bz = px, py, pz
            norm = np.sqrt(bx * bx + by * by + bz * bz)
        nx, ny, nz = bx / norm, by / norm, max(bz / norm, 1e-3)
        norm = np.sqrt(nx * nx + ny * ny + nz * nz)
        nx, ny, nz = nx / norm, ny / norm, nz / norm
        den = 0.0
        if project:
            for k in range(5):
                sn = max(lights[k, 0] * nx + lights[k, 1] * ny + lights[k, 2] * nz, 0.0)
                grey[k] = sn if (bits >> k) & 1 else 0.0
                den += grey[k] * grey[k]
        for c in range(nch):
            a = sums[5 + c]
            if den > 1e-6:
                a = 0.0
                for k in range(5):
                    a += obs[k, c] * grey[k]
                a /= den
            albedo[i, nch * j + c] = a
        normals[i, 3 * j] = nx
        normals[i, 3 * j + 1] = ny
        normals[i, 3 * j + 2] = nz
        nb = (bits & 1) + ((bits >> 1) & 1) + ((bits >> 2) & 1) + ((bits >> 3) & 1) \
            + ((bits >> 4) & 1)
        confidence[i, j] = 0.05 * nb  # 0.25 × usable / 5: below any solved pixel's
        mask[i, j] = True
        done += 1
    return done


@njit(**_JIT)
def simplified_kernel(
    ic, il, ir, it, ib, amb, has_amb, nch, scale, luma, sat_raw, dark, coeffs, clamp,
    s_center, normals, albedo, mask, confidence, used, flags,
):
    """Chang & Lin: n ∝ W · [r_left, r_right, r_top, r_bottom, 1], r_k = I_k / I_center.

    ``coeffs`` W is 3×5; ``clamp`` holds (p_min, p_max, q_min, q_max) for the gradient
    p = n_x/n_z, q = n_y/n_z; ``s_center`` is the ring flash's intensity × direction, which
    turns I_center into albedo. Every output pixel is written (zeros where invalid).
    Returns the number of pixels marked FILLED (lit but invalid).
    """
    h, w = mask.shape
    grey = np.empty((5, w), np.float32)
    sat = np.empty(w, np.uint8)
    inv_shade = np.empty(w, np.float32)
    valid = np.empty(w, np.bool_)
    clamped = np.empty(w, np.uint8)
    wc = coeffs.astype(np.float32)
    w00, w01, w02, w03, w04 = wc[0, 0], wc[0, 1], wc[0, 2], wc[0, 3], wc[0, 4]
    w10, w11, w12, w13, w14 = wc[1, 0], wc[1, 1], wc[1, 2], wc[1, 3], wc[1, 4]
    w20, w21, w22, w23, w24 = wc[2, 0], wc[2, 1], wc[2, 2], wc[2, 3], wc[2, 4]
    p_lo, p_hi, q_lo, q_hi = _F(clamp[0]), _F(clamp[1]), _F(clamp[2]), _F(clamp[3])
    sc0, sc1, sc2 = _F(s_center[0]), _F(s_center[1]), _F(s_center[2])
    fdark = _F(dark)
    zero = _F(0)
    one = _F(1)
    n_fill = 0
    for i in range(h):
        _grey_rows(ic, il, ir, it, ib, amb, has_amb, i, nch, luma, scale, sat_raw, grey, sat)
        g0, g1, g2, g3, g4 = grey[0], grey[1], grey[2], grey[3], grey[4]
        nrow = normals[i]
        crow = confidence[i]
        for j in range(w):
            gc = g0[j]
            inv_gc = one / max(gc, _F(1e-12))
            r1 = g1[j] * inv_gc
            r2 = g2[j] * inv_gc
            r3 = g3[j] * inv_gc
            r4 = g4[j] * inv_gc
            x = w04 + w00 * r1 + w01 * r2 + w02 * r3 + w03 * r4
            y = w14 + w10 * r1 + w11 * r2 + w12 * r3 + w13 * r4
            z = w24 + w20 * r1 + w21 * r2 + w22 * r3 + w23 * r4
            iz = one / max(z, _F(1e-6))
            p0 = x * iz
            q0 = y * iz
            p = min(max(p0, p_lo), p_hi)
            q = min(max(q0, q_lo), q_hi)
            inv = one / np.sqrt(p * p + q * q + one)
            nx = p * inv
            ny = q * inv
            nz = inv
            shade = sc0 * nx + sc1 * ny + sc2 * nz
            st = sat[j]
            ok = (gc > fdark) & (z > _F(1e-6)) & (shade > _F(1e-6)) & ((st & 1) == 0)
            # Usable directional images: lit and not clipped.
            lit = (((g1[j] > fdark) & ((st & 2) == 0)) + ((g2[j] > fdark) & ((st & 4) == 0))) + (
                ((g3[j] > fdark) & ((st & 8) == 0)) + ((g4[j] > fdark) & ((st & 16) == 0)))
            was_clamped = (p != p0) | (q != q0)
            conf = _F(lit) * _F(0.25) * (_F(0.5) if was_clamped else one)
            valid[j] = ok
            clamped[j] = CLAMPED if was_clamped else _U8(0)
            inv_shade[j] = one / max(shade, _F(1e-6))
            nrow[3 * j] = nx if ok else zero
            nrow[3 * j + 1] = ny if ok else zero
            nrow[3 * j + 2] = nz if ok else zero
            crow[j] = conf if ok else zero
        # Integer bookkeeping: which images are usable, and why not. A pixel that some flash
        # lights (or clips) but that has no solution here is marked FILLED for stereo._fill,
        # with its usable images in ``used``.
        mrow = mask[i]
        urow = used[i]
        frow = flags[i]
        for j in range(w):
            s = sat[j]
            hot = s & _U8(0b11111)  # the ring flash is never clipped where a pixel is valid
            dim = (_U8(1) if g0[j] <= fdark else _U8(0)) | (_U8(2) if g1[j] <= fdark else _U8(0))
            dim |= (_U8(4) if g2[j] <= fdark else _U8(0)) | (_U8(8) if g3[j] <= fdark else _U8(0))
            dim |= _U8(16) if g4[j] <= fdark else _U8(0)
            shadow = dim & ~hot
            f = (SATURATED if hot != 0 else _U8(0)) | (SHADOWED if shadow != 0 else _U8(0))
            f |= clamped[j]
            v = valid[j]
            fill = (~v) & ((dim != _U8(0b11111)) | (hot != 0))
            mrow[j] = v
            urow[j] = (_U8(0b11111) & ~(hot | dim)) if v | fill else _U8(0)
            frow[j] = f if v else (f | FILLED if fill else _U8(0))
            n_fill += 1 if fill else 0
        arow = albedo[i]
        raw = ic[i]
        ar = amb[i] if has_amb else amb[0]
        sc = _F(scale)
        if nch == 3:
            for j in range(w):
                k = inv_shade[j] * sc if valid[j] else zero
                for c in range(3):
                    arow[3 * j + c] = _pos(raw[3 * j + c], ar[3 * j + c]) * k
        else:
            for j in range(w):
                arow[j] = _pos(raw[j], ar[j]) * (inv_shade[j] * sc if valid[j] else zero)
    return n_fill


@njit(inline="always", **_JIT)
def _pos(x, a):
    """x - a, floored at 0, in float32 (a is a zero row when there is no ambient frame)."""
    return max(_F(x) - _F(a), _F(0))


@njit(inline="always", **_JIT)
def _albedo_weights(s, nx, ny, nz, bits, k):
    """w_k (s_k · n) × k for the five lights (``s``: their 15 coordinates, row by row),
    w_k from the usable-lights bitmask ``bits``."""
    zero = _F(0)
    c0 = (s[0] * nx + s[1] * ny + s[2] * nz) * k if bits & 1 else zero
    c1 = (s[3] * nx + s[4] * ny + s[5] * nz) * k if bits & 2 else zero
    c2 = (s[6] * nx + s[7] * ny + s[8] * nz) * k if bits & 4 else zero
    c3 = (s[9] * nx + s[10] * ny + s[11] * nz) * k if bits & 8 else zero
    c4 = (s[12] * nx + s[13] * ny + s[14] * nz) * k if bits & 16 else zero
    return c0, c1, c2, c3, c4


@njit(**_JIT)
def _albedo_row(r0, r1, r2, r3, r4, ar, nch, scale, s, nrow, ucode, idens, out):
    """Colour albedo of one row, straight from the raw rows: per channel
    Σ_k w_k I_k,c (s_k · n) / Σ_k w_k (s_k · n)², with w_k the usable lights' bits in
    ``ucode`` and the inverse denominator in ``idens`` (0 where the pixel is invalid).
    ``ar`` is the ambient row, zeros when there is none. One loop per channel count and no
    branch inside: a branch on ``nch`` or ``has_amb`` in the loop stops vectorisation
    (measured 1.6× slower)."""
    w = idens.shape[0]
    sv = (s[0, 0], s[0, 1], s[0, 2], s[1, 0], s[1, 1], s[1, 2], s[2, 0], s[2, 1], s[2, 2],
          s[3, 0], s[3, 1], s[3, 2], s[4, 0], s[4, 1], s[4, 2])
    if nch == 3:
        for j in range(w):
            c0, c1, c2, c3, c4 = _albedo_weights(sv, nrow[3 * j], nrow[3 * j + 1],
                                                 nrow[3 * j + 2], np.int32(ucode[j]),
                                                 idens[j] * scale)
            for c in range(3):
                q = 3 * j + c
                out[q] = (_pos(r0[q], ar[q]) * c0 + _pos(r1[q], ar[q]) * c1
                          + _pos(r2[q], ar[q]) * c2 + _pos(r3[q], ar[q]) * c3
                          + _pos(r4[q], ar[q]) * c4)
    else:
        for j in range(w):
            c0, c1, c2, c3, c4 = _albedo_weights(sv, nrow[3 * j], nrow[3 * j + 1],
                                                 nrow[3 * j + 2], np.int32(ucode[j]),
                                                 idens[j] * scale)
            out[j] = (_pos(r0[j], ar[j]) * c0 + _pos(r1[j], ar[j]) * c1
                      + _pos(r2[j], ar[j]) * c2 + _pos(r3[j], ar[j]) * c3
                      + _pos(r4[j], ar[j]) * c4)


@njit(inline="always", **_JIT)
def _usable(g, inv_power, s, bit, cut):
    """1 where light ``bit`` is allowed, unsaturated and brighter than ``cut`` (else 0)."""
    return _F(1) if ((s & bit) == 0) & (g * inv_power > cut) else _F(0)


@njit(inline="always", **_JIT)
def _solve3(m0, m1, m2, m3, m4, m5, r0, r1, r2):
    """b = M⁻¹ r for the symmetric 3×3 M = [[m0 m1 m2] [m1 m3 m4] [m2 m4 m5]], by cofactors:
    (bx, by, bz, det). ``det`` is not checked here; the caller selects on it."""
    k00, k01, k02, k11, k12, k22, det = _cofactors(m0, m1, m2, m3, m4, m5)
    inv_det = _F(1) / max(det, _F(1e-12))
    bx = (k00 * r0 + k01 * r1 + k02 * r2) * inv_det
    by = (k01 * r0 + k11 * r1 + k12 * r2) * inv_det
    bz = (k02 * r0 + k12 * r1 + k22 * r2) * inv_det
    return bx, by, bz, det


@njit(inline="always", **_JIT)
def _without(m0, m1, m2, m3, m4, m5, r0, r1, r2, e0, e1, e2, ei):
    """The fit without one light (its s_k = (e0, e1, e2) and observation ``ei``), from the
    normal equations' sums less that light's term: (b, det, the reduced right-hand side,
    the light's prediction s_k · b, whether the remaining lights spread enough to predict).
    det / (trace / 3)³ is 1 for three orthogonal lights, ~0.05 for three of the booth's,
    ~1e-4 for a coplanar three (center, top, bottom): no prediction then."""
    p0, p1, p2 = m0 - e0 * e0, m1 - e0 * e1, m2 - e0 * e2
    p3, p4, p5 = m3 - e1 * e1, m4 - e1 * e2, m5 - e2 * e2
    q0, q1, q2 = r0 - ei * e0, r1 - ei * e1, r2 - ei * e2
    bx, by, bz, det = _solve3(p0, p1, p2, p3, p4, p5, q0, q1, q2)
    tr = (p0 + p3 + p5) * _F(1.0 / 3.0)
    return (bx, by, bz, det, q0, q1, q2, e0 * bx + e1 * by + e2 * bz,
            det > _F(0.01) * tr * tr * tr)


@njit(inline="always", **_JIT)
def _insert2(hi, lo, v):
    """The two largest of {hi, lo, v}, given hi >= lo."""
    return max(hi, v), max(lo, min(hi, v))


@njit(**_JIT)
def lambertian_kernel(
    ic, il, ir, it, ib, amb, has_amb, nch, scale, luma, sat_raw, dark, rel_dark, lights,
    allowed, robust, spec_ratio, spec_margin, spec_cos, cast_ratio, normals, albedo, mask,
    confidence, used, flags,
):
    """Per-pixel least squares I_k = ρ (s_k · n) over the lights usable at that pixel.

    ``lights`` (5, 3) rows are intensity × direction. A light is unusable where saturated,
    outside the ``allowed`` bitmask (a ring flash of unknown direction), or where I_k / |s_k|
    is below ``max(dark, rel_dark × ref)`` (shadowed), ``ref`` the brightest such value at
    that pixel (the second brightest when ``robust``, so that a highlight cannot shadow the
    rest). The fit solves the 3×3 normal equations Σ w_k s_k s_kᵀ b = Σ w_k I_k s_k with
    w_k ∈ {0, 1} by cofactors: the same arithmetic for every pixel, so it vectorises, and
    exact for any subset of three or more lights.

    ``robust`` (specular highlights, RobustPhotometricStereo-style): where four or more lights
    are usable, the fit without the brightest observation (relative to its light's power)
    comes from the same sums minus that light's term. If the observation exceeds that fit's
    prediction by more than ``spec_ratio × pred + spec_margin`` and the remaining lights are
    not nearly coplanar, and the reduced fit's normal is within ``acos(spec_cos)`` of the half
    vector between that light and the view axis (where a highlight can be), the reduced fit
    is used and the pixel flagged SPECULAR. Both fits
    are computed for every pixel and one is selected: a branch would stop vectorisation.

    Cast shadows, the same way (``robust``): the fit without the darkest usable observation;
    if that observation is below ``cast_ratio`` × its prediction minus ``spec_margin`` (a flash
    hidden from the point by the nose or a brow, lit only by what else lights the room), the
    reduced fit is used and the light counts as shadowed. Where both a highlight and a cast
    shadow are candidates, the one whose removal leaves the smaller residual is left out.

    A pixel lit by some flash (brightest observation above ``dark``, or clipped) without a
    valid fit is flagged FILLED, with its usable lights in ``used``, for ``stereo._fill``.
    Returns (pixels flagged FILLED, pixels flagged SPECULAR).
    """
    h, w = mask.shape
    grey = np.empty((5, w), np.float32)
    sat = np.empty(w, np.uint8)
    # What the solve leaves for the later loops of the row, as float32 so that the solve
    # stays one vectorisable loop. Keep these few: with a buffer per quantity (albedo
    # weights, counts, flags) LLVM gives up on its aliasing checks, measured 4× slower.
    ucode = np.empty(w, np.float32)  # usable lights' bitmask, an exact small float
    idens = np.empty(w, np.float32)  # 1 / Σ w_k (s_k · n)², 0 where the pixel is invalid
    # 1: valid; 2: lit; 4 × the bit of a light left out as specular (exact small floats).
    state = np.empty(w, np.float32)
    s = lights.astype(np.float32)
    ip = np.empty(5, np.float32)
    nallowed = 0
    for k in range(5):
        norm = np.sqrt(s[k, 0] ** 2 + s[k, 1] ** 2 + s[k, 2] ** 2)
        ip[k] = _F(1) / norm if norm > 0 else _F(0)
        nallowed += (allowed >> k) & 1
        # A calibrated ring flash comes as (-1e-17, -4e-15, 1): products of such components
        # in the cofactors are subnormal floats, which x86 computes ~100× slower (measured
        # 1.7× on the whole kernel). Below 1e-6 of the light's power they are noise: zero.
        for c in range(3):
            s[k, c] = s[k, c] if abs(s[k, c]) > _F(1e-6) * norm else _F(0)
    ip0, ip1, ip2, ip3, ip4 = ip[0], ip[1], ip[2], ip[3], ip[4]
    s00, s01, s02 = s[0, 0], s[0, 1], s[0, 2]
    s10, s11, s12 = s[1, 0], s[1, 1], s[1, 2]
    s20, s21, s22 = s[2, 0], s[2, 1], s[2, 2]
    s30, s31, s32 = s[3, 0], s[3, 1], s[3, 2]
    s40, s41, s42 = s[4, 0], s[4, 1], s[4, 2]
    # A light outside ``allowed`` counts as permanently saturated: never used, never flagged.
    blocked = _U8(~allowed & 0b11111)
    fdark = _F(dark)
    frel = _F(rel_dark)
    fratio = _F(spec_ratio)
    fmargin = _F(spec_margin)
    shadow_ratio = _F(cast_ratio)
    spec_cos = _F(spec_cos)
    # A rejection needs four usable lights, so that three remain for the reduced fit; with
    # robust off, never.
    min_cnt = _F(4) if robust else _F(99)
    zero = _F(0)
    one = _F(1)
    half = _F(0.5)
    eps = _F(1e-12)
    inv_nallowed = one / _F(nallowed)
    n_fill = 0
    n_spec = 0
    for i in range(h):
        _grey_rows(ic, il, ir, it, ib, amb, has_amb, i, nch, luma, scale, sat_raw, grey, sat)
        g0, g1, g2, g3, g4 = grey[0], grey[1], grey[2], grey[3], grey[4]
        nrow = normals[i]
        crow = confidence[i]
        for j in range(w):
            st = sat[j] | blocked
            a0, a1, a2, a3, a4 = g0[j], g1[j], g2[j], g3[j], g4[j]
            v0 = a0 * ip0 if (st & 1) == 0 else zero
            v1 = a1 * ip1 if (st & 2) == 0 else zero
            v2 = a2 * ip2 if (st & 4) == 0 else zero
            v3 = a3 * ip3 if (st & 8) == 0 else zero
            v4 = a4 * ip4 if (st & 16) == 0 else zero
            top1, top2 = max(v0, v1), min(v0, v1)
            top1, top2 = _insert2(top1, top2, v2)
            top1, top2 = _insert2(top1, top2, v3)
            top1, top2 = _insert2(top1, top2, v4)
            brightest = top1
            cut = max(fdark, frel * (top2 if robust else top1))
            u0 = _usable(a0, ip0, st, 1, cut)
            u1 = _usable(a1, ip1, st, 2, cut)
            u2 = _usable(a2, ip2, st, 4, cut)
            u3 = _usable(a3, ip3, st, 8, cut)
            u4 = _usable(a4, ip4, st, 16, cut)
            m0 = u0 * s00 * s00 + u1 * s10 * s10 + u2 * s20 * s20 + u3 * s30 * s30 \
                + u4 * s40 * s40
            m1 = u0 * s00 * s01 + u1 * s10 * s11 + u2 * s20 * s21 + u3 * s30 * s31 \
                + u4 * s40 * s41
            m2 = u0 * s00 * s02 + u1 * s10 * s12 + u2 * s20 * s22 + u3 * s30 * s32 \
                + u4 * s40 * s42
            m3 = u0 * s01 * s01 + u1 * s11 * s11 + u2 * s21 * s21 + u3 * s31 * s31 \
                + u4 * s41 * s41
            m4 = u0 * s01 * s02 + u1 * s11 * s12 + u2 * s21 * s22 + u3 * s31 * s32 \
                + u4 * s41 * s42
            m5 = u0 * s02 * s02 + u1 * s12 * s12 + u2 * s22 * s22 + u3 * s32 * s32 \
                + u4 * s42 * s42
            b0, b1, b2, b3, b4 = u0 * a0, u1 * a1, u2 * a2, u3 * a3, u4 * a4
            r0 = b0 * s00 + b1 * s10 + b2 * s20 + b3 * s30 + b4 * s40
            r1 = b0 * s01 + b1 * s11 + b2 * s21 + b3 * s31 + b4 * s41
            r2 = b0 * s02 + b1 * s12 + b2 * s22 + b3 * s32 + b4 * s42
            tot = b0 * b0 + b1 * b1 + b2 * b2 + b3 * b3 + b4 * b4
            cnt = u0 + u1 + u2 + u3 + u4
            bx, by, bz, det = _solve3(m0, m1, m2, m3, m4, m5, r0, r1, r2)
            # The brightest observation's light (it is usable whenever any light is): its
            # s_k, I_k and bit, by selects.
            c = v1 > v0
            e0, e1, e2 = (s10 if c else s00), (s11 if c else s01), (s12 if c else s02)
            ei, ebit, ev = (a1 if c else a0), (_F(2) if c else one), max(v0, v1)
            c = v2 > ev
            e0, e1, e2 = (s20 if c else e0), (s21 if c else e1), (s22 if c else e2)
            ei, ebit, ev = (a2 if c else ei), (_F(4) if c else ebit), max(ev, v2)
            c = v3 > ev
            e0, e1, e2 = (s30 if c else e0), (s31 if c else e1), (s32 if c else e2)
            ei, ebit, ev = (a3 if c else ei), (_F(8) if c else ebit), max(ev, v3)
            c = v4 > ev
            e0, e1, e2 = (s40 if c else e0), (s41 if c else e1), (s42 if c else e2)
            ei, ebit = (a4 if c else ei), (_F(16) if c else ebit)
            # The same sums without it: the fit of the other lights, and its prediction.
            cx, cy, cz, det2, q0, q1, q2, pred, spread = _without(
                m0, m1, m2, m3, m4, m5, r0, r1, r2, e0, e1, e2, ei)
            # A flash's highlight shows only where the surface faces about halfway between
            # it and the camera (the half vector h): not at a silhouette, where a small error
            # in a light's calibrated direction makes any prediction from the others poor.
            el = np.sqrt(e0 * e0 + e1 * e1 + e2 * e2)
            hx, hy, hz = e0 / max(el, eps), e1 / max(el, eps), e2 / max(el, eps) + one
            hn = np.sqrt(hx * hx + hy * hy + hz * hz)
            cn = np.sqrt(cx * cx + cy * cy + cz * cz)
            facing = (cx * hx + cy * hy + cz * hz) > spec_cos * max(hn * cn, eps)
            spec = (cnt >= min_cnt) & spread & (cz > zero) & (ei > fratio * pred + fmargin) \
                & facing
            # The darkest usable observation's light: a cast shadow (the nose's, a brow's)
            # leaves a flash's image dark where the surface faces it; what light remains
            # (room light, the face's own reflections) keeps it above the dark cut.
            big = _F(3.0e38)
            dv = v0 if u0 > zero else big
            d0, d1, d2, di, dbit = s00, s01, s02, a0, one
            c = (u1 > zero) & (v1 < dv)
            d0, d1, d2 = (s10 if c else d0), (s11 if c else d1), (s12 if c else d2)
            di, dbit, dv = (a1 if c else di), (_F(2) if c else dbit), (v1 if c else dv)
            c = (u2 > zero) & (v2 < dv)
            d0, d1, d2 = (s20 if c else d0), (s21 if c else d1), (s22 if c else d2)
            di, dbit, dv = (a2 if c else di), (_F(4) if c else dbit), (v2 if c else dv)
            c = (u3 > zero) & (v3 < dv)
            d0, d1, d2 = (s30 if c else d0), (s31 if c else d1), (s32 if c else d2)
            di, dbit, dv = (a3 if c else di), (_F(8) if c else dbit), (v3 if c else dv)
            c = (u4 > zero) & (v4 < dv)
            d0, d1, d2 = (s40 if c else d0), (s41 if c else d1), (s42 if c else d2)
            di, dbit = (a4 if c else di), (_F(16) if c else dbit)
            sx, sy, sz, det3, w0, w1, w2, dpred, spread3 = _without(
                m0, m1, m2, m3, m4, m5, r0, r1, r2, d0, d1, d2, di)
            # Shadowed: under half what the other lights predict (a flash hidden behind the
            # nose gives nothing of its own; noise and shading changes do not halve it), or
            # lit at all where the others say the surface turns away from that flash (room
            # light in an attached shadow, which would pull the normal toward the flash).
            solid = (cnt >= min_cnt) & spread3 & (sz > zero)
            behind = solid & (dpred <= fmargin)
            cast = solid & (di < shadow_ratio * dpred - fmargin)
            # Both candidates: leave out the one whose removal fits the rest better; a light
            # the surface turns away from tells nothing of the normal, and goes first.
            res_spec = (tot - ei * ei) - (cx * q0 + cy * q1 + cz * q2)
            res_cast = (tot - di * di) - (sx * w0 + sy * w1 + sz * w2)
            cast = behind | (cast & ~(spec & (res_spec <= res_cast)))
            spec = spec & ~cast
            bx, by, bz = (cx if spec else bx), (cy if spec else by), (cz if spec else bz)
            r0, r1, r2 = (q0 if spec else r0), (q1 if spec else r1), (q2 if spec else r2)
            tot = tot - ei * ei if spec else tot
            cnt = cnt - one if spec else cnt
            det = det2 if spec else det
            rej = ebit if spec else zero
            bx, by, bz = (sx if cast else bx), (sy if cast else by), (sz if cast else bz)
            r0, r1, r2 = (w0 if cast else r0), (w1 if cast else r1), (w2 if cast else r2)
            tot = tot - di * di if cast else tot
            cnt = cnt - one if cast else cnt
            det = det3 if cast else det
            # A light left out as cast shadow leaves the usable set (flagged SHADOWED).
            dropped = dbit if cast else zero
            rho = np.sqrt(bx * bx + by * by + bz * bz)
            inv_rho = one / max(rho, eps)
            nx = bx * inv_rho
            ny = by * inv_rho
            nz = bz * inv_rho
            # At the least-squares solution ρ n = M⁻¹ r, so Σ w_k (s_k · n)² = (r · n) / ρ and
            # the residual Σ w_k (I_k - ρ s_k · n)² = Σ w_k I_k² - ρ (r · n): no second pass.
            rn = r0 * nx + r1 * ny + r2 * nz
            den = rn * inv_rho
            res = max(tot - rho * rn, zero)
            ok = (cnt >= _F(3)) & (det > eps) & (rho > _F(1e-9)) & (bz > zero)
            rel = np.sqrt(res / max(tot, eps))
            # Floored at half, so that every solved pixel is more trusted than a filled one.
            conf = cnt * inv_nallowed * max(half, one - rel * _F(5))
            idens[j] = one / max(den, eps) if ok else zero
            ucode[j] = u0 + _F(2) * u1 + _F(4) * u2 + _F(8) * u3 + _F(16) * u4 - rej - dropped
            lit = (brightest > fdark) | ((st & ~blocked) != 0)
            state[j] = (one if ok else zero) + (_F(2) if lit else zero) + _F(4) * rej
            nrow[3 * j] = nx if ok else zero
            nrow[3 * j + 1] = ny if ok else zero
            nrow[3 * j + 2] = nz if ok else zero
            crow[j] = conf if ok else zero
        # Integer bookkeeping: which images were used, and why the others were not.
        mrow = mask[i]
        urow = used[i]
        frow = flags[i]
        for j in range(w):
            bits = _U8(np.int32(ucode[j]))
            code = np.int32(state[j])
            rej = _U8((code >> 2) & 0b11111)
            hot = sat[j] & ~blocked
            shadow = _U8(0b11111) & ~bits & ~sat[j] & ~blocked & ~rej
            v = (code & 1) != 0
            lit = (code & 2) != 0
            fill = lit & ~v
            nb = (bits & 1) + ((bits >> 1) & 1) + ((bits >> 2) & 1) + ((bits >> 3) & 1) \
                + ((bits >> 4) & 1)
            f = (SATURATED if hot != 0 else _U8(0)) | (SHADOWED if shadow != 0 else _U8(0))
            f |= UNDERDETERMINED if lit & (nb < 3) else _U8(0)
            f |= SPECULAR if rej != 0 else _U8(0)
            f |= FILLED if fill else _U8(0)
            mrow[j] = v
            urow[j] = bits if lit else _U8(0)
            frow[j] = f if lit else _U8(0)
            n_fill += 1 if fill else 0
            n_spec += 1 if (rej != 0) & v else 0
        _albedo_row(ic[i], il[i], ir[i], it[i], ib[i], amb[i] if has_amb else amb[0],
                    nch, _F(scale), s, nrow, ucode, idens, albedo[i])
    return n_fill, n_spec
