"""Classical Lambertian photometric stereo: least squares over the calibrated light
directions, shadowed, clipped and specular observations left out of each pixel's fit.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numba import njit

from photometric.lights import CHANNELS, LightRig, nominal_rig
from photometric.stereo.fill import cofactors, fill_holes, mark_holes
from photometric.stereo.inputs import Thresholds, prepare, radiometry
from photometric.stereo.result import StereoResult, make_result, new_outputs
from photometric.stereo.rows import (
    BLOCK,
    F32,
    FINE,
    JIT,
    U8,
    bit_and,
    bit_or,
    lit_floor,
    nn,
    positive,
    raw_at_least,
    row_runs,
)


def lambertian(
    images: Mapping[str, np.ndarray],
    rig: LightRig | None = None,
    thresholds: Thresholds = Thresholds(),
    white_level: float | None = None,
    robust: bool = True,
) -> StereoResult:
    """Normals by per-pixel least squares over the usable flashes (ring flash included when
    ``rig`` gives its direction). ``rig`` defaults to the nominal booth.

    ``white_level``: the raw value the sensor clips at, in the images' units (default the
    type's full scale: 255, 65535, 1.0). ``robust``: leave a specular highlight out of the
    fit where four or more flashes are usable (SPECULAR); off for cross-polarised captures,
    whose brightest observation is never a highlight. Lit pixels with fewer than three usable
    flashes are filled from their neighbours and their own observations (FILLED)."""
    if rig is None:
        rig = nominal_rig()
    prepared = prepare(images)
    imgs, amb, has_amb, nch, full, luma = prepared
    level, dark, sat_raw = radiometry(prepared, thresholds, white_level)
    sat_cmp, clip = raw_at_least(sat_raw, imgs[0].dtype)
    has_center = "center" in rig.directions
    lights = np.array([
        rig.intensity(c) * rig.direction(c) if c in rig.directions else np.array([0, 0, 1.0])
        for c in CHANNELS
    ])
    allowed = 0b11111 if has_center else 0b11110
    # The kernel's float32 determinant tests are absolute: lights calibrated on a sphere shot
    # at 1 % of range (intensities ~0.007) would fail them. Solve with the brightest light at
    # unit power and scale the albedo back: albedo ∝ 1 / power, normals do not change. The
    # kernel and the fill write it scaled (a pass over the albedo afterwards cost 20 ms).
    power = float(np.linalg.norm(lights, axis=1).max()) or 1.0
    lights = np.ascontiguousarray(lights / power, np.float64)
    outs = new_outputs(imgs[0].shape[0], imgs[0].shape[1] // nch, nch)
    norms = np.linalg.norm(lights, axis=1)
    inv_power = np.divide(1.0, norms, out=np.zeros(5), where=norms > 0)
    lit_raw = lit_floor(dark, 1.0 / full, luma, nch, inv_power, sat_raw, imgs[0].dtype)
    n_fill, _ = lambertian_kernel(
        *imgs, amb, has_amb, nch, 1.0 / full, luma, sat_cmp, clip, dark, lit_raw,
        thresholds.relative_dark,
        lights, allowed, bool(robust), thresholds.specular_ratio,
        thresholds.specular_margin * level,
        float(np.cos(np.radians(thresholds.specular_half_angle))), thresholds.cast_ratio,
        power, *outs,
    )
    result = make_result(outs, "lambertian", level, dark)
    n_fill += mark_holes(result)
    if n_fill:  # a light not ``allowed`` is never used
        fill_holes(result, prepared, lights, n_fill, power)
    return result


@njit(inline="always", **JIT)
def _albedo_weights(s, nx, ny, nz, bits, k):
    """w_k (s_k · n) × k for the five lights (``s``: their 15 coordinates, row by row),
    w_k from the usable-lights bitmask ``bits``."""
    zero = F32(0)
    c0 = (s[0] * nx + s[1] * ny + s[2] * nz) * k if bits & 1 else zero
    c1 = (s[3] * nx + s[4] * ny + s[5] * nz) * k if bits & 2 else zero
    c2 = (s[6] * nx + s[7] * ny + s[8] * nz) * k if bits & 4 else zero
    c3 = (s[9] * nx + s[10] * ny + s[11] * nz) * k if bits & 8 else zero
    c4 = (s[12] * nx + s[13] * ny + s[14] * nz) * k if bits & 16 else zero
    return c0, c1, c2, c3, c4


@njit(**JIT)
def _albedo_row(r0, r1, r2, r3, r4, ar, has_amb, nch, scale, s, nrow, ucode, idens, out):
    """Colour albedo of one row, straight from the raw rows: per channel
    Σ_k w_k I_k,c (s_k · n) / Σ_k w_k (s_k · n)², with w_k the usable lights' bits in
    ``ucode`` and the inverse denominator in ``idens`` (0 where the pixel is invalid).
    ``ar`` is the ambient row, read only ``has_amb`` (or a run of these rows: views from
    the run's first pixel). One loop per case and no branch inside: a branch on ``nch``
    or ``has_amb`` in the loop stops vectorisation (measured 1.6× slower)."""
    w = idens.shape[0]
    sv = (s[0, 0], s[0, 1], s[0, 2], s[1, 0], s[1, 1], s[1, 2], s[2, 0], s[2, 1], s[2, 2],
          s[3, 0], s[3, 1], s[3, 2], s[4, 0], s[4, 1], s[4, 2])
    if nch == 3 and not has_amb:
        for j in range(w):
            c0, c1, c2, c3, c4 = _albedo_weights(sv, nrow[3 * j], nrow[3 * j + 1],
                                                 nrow[3 * j + 2], np.int32(ucode[j]),
                                                 idens[j] * scale)
            for c in range(3):
                q = 3 * j + c
                out[q] = (nn(r0[q]) * c0 + nn(r1[q]) * c1 + nn(r2[q]) * c2
                          + nn(r3[q]) * c3 + nn(r4[q]) * c4)
    elif nch == 3:
        for j in range(w):
            c0, c1, c2, c3, c4 = _albedo_weights(sv, nrow[3 * j], nrow[3 * j + 1],
                                                 nrow[3 * j + 2], np.int32(ucode[j]),
                                                 idens[j] * scale)
            for c in range(3):
                q = 3 * j + c
                out[q] = (positive(r0[q], ar[q]) * c0 + positive(r1[q], ar[q]) * c1
                          + positive(r2[q], ar[q]) * c2 + positive(r3[q], ar[q]) * c3
                          + positive(r4[q], ar[q]) * c4)
    else:
        for j in range(w):
            c0, c1, c2, c3, c4 = _albedo_weights(sv, nrow[3 * j], nrow[3 * j + 1],
                                                 nrow[3 * j + 2], np.int32(ucode[j]),
                                                 idens[j] * scale)
            out[j] = (positive(r0[j], ar[j]) * c0 + positive(r1[j], ar[j]) * c1
                      + positive(r2[j], ar[j]) * c2 + positive(r3[j], ar[j]) * c3
                      + positive(r4[j], ar[j]) * c4)


@njit(inline="always", **JIT)
def _usable(g, inv_power, s, bit, cut):
    """1 where light ``bit`` is allowed, unsaturated and brighter than ``cut`` (else 0)."""
    return F32(1) if (bit_and(s, U8(bit)) == U8(0)) & (g * inv_power > cut) else F32(0)


@njit(inline="always", **JIT)
def solve3(m0, m1, m2, m3, m4, m5, r0, r1, r2):
    """b = M⁻¹ r for the symmetric 3×3 M = [[m0 m1 m2] [m1 m3 m4] [m2 m4 m5]], by cofactors:
    (bx, by, bz, det). ``det`` is not checked here; the caller selects on it."""
    k00, k01, k02, k11, k12, k22, det = cofactors(m0, m1, m2, m3, m4, m5)
    inv_det = F32(1) / max(det, F32(1e-12))
    bx = (k00 * r0 + k01 * r1 + k02 * r2) * inv_det
    by = (k01 * r0 + k11 * r1 + k12 * r2) * inv_det
    bz = (k02 * r0 + k12 * r1 + k22 * r2) * inv_det
    return bx, by, bz, det


@njit(inline="always", **JIT)
def _without(m0, m1, m2, m3, m4, m5, r0, r1, r2, e0, e1, e2, ei):
    """The fit without one light (its s_k = (e0, e1, e2) and observation ``ei``), from the
    normal equations' sums less that light's term: (b, det, the reduced right-hand side,
    the light's prediction s_k · b, whether the remaining lights spread enough to predict).
    det / (trace / 3)³ is 1 for three orthogonal lights, ~0.05 for three of the booth's,
    ~1e-4 for a coplanar three (center, top, bottom): no prediction then."""
    p0, p1, p2 = m0 - e0 * e0, m1 - e0 * e1, m2 - e0 * e2
    p3, p4, p5 = m3 - e1 * e1, m4 - e1 * e2, m5 - e2 * e2
    q0, q1, q2 = r0 - ei * e0, r1 - ei * e1, r2 - ei * e2
    bx, by, bz, det = solve3(p0, p1, p2, p3, p4, p5, q0, q1, q2)
    tr = (p0 + p3 + p5) * F32(1.0 / 3.0)
    return (bx, by, bz, det, q0, q1, q2, e0 * bx + e1 * by + e2 * bz,
            det > F32(0.01) * tr * tr * tr)


@njit(inline="always", **JIT)
def _insert2(hi, lo, v):
    """The two largest of {hi, lo, v}, given hi >= lo."""
    return max(hi, v), max(lo, min(hi, v))


@njit(**JIT)
def lambertian_kernel(
    ic, il, ir, it, ib, amb, has_amb, nch, scale, luma, sat_raw, clip, dark, lit_raw, rel_dark,
    lights, allowed, robust, spec_ratio, spec_margin, spec_cos, cast_ratio, power, normals,
    albedo, mask, confidence, used, flags,
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
    valid fit is flagged FILLED, with its usable lights in ``used``, for ``fill``.
    Only the stretches of each row that some flash may light (:func:`row_runs`) are
    written: the outputs must arrive zeroed. Returns (pixels flagged FILLED, pixels flagged
    SPECULAR).
    """
    h, w = mask.shape
    grey = np.empty((5, w), np.float32)
    sat = np.empty(w, np.uint8)
    # What the solve leaves for the later loops of the row, as float32 so that the solve
    # stays one vectorisable loop. Keep these few: with a buffer per quantity (albedo
    # weights, counts, flags) LLVM gives up on its aliasing checks, measured 4× slower.
    ucode = np.empty(w, np.float32)  # usable lights' bitmask, an exact small float
    idens = np.empty(w, np.float32)  # 1 / Σ w_k (s_k · n)², 0 where the pixel is invalid
    # The pixel's flags, an exact small float (0 where no flash lights it).
    state = np.empty(w, np.float32)
    s = lights.astype(np.float32)
    ip = np.empty(5, np.float32)
    nallowed = 0
    for k in range(5):
        norm = np.sqrt(s[k, 0] ** 2 + s[k, 1] ** 2 + s[k, 2] ** 2)
        ip[k] = F32(1) / norm if norm > 0 else F32(0)
        nallowed += (allowed >> k) & 1
        # A calibrated ring flash comes as (-1e-17, -4e-15, 1): products of such components
        # in the cofactors are subnormal floats, which x86 computes ~100× slower (measured
        # 1.7× on the whole kernel). Below 1e-6 of the light's power they are noise: zero.
        for c in range(3):
            s[k, c] = s[k, c] if abs(s[k, c]) > F32(1e-6) * norm else F32(0)
    # Each light's half vector between it and the view axis, unit length: where its
    # highlight can be (see ``facing`` below). Per light, not per pixel: no square roots or
    # divisions in the loop.
    hv = np.zeros((5, 3), np.float32)
    for k in range(5):
        el = max(np.sqrt(s[k, 0] ** 2 + s[k, 1] ** 2 + s[k, 2] ** 2), F32(1e-12))
        hx, hy, hz = s[k, 0] / el, s[k, 1] / el, s[k, 2] / el + F32(1)
        hn = np.sqrt(hx * hx + hy * hy + hz * hz)
        if hn > F32(1e-12):
            hv[k, 0], hv[k, 1], hv[k, 2] = hx / hn, hy / hn, hz / hn
    ip0, ip1, ip2, ip3, ip4 = ip[0], ip[1], ip[2], ip[3], ip[4]
    h00, h01, h02 = hv[0, 0], hv[0, 1], hv[0, 2]
    h10, h11, h12 = hv[1, 0], hv[1, 1], hv[1, 2]
    h20, h21, h22 = hv[2, 0], hv[2, 1], hv[2, 2]
    h30, h31, h32 = hv[3, 0], hv[3, 1], hv[3, 2]
    h40, h41, h42 = hv[4, 0], hv[4, 1], hv[4, 2]
    s00, s01, s02 = s[0, 0], s[0, 1], s[0, 2]
    s10, s11, s12 = s[1, 0], s[1, 1], s[1, 2]
    s20, s21, s22 = s[2, 0], s[2, 1], s[2, 2]
    s30, s31, s32 = s[3, 0], s[3, 1], s[3, 2]
    s40, s41, s42 = s[4, 0], s[4, 1], s[4, 2]
    # A light outside ``allowed`` counts as permanently saturated: never used, never flagged.
    blocked = U8(~allowed & 0b11111)
    fdark = F32(dark)
    frel = F32(rel_dark)
    fratio = F32(spec_ratio)
    fmargin = F32(spec_margin)
    shadow_ratio = F32(cast_ratio)
    # ``facing`` compares c · h with cos × |c| without the square root: t ↦ t|t| keeps order.
    spec_cos2 = F32(spec_cos * abs(spec_cos))
    # A rejection needs four usable lights, so that three remain for the reduced fit; with
    # robust off, never.
    min_cnt = F32(4) if robust else F32(99)
    zero = F32(0)
    one = F32(1)
    half = F32(0.5)
    eps = F32(1e-12)
    inv_nallowed = one / F32(nallowed)
    fallowed = F32(nallowed)
    alb_scale = F32(scale / power)  # the albedo in units of the lights' before ``lights / power``
    coarse = np.empty(w // BLOCK * 2 + 2, np.int64)
    runs = np.empty(w // FINE * 2 + 2, np.int64)
    hit = np.zeros((w + BLOCK - 1) // BLOCK * BLOCK * nch, np.uint8)
    litbuf = np.zeros((w + 7) // 8 * 8, np.uint8)
    n_fill = 0
    n_spec = 0
    for i in range(h):
        ar = amb[i] if has_amb else amb[0]
        nruns = row_runs(ic, il, ir, it, ib, ar, has_amb, i, nch, luma, scale, sat_raw,
                          clip, lit_raw, ip, fdark, hit, coarse, grey, sat, litbuf, runs)
        for r in range(nruns):
            # Views of the run, indexed from 0: LLVM then knows that no index is negative
            # (a loop from j0 keeps numba's wraparound test on every index, which stops
            # vectorisation).
            j0, j1 = runs[2 * r], runs[2 * r + 1]
            g0, g1, g2, g3, g4 = (grey[0, j0:j1], grey[1, j0:j1], grey[2, j0:j1],
                                  grey[3, j0:j1], grey[4, j0:j1])
            srow = sat[j0:j1]
            ucv, idv, stv = ucode[j0:j1], idens[j0:j1], state[j0:j1]
            nrow = normals[i, 3 * j0:3 * j1]
            crow = confidence[i, j0:j1]
            mrow = mask[i, j0:j1]
            urow = used[i, j0:j1]
            frow = flags[i, j0:j1]
            nfill = zero  # exact: a run is at most a row
            nspec = zero
            for j in range(j1 - j0):
                st = bit_or(srow[j], blocked)
                a0, a1, a2, a3, a4 = g0[j], g1[j], g2[j], g3[j], g4[j]
                f0 = bit_and(st, U8(1)) == U8(0)
                f1 = bit_and(st, U8(2)) == U8(0)
                f2 = bit_and(st, U8(4)) == U8(0)
                f3 = bit_and(st, U8(8)) == U8(0)
                f4 = bit_and(st, U8(16)) == U8(0)
                v0 = a0 * ip0 if f0 else zero
                v1 = a1 * ip1 if f1 else zero
                v2 = a2 * ip2 if f2 else zero
                v3 = a3 * ip3 if f3 else zero
                v4 = a4 * ip4 if f4 else zero
                # Lights neither clipped nor left out by ``allowed``.
                nfree = ((one if f0 else zero) + (one if f1 else zero)) + (
                    (one if f2 else zero) + (one if f3 else zero)) + (one if f4 else zero)
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
                n_usable = cnt
                bx, by, bz, det = solve3(m0, m1, m2, m3, m4, m5, r0, r1, r2)
                # The brightest observation's light (it is usable whenever any light is): its
                # s_k, I_k and bit, by selects.
                c = v1 > v0
                e0, e1, e2 = (s10 if c else s00), (s11 if c else s01), (s12 if c else s02)
                hx, hy, hz = (h10 if c else h00), (h11 if c else h01), (h12 if c else h02)
                ei, ebit, ev = (a1 if c else a0), (F32(2) if c else one), max(v0, v1)
                c = v2 > ev
                e0, e1, e2 = (s20 if c else e0), (s21 if c else e1), (s22 if c else e2)
                hx, hy, hz = (h20 if c else hx), (h21 if c else hy), (h22 if c else hz)
                ei, ebit, ev = (a2 if c else ei), (F32(4) if c else ebit), max(ev, v2)
                c = v3 > ev
                e0, e1, e2 = (s30 if c else e0), (s31 if c else e1), (s32 if c else e2)
                hx, hy, hz = (h30 if c else hx), (h31 if c else hy), (h32 if c else hz)
                ei, ebit, ev = (a3 if c else ei), (F32(8) if c else ebit), max(ev, v3)
                c = v4 > ev
                e0, e1, e2 = (s40 if c else e0), (s41 if c else e1), (s42 if c else e2)
                hx, hy, hz = (h40 if c else hx), (h41 if c else hy), (h42 if c else hz)
                ei, ebit = (a4 if c else ei), (F32(16) if c else ebit)
                # The same sums without it: the fit of the other lights, and its prediction.
                cx, cy, cz, det2, q0, q1, q2, pred, spread = _without(
                    m0, m1, m2, m3, m4, m5, r0, r1, r2, e0, e1, e2, ei)
                # A flash's highlight shows only where the surface faces about halfway between
                # it and the camera (the half vector h): not at a silhouette, where a small error
                # in a light's calibrated direction makes any prediction from the others poor.
                ch = cx * hx + cy * hy + cz * hz
                cn2 = cx * cx + cy * cy + cz * cz
                facing = ch * abs(ch) > spec_cos2 * max(cn2, eps * eps)
                spec = (cnt >= min_cnt) & spread & (cz > zero) & (ei > fratio * pred + fmargin) \
                    & facing
                # The darkest usable observation's light: a cast shadow (the nose's, a brow's)
                # leaves a flash's image dark where the surface faces it; what light remains
                # (room light, the face's own reflections) keeps it above the dark cut.
                big = F32(3.0e38)
                dv = v0 if u0 > zero else big
                d0, d1, d2, di, dbit = s00, s01, s02, a0, one
                c = (u1 > zero) & (v1 < dv)
                d0, d1, d2 = (s10 if c else d0), (s11 if c else d1), (s12 if c else d2)
                di, dbit, dv = (a1 if c else di), (F32(2) if c else dbit), (v1 if c else dv)
                c = (u2 > zero) & (v2 < dv)
                d0, d1, d2 = (s20 if c else d0), (s21 if c else d1), (s22 if c else d2)
                di, dbit, dv = (a2 if c else di), (F32(4) if c else dbit), (v2 if c else dv)
                c = (u3 > zero) & (v3 < dv)
                d0, d1, d2 = (s30 if c else d0), (s31 if c else d1), (s32 if c else d2)
                di, dbit, dv = (a3 if c else di), (F32(8) if c else dbit), (v3 if c else dv)
                c = (u4 > zero) & (v4 < dv)
                d0, d1, d2 = (s40 if c else d0), (s41 if c else d1), (s42 if c else d2)
                di, dbit = (a4 if c else di), (F32(16) if c else dbit)
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
                ok = (cnt >= F32(3)) & (det > eps) & (rho > F32(1e-9)) & (bz > zero)
                rel = np.sqrt(res / max(tot, eps))
                # Floored at half, so that every solved pixel is more trusted than a filled one.
                conf = cnt * inv_nallowed * max(half, one - rel * F32(5))
                idv[j] = one / max(den, eps) if ok else zero
                # The flags, in float arithmetic (numba widens uint8 arithmetic to 64 bits,
                # and a loop of it measured 55 ms at 24 MP): the lights used are those usable
                # less any left out; SATURATED where an allowed light is clipped; SHADOWED
                # where a free light is not among those used or left out as specular, that
                # is where the free lights outnumber the usable ones kept (these are free).
                lit = (brightest > fdark) | (nfree < fallowed)
                bits = u0 + F32(2) * u1 + F32(4) * u2 + F32(8) * u3 + F32(16) * u4 - rej - dropped
                fl = ((F32(2) if nfree < fallowed else zero)
                      + (one if nfree > n_usable - (one if cast else zero) else zero)
                      + (F32(4) if cnt < F32(3) else zero) + (F32(32) if spec else zero)
                      + (zero if ok else F32(16)))
                ucv[j] = bits if lit else zero
                stv[j] = fl if lit else zero
                nfill += one if lit & (not ok) else zero
                nspec += one if spec & ok else zero
                nrow[3 * j] = nx if ok else zero
                nrow[3 * j + 1] = ny if ok else zero
                nrow[3 * j + 2] = nz if ok else zero
                crow[j] = conf if ok else zero
            n_fill += int(nfill)
            n_spec += int(nspec)
            for j in range(j1 - j0):
                mrow[j] = idv[j] > zero
                urow[j] = U8(np.int32(ucv[j]))
                frow[j] = U8(np.int32(stv[j]))
            q0, q1 = nch * j0, nch * j1
            _albedo_row(ic[i, q0:q1], il[i, q0:q1], ir[i, q0:q1], it[i, q0:q1], ib[i, q0:q1],
                        ar[q0:q1], has_amb, nch, alb_scale, s, nrow, ucv, idv,
                        albedo[i, q0:q1])
    return n_fill, n_spec
