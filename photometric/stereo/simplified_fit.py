"""Chang & Lin's simplified method: the normal as a linear combination of the shaded
images normalised by the ring-flash image, with coefficients calibrated on the sphere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numba import njit

from photometric.lights import DIRECTIONAL, LightRig, nominal_rig
from photometric.stereo.fill import fill_holes, mark_holes
from photometric.stereo.flags import CLAMPED, FILLED, SATURATED, SHADOWED
from photometric.stereo.inputs import Thresholds, prepare, radiometry
from photometric.stereo.result import StereoResult, make_result, new_outputs
from photometric.stereo.rows import (
    BLOCK,
    F32,
    FINE,
    JIT,
    U8,
    bit_and,
    lit_floor,
    nn,
    positive,
    raw_at_least,
    row_runs,
)


@dataclass
class SimplifiedModel:
    """Coefficients of the simplified method.

    ``coeffs`` (3, 5): n ∝ coeffs · [r_left, r_right, r_top, r_bottom, 1]; ``clamp``:
    (p_min, p_max, q_min, q_max), the range of the gradient (n_x/n_z, n_y/n_z) seen on the
    calibration sphere; ``center``: ring flash intensity × direction, for the albedo.
    """

    coeffs: np.ndarray
    clamp: tuple[float, float, float, float]
    center: np.ndarray

    @classmethod
    def nominal(cls, rig: LightRig, max_angle_deg: float = 75.0) -> SimplifiedModel:
        """Coefficients from light directions alone, assuming the ring flash on the view axis.

        With distant lights r_k = (s_k · n) / (e_c n_z) = (s_k · g) / e_c for g = (p, q, 1),
        so (p, q) = pinv(S[:, :2]) (e_c r - S[:, 2]).
        """
        s = rig.scaled(DIRECTIONAL)
        e_c = rig.intensity("center")
        a = np.linalg.pinv(s[:, :2])  # (2, 4)
        coeffs = np.zeros((3, 5))
        coeffs[:2, :4] = a * e_c
        coeffs[:2, 4] = -a @ s[:, 2]
        coeffs[2, 4] = 1.0
        t = float(np.tan(np.radians(max_angle_deg)))
        center = rig.scaled(("center",))[0] if "center" in rig.directions else np.array(
            [0.0, 0.0, e_c])
        return cls(coeffs, (-t, t, -t, t), center)


def simplified(
    images: Mapping[str, np.ndarray],
    model: SimplifiedModel | None = None,
    rig: LightRig | None = None,
    thresholds: Thresholds = Thresholds(),
    white_level: float | None = None,
) -> StereoResult:
    """Normals by the simplified method; ``model`` from calibration, else nominal from ``rig``.

    ``white_level``: the raw value the sensor clips at, in the images' units (default the
    type's full scale: 255, 65535, 1.0). Lit pixels it cannot solve are filled with their
    neighbours' normals (FILLED)."""
    if model is None:
        model = SimplifiedModel.nominal(rig if rig is not None else nominal_rig())
    prepared = prepare(images)
    imgs, amb, has_amb, nch, full, luma = prepared
    level, dark, sat_raw = radiometry(prepared, thresholds, white_level)
    sat_cmp, clip = raw_at_least(sat_raw, imgs[0].dtype)
    outs = new_outputs(imgs[0].shape[0], imgs[0].shape[1] // nch, nch)
    lit_raw = lit_floor(dark, 1.0 / full, luma, nch, np.ones(5), sat_raw,
                                 imgs[0].dtype)
    n_fill = simplified_kernel(
        *imgs, amb, has_amb, nch, 1.0 / full, luma, sat_cmp, clip, dark, lit_raw,
        # C-contiguous float64 always: another layout would compile another kernel.
        np.ascontiguousarray(model.coeffs, np.float64), np.ascontiguousarray(model.clamp,
                                                                              np.float64),
        np.ascontiguousarray(model.center, np.float64), *outs,
    )
    result = make_result(outs, "simplified", level, dark)
    n_fill += mark_holes(result)
    if n_fill:
        fill_holes(result, prepared, None, n_fill)
    return result


@njit(**JIT)
def simplified_kernel(
    ic, il, ir, it, ib, amb, has_amb, nch, scale, luma, sat_raw, clip, dark, lit_raw, coeffs,
    clamp, s_center, normals, albedo, mask, confidence, used, flags,
):
    """Chang & Lin: n ∝ W · [r_left, r_right, r_top, r_bottom, 1], r_k = I_k / I_center.

    ``coeffs`` W is 3×5; ``clamp`` holds (p_min, p_max, q_min, q_max) for the gradient
    p = n_x/n_z, q = n_y/n_z; ``s_center`` is the ring flash's intensity × direction, which
    turns I_center into albedo. Only the stretches of each row that some flash may light
    (:func:`row_runs`) are written: the outputs must arrive zeroed. Returns the number of
    pixels marked FILLED (lit but invalid).
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
    p_lo, p_hi, q_lo, q_hi = F32(clamp[0]), F32(clamp[1]), F32(clamp[2]), F32(clamp[3])
    sc0, sc1, sc2 = F32(s_center[0]), F32(s_center[1]), F32(s_center[2])
    fdark = F32(dark)
    zero = F32(0)
    one = F32(1)
    coarse = np.empty(w // BLOCK * 2 + 2, np.int64)
    runs = np.empty(w // FINE * 2 + 2, np.int64)
    hit = np.zeros((w + BLOCK - 1) // BLOCK * BLOCK * nch, np.uint8)
    litbuf = np.zeros((w + 7) // 8 * 8, np.uint8)
    ip = np.ones(5, np.float32)
    sc = F32(scale)
    n_fill = 0
    for i in range(h):
        ar_full = amb[i] if has_amb else amb[0]
        nruns = row_runs(ic, il, ir, it, ib, ar_full, has_amb, i, nch, luma, scale, sat_raw,
                          clip, lit_raw, ip, fdark, hit, coarse, grey, sat, litbuf, runs)
        for r in range(nruns):
            # Views of the run, indexed from 0: see lambertian_kernel.
            j0, j1 = runs[2 * r], runs[2 * r + 1]
            g0, g1, g2, g3, g4 = (grey[0, j0:j1], grey[1, j0:j1], grey[2, j0:j1],
                                  grey[3, j0:j1], grey[4, j0:j1])
            srow = sat[j0:j1]
            vrow, clrow, isrow = valid[j0:j1], clamped[j0:j1], inv_shade[j0:j1]
            nrow = normals[i, 3 * j0:3 * j1]
            crow = confidence[i, j0:j1]
            mrow = mask[i, j0:j1]
            urow = used[i, j0:j1]
            frow = flags[i, j0:j1]
            arow = albedo[i, nch * j0:nch * j1]
            raw = ic[i, nch * j0:nch * j1]
            ar = ar_full[nch * j0:nch * j1]
            n = j1 - j0
            for j in range(n):
                gc = g0[j]
                inv_gc = one / max(gc, F32(1e-12))
                r1 = g1[j] * inv_gc
                r2 = g2[j] * inv_gc
                r3 = g3[j] * inv_gc
                r4 = g4[j] * inv_gc
                x = w04 + w00 * r1 + w01 * r2 + w02 * r3 + w03 * r4
                y = w14 + w10 * r1 + w11 * r2 + w12 * r3 + w13 * r4
                z = w24 + w20 * r1 + w21 * r2 + w22 * r3 + w23 * r4
                iz = one / max(z, F32(1e-6))
                p0 = x * iz
                q0 = y * iz
                p = min(max(p0, p_lo), p_hi)
                q = min(max(q0, q_lo), q_hi)
                inv = one / np.sqrt(p * p + q * q + one)
                nx = p * inv
                ny = q * inv
                nz = inv
                shade = sc0 * nx + sc1 * ny + sc2 * nz
                st = srow[j]
                ok = (gc > fdark) & (z > F32(1e-6)) & (shade > F32(1e-6)) & (
                    bit_and(st, U8(1)) == U8(0))
                # Usable directional images: lit and not clipped. Counted in float32, the
                # masks taken in uint8 (bit_and): numba widens integer arithmetic to 64 bits, and
                # AVX2 has no 64-bit integer to float conversion.
                lit = ((one if (g1[j] > fdark) & (bit_and(st, U8(2)) == U8(0)) else zero)
                       + (one if (g2[j] > fdark) & (bit_and(st, U8(4)) == U8(0)) else zero)) + (
                    (one if (g3[j] > fdark) & (bit_and(st, U8(8)) == U8(0)) else zero)
                    + (one if (g4[j] > fdark) & (bit_and(st, U8(16)) == U8(0)) else zero))
                was_clamped = (p != p0) | (q != q0)
                conf = lit * F32(0.25) * (F32(0.5) if was_clamped else one)
                vrow[j] = ok
                clrow[j] = CLAMPED if was_clamped else U8(0)
                isrow[j] = one / max(shade, F32(1e-6))
                nrow[3 * j] = nx if ok else zero
                nrow[3 * j + 1] = ny if ok else zero
                nrow[3 * j + 2] = nz if ok else zero
                crow[j] = conf if ok else zero
            # Integer bookkeeping: which images are usable, and why not. A pixel that some flash
            # lights (or clips) but that has no solution here is marked FILLED for fill,
            # with its usable images in ``used``.
            for j in range(n):
                s = srow[j]
                hot = s & U8(0b11111)  # the ring flash is never clipped where a pixel is valid
                dim = (U8(1) if g0[j] <= fdark else U8(0)) | (
                    U8(2) if g1[j] <= fdark else U8(0))
                dim |= (U8(4) if g2[j] <= fdark else U8(0)) | (
                    U8(8) if g3[j] <= fdark else U8(0))
                dim |= U8(16) if g4[j] <= fdark else U8(0)
                shadow = dim & ~hot
                f = (SATURATED if hot != 0 else U8(0)) | (SHADOWED if shadow != 0 else U8(0))
                f |= clrow[j]
                v = vrow[j]
                fill = (not v) & ((dim != U8(0b11111)) | (hot != 0))
                mrow[j] = v
                urow[j] = (U8(0b11111) & ~(hot | dim)) if v | fill else U8(0)
                frow[j] = f if v else (f | FILLED if fill else U8(0))
                n_fill += 1 if fill else 0
            if nch == 3 and not has_amb:
                for j in range(n):
                    k = isrow[j] * sc if vrow[j] else zero
                    for c in range(3):
                        arow[3 * j + c] = nn(raw[3 * j + c]) * k
            elif nch == 3:
                for j in range(n):
                    k = isrow[j] * sc if vrow[j] else zero
                    for c in range(3):
                        arow[3 * j + c] = positive(raw[3 * j + c], ar[3 * j + c]) * k
            else:
                for j in range(n):
                    arow[j] = positive(raw[j], ar[j]) * (isrow[j] * sc if vrow[j] else zero)
    return n_fill
