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
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Per-pixel flags (StereoResult.flags).
SHADOWED = np.uint8(1)  # at least one flash image too dark to use at this pixel
SATURATED = np.uint8(2)  # at least one flash image clipped at this pixel
UNDERDETERMINED = np.uint8(4)  # lit, but by fewer than three usable lights
CLAMPED = np.uint8(8)  # simplified: gradient clamped to the range seen on the sphere

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


@njit(**_JIT)
def simplified_kernel(
    ic, il, ir, it, ib, amb, has_amb, nch, scale, luma, sat_raw, dark, coeffs, clamp,
    s_center, normals, albedo, mask, confidence, used, flags,
):
    """Chang & Lin: n ∝ W · [r_left, r_right, r_top, r_bottom, 1], r_k = I_k / I_center.

    ``coeffs`` W is 3×5; ``clamp`` holds (p_min, p_max, q_min, q_max) for the gradient
    p = n_x/n_z, q = n_y/n_z; ``s_center`` is the ring flash's intensity × direction, which
    turns I_center into albedo. Every output pixel is written (zeros where invalid).
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
        # Integer bookkeeping: which images are usable, and why not.
        mrow = mask[i]
        urow = used[i]
        frow = flags[i]
        for j in range(w):
            s = sat[j]
            hot = s & _U8(0b11110)
            dim = (_U8(2) if g1[j] <= fdark else _U8(0)) | (_U8(4) if g2[j] <= fdark else _U8(0))
            dim |= (_U8(8) if g3[j] <= fdark else _U8(0)) | (_U8(16) if g4[j] <= fdark else _U8(0))
            shadow = dim & ~hot
            f = (SATURATED if hot != 0 else _U8(0)) | (SHADOWED if shadow != 0 else _U8(0))
            f |= clamped[j]
            v = valid[j]
            mrow[j] = v
            urow[j] = (_U8(0b11111) & ~(hot | dim)) if v else _U8(0)
            frow[j] = f if v else _U8(0)
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


@njit(**_JIT)
def lambertian_kernel(
    ic, il, ir, it, ib, amb, has_amb, nch, scale, luma, sat_raw, dark, rel_dark, lights,
    allowed, normals, albedo, mask, confidence, used, flags,
):
    """Per-pixel least squares I_k = ρ (s_k · n) over the lights usable at that pixel.

    ``lights`` (5, 3) rows are intensity × direction. A light is unusable where saturated,
    outside the ``allowed`` bitmask (a ring flash of unknown direction), or where I_k / |s_k|
    is below ``max(dark, rel_dark × the brightest such value at that pixel)`` (shadowed).
    The fit solves the 3×3 normal equations Σ w_k s_k s_kᵀ b = Σ w_k I_k s_k with
    w_k ∈ {0, 1} by cofactors: the same arithmetic for every pixel, so it vectorises, and
    exact for any subset of three or more lights.
    """
    h, w = mask.shape
    grey = np.empty((5, w), np.float32)
    sat = np.empty(w, np.uint8)
    # What the solve leaves for the later loops of the row, as float32 so that the solve
    # stays one vectorisable loop. Keep these few: with a buffer per quantity (albedo
    # weights, counts, flags) LLVM gives up on its aliasing checks, measured 4× slower.
    ucode = np.empty(w, np.float32)  # usable lights' bitmask, an exact small float
    idens = np.empty(w, np.float32)  # 1 / Σ w_k (s_k · n)², 0 where the pixel is invalid
    state = np.empty(w, np.float32)  # 1: valid; 2: lit but by fewer than three lights
    s = lights.astype(np.float32)
    ip = np.empty(5, np.float32)
    nallowed = 0
    for k in range(5):
        norm = np.sqrt(s[k, 0] ** 2 + s[k, 1] ** 2 + s[k, 2] ** 2)
        ip[k] = _F(1) / norm if norm > 0 else _F(0)
        nallowed += (allowed >> k) & 1
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
    zero = _F(0)
    one = _F(1)
    eps = _F(1e-12)
    inv_nallowed = one / _F(nallowed)
    for i in range(h):
        _grey_rows(ic, il, ir, it, ib, amb, has_amb, i, nch, luma, scale, sat_raw, grey, sat)
        g0, g1, g2, g3, g4 = grey[0], grey[1], grey[2], grey[3], grey[4]
        nrow = normals[i]
        crow = confidence[i]
        for j in range(w):
            st = sat[j] | blocked
            a0, a1, a2, a3, a4 = g0[j], g1[j], g2[j], g3[j], g4[j]
            brightest = max(
                max(a0 * ip0 if (st & 1) == 0 else zero, a1 * ip1 if (st & 2) == 0 else zero),
                max(max(a2 * ip2 if (st & 4) == 0 else zero, a3 * ip3 if (st & 8) == 0
                        else zero), a4 * ip4 if (st & 16) == 0 else zero))
            cut = max(fdark, frel * brightest)
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
            # Symmetric 3×3 [[m0 m1 m2] [m1 m3 m4] [m2 m4 m5]]: cofactors, determinant.
            k00 = m3 * m5 - m4 * m4
            k01 = m2 * m4 - m1 * m5
            k02 = m1 * m4 - m2 * m3
            k11 = m0 * m5 - m2 * m2
            k12 = m1 * m2 - m0 * m4
            k22 = m0 * m3 - m1 * m1
            det = m0 * k00 + m1 * k01 + m2 * k02
            inv_det = one / max(det, eps)
            bx = (k00 * r0 + k01 * r1 + k02 * r2) * inv_det
            by = (k01 * r0 + k11 * r1 + k12 * r2) * inv_det
            bz = (k02 * r0 + k12 * r1 + k22 * r2) * inv_det
            rho = np.sqrt(bx * bx + by * by + bz * bz)
            inv_rho = one / max(rho, eps)
            nx = bx * inv_rho
            ny = by * inv_rho
            nz = bz * inv_rho
            # At the least-squares solution ρ n = M⁻¹ r, so Σ w_k (s_k · n)² = (r · n) / ρ and
            # the residual Σ w_k (I_k - ρ s_k · n)² = Σ w_k I_k² - ρ (r · n): no second pass.
            rn = r0 * nx + r1 * ny + r2 * nz
            den = rn * inv_rho
            tot = b0 * b0 + b1 * b1 + b2 * b2 + b3 * b3 + b4 * b4
            res = max(tot - rho * rn, zero)
            cnt = u0 + u1 + u2 + u3 + u4
            ok = (cnt >= _F(3)) & (det > eps) & (rho > _F(1e-9)) & (bz > zero)
            rel = np.sqrt(res / max(tot, eps))
            conf = cnt * inv_nallowed * max(zero, one - rel * _F(5))
            idens[j] = one / max(den, eps) if ok else zero
            ucode[j] = u0 + _F(2) * u1 + _F(4) * u2 + _F(8) * u3 + _F(16) * u4
            lit = (brightest > fdark) | ((st & ~blocked) != 0)
            state[j] = (one if ok else zero) + (_F(2) if lit & (cnt < _F(3)) else zero)
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
            hot = sat[j] & ~blocked
            shadow = _U8(0b11111) & ~bits & ~sat[j] & ~blocked
            v = (code & 1) != 0
            under = (code & 2) != 0
            f = (SATURATED if hot != 0 else _U8(0)) | (UNDERDETERMINED if under else _U8(0))
            f |= SHADOWED if shadow != 0 else _U8(0)
            mrow[j] = v
            urow[j] = bits if v else _U8(0)
            frow[j] = f if (v | under) else _U8(0)
        _albedo_row(ic[i], il[i], ir[i], it[i], ib[i], amb[i] if has_amb else amb[0],
                    nch, _F(scale), s, nrow, ucode, idens, albedo[i])
