"""The numba row bookkeeping every solver kernel shares: a row's grey values (ambient
subtracted, clipped and dark pixels marked) and the sample that sets a capture's data level.
"""

from __future__ import annotations

import numpy as np
from numba import njit

JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}

F32 = np.float32


U8 = np.uint8


# Bitwise and/or that keep uint8: numba's & and | widen uint8 to 64 bits, which in a loop
# vectorised over float32 costs 64-bit compares and packing.
bit_and = np.bitwise_and


bit_or = np.bitwise_or


@njit(inline="always", **JIT)
def _grey_row(row, arow, has_amb, nch, luma, scale, sat_raw, clip, bit, grey, sat):
    """A raw row (or a stretch of one), ``arow`` the ambient's: ambient-subtracted,
    luma-weighted grey (in [0, 1]) into ``grey``; ORs ``bit`` into ``sat`` where any raw
    channel is at or above ``sat_raw`` (of the images' type, and only if ``clip``: see
    :func:`raw_at_least`; compared before conversion, a uint8 image's test is a byte's)."""
    w = grey.shape[0]
    b8 = U8(bit)
    z8 = U8(0)
    zero = F32(0)
    if nch == 3:
        w0 = F32(luma[0] * scale)
        w1 = F32(luma[1] * scale)
        w2 = F32(luma[2] * scale)
        if has_amb:
            for j in range(w):
                hot = (max(row[3 * j], max(row[3 * j + 1], row[3 * j + 2])) >= sat_raw) & clip
                a = F32(row[3 * j])
                b = F32(row[3 * j + 1])
                c = F32(row[3 * j + 2])
                a = max(a - F32(arow[3 * j]), zero)
                b = max(b - F32(arow[3 * j + 1]), zero)
                c = max(c - F32(arow[3 * j + 2]), zero)
                grey[j] = w0 * a + w1 * b + w2 * c
                sat[j] |= b8 if hot else z8
        else:
            for j in range(w):
                hot = (max(row[3 * j], max(row[3 * j + 1], row[3 * j + 2])) >= sat_raw) & clip
                grey[j] = w0 * F32(row[3 * j]) + w1 * F32(row[3 * j + 1]) + w2 * F32(
                    row[3 * j + 2])
                sat[j] |= b8 if hot else z8
    else:
        s = F32(scale)
        for j in range(w):
            hot = (row[j] >= sat_raw) & clip
            a = F32(row[j])
            if has_amb:
                a = max(a - F32(arow[j]), zero)
            grey[j] = s * a
            sat[j] |= b8 if hot else z8


@njit(inline="always", **JIT)
def _grey_run(ic, il, ir, it, ib, arow, has_amb, i, j0, j1, nch, luma, scale, sat_raw, clip,
              grey, sat):
    """Pixels ``j0`` to ``j1`` (excluded) of row ``i`` of the five images, ``arow`` the
    ambient row: their grey values into ``grey[:, j0:j1]``, their clipped images' bits into
    ``sat[j0:j1]``. On views that start at ``j0``: see :func:`lambertian_kernel`. Inlined,
    as :func:`_grey_row` is: a 24 MP portrait has some 75 000 such stretches, and the calls
    cost 5 ms."""
    q0, q1 = nch * j0, nch * j1
    s = sat[j0:j1]
    s[:] = 0
    a = arow[q0:q1]
    _grey_row(ic[i, q0:q1], a, has_amb, nch, luma, scale, sat_raw, clip, 1,
              grey[0, j0:j1], s)
    _grey_row(il[i, q0:q1], a, has_amb, nch, luma, scale, sat_raw, clip, 2,
              grey[1, j0:j1], s)
    _grey_row(ir[i, q0:q1], a, has_amb, nch, luma, scale, sat_raw, clip, 4,
              grey[2, j0:j1], s)
    _grey_row(it[i, q0:q1], a, has_amb, nch, luma, scale, sat_raw, clip, 8,
              grey[3, j0:j1], s)
    _grey_row(ib[i, q0:q1], a, has_amb, nch, luma, scale, sat_raw, clip, 16,
              grey[4, j0:j1], s)


#: Pixels per block of a row's lit test (:func:`_lit_runs`).
BLOCK = 32


