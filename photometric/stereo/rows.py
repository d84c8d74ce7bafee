"""The numba row bookkeeping every solver kernel shares: a row's grey values (ambient
subtracted, clipped and dark pixels marked) and the sample that sets a capture's data level.
"""

from __future__ import annotations

import numpy as np
from numba import njit

JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}


F32 = np.float32


U8 = np.uint8


@njit(**JIT)
def _grey_row(img, amb, has_amb, i, nch, luma, scale, sat_raw, bit, grey, sat):
    """Row ``i`` of ``img``: ambient-subtracted, luma-weighted grey (in [0, 1]) into
    ``grey``; ORs ``bit`` into ``sat`` where any raw channel is at or above ``sat_raw``."""
    w = grey.shape[0]
    row = img[i]
    arow = amb[i] if has_amb else amb[0]
    b8 = U8(bit)
    z8 = U8(0)
    zero = F32(0)
    if nch == 3:
        w0 = F32(luma[0] * scale)
        w1 = F32(luma[1] * scale)
        w2 = F32(luma[2] * scale)
        if has_amb:
            for j in range(w):
                a = F32(row[3 * j])
                b = F32(row[3 * j + 1])
                c = F32(row[3 * j + 2])
                hot = max(a, max(b, c)) >= sat_raw
                a = max(a - F32(arow[3 * j]), zero)
                b = max(b - F32(arow[3 * j + 1]), zero)
                c = max(c - F32(arow[3 * j + 2]), zero)
                grey[j] = w0 * a + w1 * b + w2 * c
                sat[j] |= b8 if hot else z8
        else:
            for j in range(w):
                a = F32(row[3 * j])
                b = F32(row[3 * j + 1])
                c = F32(row[3 * j + 2])
                hot = max(a, max(b, c)) >= sat_raw
                grey[j] = w0 * a + w1 * b + w2 * c
                sat[j] |= b8 if hot else z8
    else:
        s = F32(scale)
        for j in range(w):
            a = F32(row[j])
            hot = a >= sat_raw
            if has_amb:
                a = max(a - F32(arow[j]), zero)
            grey[j] = s * a
            sat[j] |= b8 if hot else z8


@njit(**JIT)
def grey_rows(ic, il, ir, it, ib, amb, has_amb, i, nch, luma, scale, sat_raw, grey, sat):
    sat[:] = 0
    _grey_row(ic, amb, has_amb, i, nch, luma, scale, sat_raw, 1, grey[0], sat)
    _grey_row(il, amb, has_amb, i, nch, luma, scale, sat_raw, 2, grey[1], sat)
    _grey_row(ir, amb, has_amb, i, nch, luma, scale, sat_raw, 4, grey[2], sat)
    _grey_row(it, amb, has_amb, i, nch, luma, scale, sat_raw, 8, grey[3], sat)
    _grey_row(ib, amb, has_amb, i, nch, luma, scale, sat_raw, 16, grey[4], sat)


@njit(inline="always", **JIT)
def _grey_px(row, arow, j, nch, luma, scale):
    """Ambient-subtracted grey value of pixel ``j`` of a raw row (in [0, 1])."""
    if nch == 3:
        return F32(scale) * (F32(luma[0]) * positive(row[3 * j], arow[3 * j])
                            + F32(luma[1]) * positive(row[3 * j + 1], arow[3 * j + 1])
                            + F32(luma[2]) * positive(row[3 * j + 2], arow[3 * j + 2]))
    return F32(scale) * positive(row[j], arow[j])


@njit(**JIT)
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


@njit(inline="always", **JIT)
def positive(x, a):
    """x - a, floored at 0, in float32 (a is a zero row when there is no ambient frame)."""
    return max(F32(x) - F32(a), F32(0))
