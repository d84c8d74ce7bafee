"""Fused per-pixel kernels for photometric stereo, compiled with numba.

Why not plain numpy: a vectorised numpy version makes ~40 passes over full-size float32
temporaries (grey conversion, ratios, matrix product, normalisation, albedo), which at 24 MP
is seconds and gigabytes. One fused loop reads each input pixel once, straight from its
8/16-bit array, keeps everything in registers and writes the outputs in place: it runs near
the speed of copying the input and needs no memory beyond the outputs.
Single-threaded on purpose: callers decide how many captures to process in parallel.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Per-pixel flags (StereoResult.flags).
SHADOWED = np.uint8(1)  # at least one flash image too dark to use at this pixel
SATURATED = np.uint8(2)  # at least one flash image clipped at this pixel
UNDERDETERMINED = np.uint8(4)  # lit, but by fewer than three usable lights
CLAMPED = np.uint8(8)  # simplified: gradient clamped to the range seen on the sphere


@njit(cache=True, nogil=True, inline="always")
def _read_pixel(imgs, amb, has_amb, i, j, scale, luma, sat_raw, val, grey):
    """Load one pixel of every image: ambient-subtracted colour into ``val[k, c]``, grey
    (luma-weighted) into ``grey[k]``; returns the bitmask of images saturated here."""
    nimg = len(imgs)
    nch = val.shape[1]
    sat_bits = 0
    for k in range(nimg):
        g = 0.0
        for c in range(nch):
            raw = imgs[k][i, j, c]
            if raw >= sat_raw:
                sat_bits |= 1 << k
            x = raw * scale
            if has_amb:
                x -= amb[i, j, c] * scale
                if x < 0.0:
                    x = 0.0
            val[k, c] = x
            g += luma[c] * x
        grey[k] = g
    return sat_bits


@njit(cache=True, nogil=True)
def simplified_kernel(
    imgs, amb, has_amb, scale, luma, sat_raw, dark, coeffs, clamp, s_center,
    normals, albedo, mask, confidence, used, flags,
):
    """Chang & Lin: n ∝ W · [r_left, r_right, r_top, r_bottom, 1], r_k = I_k / I_center.

    ``imgs`` are (center, left, right, top, bottom); ``coeffs`` W is 3×5; ``clamp`` holds
    (p_min, p_max, q_min, q_max) for the gradient p = n_x/n_z, q = n_y/n_z; ``s_center`` is
    the ring flash's intensity × direction, which turns I_center into albedo.
    """
    h, w = mask.shape
    nch = albedo.shape[2]
    val = np.zeros((5, nch))
    grey = np.zeros(5)
    for i in range(h):
        for j in range(w):
            sat_bits = _read_pixel(imgs, amb, has_amb, i, j, scale, luma, sat_raw, val, grey)
            gc = grey[0]
            if gc <= dark or (sat_bits & 1):
                continue
            x = coeffs[0, 4]
            y = coeffs[1, 4]
            z = coeffs[2, 4]
            usable = 0
            flag = np.uint8(0)
            bits = np.uint8(1)
            for k in range(4):
                r = grey[k + 1] / gc
                x += coeffs[0, k] * r
                y += coeffs[1, k] * r
                z += coeffs[2, k] * r
                if (sat_bits >> (k + 1)) & 1:
                    flag |= SATURATED
                elif grey[k + 1] <= dark:
                    flag |= SHADOWED
                else:
                    usable += 1
                    bits |= np.uint8(1 << (k + 1))
            if z <= 1e-6:
                continue
            p = x / z
            q = y / z
            conf = usable / 4.0
            if p < clamp[0] or p > clamp[1] or q < clamp[2] or q > clamp[3]:
                p = min(max(p, clamp[0]), clamp[1])
                q = min(max(q, clamp[2]), clamp[3])
                flag |= CLAMPED
                conf *= 0.5
            inv = 1.0 / math.sqrt(p * p + q * q + 1.0)
            nx = p * inv
            ny = q * inv
            nz = inv
            shade = s_center[0] * nx + s_center[1] * ny + s_center[2] * nz
            if shade <= 1e-6:
                continue
            normals[i, j, 0] = nx
            normals[i, j, 1] = ny
            normals[i, j, 2] = nz
            for c in range(nch):
                albedo[i, j, c] = val[0, c] / shade
            mask[i, j] = True
            confidence[i, j] = conf
            used[i, j] = bits
            flags[i, j] = flag


@njit(cache=True, nogil=True)
def lambertian_kernel(
    imgs, amb, has_amb, scale, luma, sat_raw, dark, rel_dark, lights, allowed, pinvs,
    normals, albedo, mask, confidence, used, flags,
):
    """Per-pixel least squares I_k = ρ (s_k · n) over the lights usable at that pixel.

    ``lights`` (K, 3) rows are intensity × direction; ``pinvs[bits]`` (3, K) is the
    pseudo-inverse of the rows selected by ``bits`` (zero columns for the others),
    precomputed for all 2^K subsets, so each pixel costs one small matrix-vector product.
    A light is unusable where saturated or where I_k / |s_k| is below
    ``max(dark, rel_dark × the brightest such value at that pixel)`` (shadowed); lights
    outside the ``allowed`` bitmask (a ring flash of unknown direction) are never used.
    """
    h, w = mask.shape
    nimg = len(imgs)
    nch = albedo.shape[2]
    val = np.zeros((nimg, nch))
    grey = np.zeros(nimg)
    power = np.zeros(nimg)
    nallowed = 0
    for k in range(nimg):
        power[k] = math.sqrt(lights[k, 0] ** 2 + lights[k, 1] ** 2 + lights[k, 2] ** 2)
        if (allowed >> k) & 1:
            nallowed += 1
    for i in range(h):
        for j in range(w):
            sat_bits = _read_pixel(imgs, amb, has_amb, i, j, scale, luma, sat_raw, val, grey)
            brightest = 0.0
            sat_bits &= allowed
            for k in range(nimg):
                if (allowed >> k) & 1 and not (sat_bits >> k) & 1:
                    brightest = max(brightest, grey[k] / power[k])
            if brightest <= dark and sat_bits == 0:
                continue  # background: no flash lights this pixel
            cut = max(dark, rel_dark * brightest)
            bits = 0
            count = 0
            flag = np.uint8(0)
            for k in range(nimg):
                if not (allowed >> k) & 1:
                    continue
                if (sat_bits >> k) & 1:
                    flag |= SATURATED
                elif grey[k] / power[k] <= cut:
                    flag |= SHADOWED
                else:
                    bits |= 1 << k
                    count += 1
            if count < 3:
                flags[i, j] = flag | UNDERDETERMINED
                continue
            bx = 0.0
            by = 0.0
            bz = 0.0
            for k in range(nimg):
                if (bits >> k) & 1:
                    bx += pinvs[bits, 0, k] * grey[k]
                    by += pinvs[bits, 1, k] * grey[k]
                    bz += pinvs[bits, 2, k] * grey[k]
            rho = math.sqrt(bx * bx + by * by + bz * bz)
            if rho <= 1e-9 or bz <= 0.0:
                flags[i, j] = flag
                continue
            nx = bx / rho
            ny = by / rho
            nz = bz / rho
            den = 0.0
            res = 0.0
            tot = 0.0
            for k in range(nimg):
                if (bits >> k) & 1:
                    sn = lights[k, 0] * nx + lights[k, 1] * ny + lights[k, 2] * nz
                    den += sn * sn
                    d = grey[k] - rho * sn
                    res += d * d
                    tot += grey[k] * grey[k]
            for c in range(nch):
                num = 0.0
                for k in range(nimg):
                    if (bits >> k) & 1:
                        sn = lights[k, 0] * nx + lights[k, 1] * ny + lights[k, 2] * nz
                        num += val[k, c] * sn
                albedo[i, j, c] = num / den if den > 0.0 else 0.0
            rel = math.sqrt(res / tot) if tot > 0.0 else 0.0
            normals[i, j, 0] = nx
            normals[i, j, 1] = ny
            normals[i, j, 2] = nz
            mask[i, j] = True
            confidence[i, j] = (count / nallowed) * max(0.0, 1.0 - rel / 0.2)
            used[i, j] = np.uint8(bits)
            flags[i, j] = flag