@njit(**JIT)
def _lit_runs(r0, r1, r2, r3, r4, nch, lit_raw, hit, runs):
    """The stretches of a row where some flash may light it, from its five raw rows ``r0``
    to ``r4``: runs of whole blocks of ``BLOCK`` pixels (the last one shorter) holding a
    raw value at or above ``lit_raw`` in some image (see :func:`lit_floor`). Writes run k as
    [runs[2k], runs[2k + 1]) and returns how many. ``hit``: a scratch uint8 buffer of
    ceil(w / BLOCK) × BLOCK × nch bytes, zero past the row's values.

    Outside the runs no flash lights a pixel above the shadow threshold and none clips it:
    background for both solvers, whose grey values are never computed (:func:`row_runs`).
    One flat pass over the raw values (a max of five and a compare, which vectorises), then
    an OR of 8-byte words per block.
    """
    n = r0.shape[0]
    for q in range(n):
        m = max(max(max(r0[q], r1[q]), max(r2[q], r3[q])), r4[q])
        hit[q] = m >= lit_raw
    words = hit.view(np.uint64)
    per = BLOCK * nch // 8
    w = n // nch
    nruns = 0
    start = -1
    for b in range((w + BLOCK - 1) // BLOCK):
        acc = np.uint64(0)
        for k in range(b * per, b * per + per):
            acc |= words[k]
        if acc != 0:
            if start < 0:
                start = b * BLOCK
        elif start >= 0:
            runs[nruns] = start
            runs[nruns + 1] = b * BLOCK
            nruns += 2
            start = -1
    if start >= 0:
        runs[nruns] = start
        runs[nruns + 1] = w
        nruns += 2
    return nruns // 2


#: Pixels per block of the exact lit test within the raw runs (:func:`row_runs`): a word.
FINE = 8


@njit(**JIT)
def row_runs(ic, il, ir, it, ib, arow, has_amb, i, nch, luma, scale, sat_raw, clip, lit_raw,
              ip, dark, hit, coarse, grey, sat, lit, runs):
    """Row ``i``'s grey values and clipped bits where some flash may light it, and the runs
    of pixels the solvers look at; returns how many runs, written as [runs[2k], runs[2k+1]).

    Two steps. :func:`_lit_runs` finds, on the raw values, the blocks where some raw value
    reaches ``lit_raw``; there the grey values are computed (:func:`_grey_run`). Then, in
    blocks of ``FINE`` pixels, the exact test: a block is kept when some pixel has a grey
    value over its light's power (``ip``) above ``dark``, or a clipped image. The raw test
    is loose (the largest channel stands for the grey value, and noise of a few counts over
    a dark background passes it: 56 % of the benchmark's frame against 35 % lit); the exact
    one is a superset of each solver's own lit test, so what they compute in the runs is
    unchanged, and everything outside them is background, whose outputs stay zero. ``lit``: a
    uint8 scratch row of ceil(w / 8) × 8 bytes, zero past the row.
    """
    ip0, ip1, ip2, ip3, ip4 = ip[0], ip[1], ip[2], ip[3], ip[4]
    ncoarse = _lit_runs(ic[i], il[i], ir[i], it[i], ib[i], nch, lit_raw, hit, coarse)
    nruns = 0
    for r in range(ncoarse):
        c0, c1 = coarse[2 * r], coarse[2 * r + 1]
        _grey_run(ic, il, ir, it, ib, arow, has_amb, i, c0, c1, nch, luma, scale, sat_raw,
                  clip, grey, sat)
        g0, g1, g2, g3, g4 = (grey[0, c0:c1], grey[1, c0:c1], grey[2, c0:c1], grey[3, c0:c1],
                              grey[4, c0:c1])
        sv, lv = sat[c0:c1], lit[c0:c1]
        n = c1 - c0
        for j in range(n):
            q = max(max(max(g0[j] * ip0, g1[j] * ip1), max(g2[j] * ip2, g3[j] * ip3)),
                    g4[j] * ip4)
            lv[j] = (sv[j] != 0) | (q > dark)
        # A block of FINE = 8 pixels is one 8-byte word (c0 is a multiple of BLOCK, and
        # bytes past the row stay 0).
        words = lit.view(np.uint64)
        start = -1
        for b in range(c0 // 8, (c1 + 7) // 8):
            if words[b] != 0:
                if start < 0:
                    start = 8 * b
            elif start >= 0:
                runs[nruns] = start
                runs[nruns + 1] = 8 * b
                nruns += 2
                start = -1
        if start >= 0:
            runs[nruns] = start
            runs[nruns + 1] = c1
            nruns += 2
    return nruns // 2


def raw_at_least(sat: float, dtype: np.dtype):
    """The saturation threshold ``sat`` (raw units) as a value of the images' ``dtype`` that
    a raw value reaches exactly when it reaches ``sat``: for an integer type its ceiling,
    for float32 the smallest float32 at or above it. Returns (that value, whether a value of
    the type can reach it: an integer type's ceiling may lie past its largest value, and is
    then clamped to it)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        v = int(np.ceil(sat))
        hi = np.iinfo(dtype).max
        return dtype.type(min(max(v, 0), hi)), v <= hi
    f = np.float32(sat)
    return (f if f >= sat else np.nextafter(f, np.float32(np.inf))), True


def lit_floor(dark: float, scale: float, luma: np.ndarray, nch: int, inv_power: np.ndarray,
              sat_raw: float, dtype: np.dtype):
    """The raw value (of ``dtype``) at or above which a pixel may be lit, for
    :func:`_lit_runs`: below it in all five images, no observation's grey value over its
    light's power (``inv_power``: 1 / power per light, ones for the simplified method) exceeds
    ``dark``, and none is clipped (at or above ``sat_raw``). A grey value is at most its
    largest raw channel × ``scale`` × Σ luma, and ambient subtraction only lowers it; the
    bound is lowered a little more for float32 rounding. Lower is always safe: it only
    makes the runs longer."""
    lsum = float(np.maximum(np.asarray(luma, np.float64)[:nch], 0).sum()) if nch == 3 else 1.0
    top = scale * lsum * float(np.max(inv_power))
    t = dark / top * (1.0 - 1e-4) if top > 0 else np.inf
    dtype = np.dtype(dtype)
    if dtype.kind == "u":
        hi = np.iinfo(dtype).max
        # raw > t  <=>  raw >= floor(t) + 1; raw >= sat_raw  <=>  raw >= ceil(sat_raw).
        v = min(np.floor(t) + 1 if np.isfinite(t) else np.inf, np.ceil(sat_raw))
        return dtype.type(int(min(max(v, 0), hi)))
    return dtype.type(min(t, sat_raw))


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
def nn(x):
    """x floored at 0, in float32: :func:`positive` with no ambient frame, without reading one."""
    return max(F32(x), F32(0))


@njit(inline="always", **JIT)
def positive(x, a):
    """x - a, floored at 0, in float32 (a is a zero row when there is no ambient frame)."""
    return max(F32(x) - F32(a), F32(0))
