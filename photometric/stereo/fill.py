"""Hole filling: lit pixels that no fit could solve (fewer than three usable flashes) get
a normal from their neighbours, scaled by their own albedo (:func:`fill_grid`,
:func:`fill_pixels`, and :func:`fill_holes`, which runs them only where something is missing).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from photometric.stereo.flags import FILLED
from photometric.stereo.result import StereoResult
from photometric.stereo.rows import F32, JIT

#: Half-widths (in prior-grid cells) of the boxes a filled pixel's prior is averaged over,
#: smallest first: the first one in which enough neighbours are solved is used.
_FILL_RADII = (1, 2, 4, 8, 16, 32, 64, 128)

#: ... "enough": this share of the box's pixels.
_FILL_SHARE = 0.1

#: The prior grid has at most about this many cells (f×f blocks of pixels).
_FILL_GRID = 1 << 14

#: Interior holes larger than this share of the subject are left empty: a region that size
#: with no usable light is not a gap between neighbours to bridge.
_HOLE_SHARE = 0.02


def mark_holes(result: StereoResult) -> int:
    """Flag FILLED (no lights used) the pixels that lie inside the subject but that no flash
    lights above the shadow threshold: dark hair at a grazing edge, a pupil. Without this
    they are holes in the map that no observation can fill, and a relit portrait would show
    them. A hole is a connected region outside the subject (8-connected) that does not reach
    the border of the subject's bounding box, at most ``_HOLE_SHARE`` of the subject.
    Returns how many pixels were flagged.

    The subject's runs per row (``subject_runs``) and a flood of the background
    between them from the box's border (``enclosed_gaps``) find the enclosed pixels
    in a few milliseconds at 24 MP; only when there are some are they labelled
    (:func:`_label_holes`), in their own bounding box. Labelling the whole box, as this did
    before, cost 0.1-0.3 s at 24 MP even when nothing was enclosed.
    """
    h, w = result.mask.shape
    starts, ends, offsets = subject_runs(result.mask, result.flags)
    if starts.size == 0:
        return 0
    rows, gs, ge = enclosed_gaps(starts, ends, offsets, w)
    if rows.size == 0:
        return 0
    total = int((ends - starts).sum())
    return _label_holes(result, rows, gs, ge, total)


def _label_holes(result: StereoResult, rows: np.ndarray, starts: np.ndarray,
                 ends: np.ndarray, total: int) -> int:
    """Label the enclosed background runs (row, [start, end)) of :func:`mark_holes` into
    holes and flag those no larger than ``_HOLE_SHARE`` of the ``total`` subject pixels.
    Enclosed pixels are exactly the pixels of the background's regions that do not reach
    the subject's box, so their 8-connected components are those regions. On the runs
    (``label_runs``): labelling their bounding box, which can span the face, took
    20-30 ms at 24 MP. Returns how many pixels were flagged."""
    labels, n = label_runs(rows, starts, ends)
    area = np.bincount(labels, weights=(ends - starts).astype(np.float64), minlength=n)
    keep = (area <= _HOLE_SHARE * total)[labels]
    return int(flag_runs(rows, starts, ends, keep, result.flags, result.lights_used))


def fill_holes(result: StereoResult, prepared, lights: np.ndarray | None, count: int,
          power: float = 1.0) -> int:
    """Give the pixels the kernel marked FILLED (lit, but fewer than three usable lights or
    no valid fit) a normal, albedo and confidence. Returns how many were filled.

    The prior is the confidence-weighted mean of b = ρ n (and colour albedo) over the solved
    pixels in the smallest box around the pixel that holds enough of them: normalised
    convolution at several scales, from one summed-area table over f×f blocks (about 16 000
    of them: f = 4 at 512², 39 at 24 MP), so its cost hardly grows with the image or the
    scale, and it is mirror-symmetric. With ``lights`` (lambertian), the prior is then moved
    the least distance that satisfies the observations the pixel does have:
    b = b_p + Sᵀ(S Sᵀ)⁻¹(I - S b_p) over its k usable lights (k = 0: the prior itself).
    That trusts the neighbours' albedo; where the pixel's own differs by more than 1.5×
    (dark hair beside skin), the prior is first rescaled to it and, with one or two lights,
    only their albedo-free content is kept (nothing / the ratio of the two): on a face's
    filled pixels 5° mean error against 9°, the same on a sphere (see ``fill_pixels``).
    The simplified method has no per-light model, so it takes the prior alone. Confidence is
    0.25 × usable / 5, below any solved pixel's. A pixel with no solved neighbour in reach
    stays invalid and loses its FILLED flag. ``count``: how many pixels the kernel flagged;
    ``power``: what the lights were divided by, the albedo being in units of 1 / power.

    Two numba passes (``fill_grid``, ``fill_pixels``): in numpy, the gathers and
    small solves cost more than the whole kernel (measured 3× at 512², 1300 pixels).
    """
    imgs, amb, has_amb, nch, full, luma = prepared
    h, w = result.mask.shape
    f = min(max(1, int(np.ceil(np.sqrt(h * w / _FILL_GRID)))), h, w)
    gh, gw = h // f, w // f
    table = np.empty((gh + 1, gw + 1, 5 + nch))
    cand = np.empty(count, np.int64)  # how many the kernel flagged
    luma = np.ascontiguousarray(luma, np.float64)
    n = fill_grid(result.normals.reshape(h, -1), result.albedo.reshape(h, -1),
                           result.mask, result.confidence, result.flags, nch, luma, f, table,
                           cand)
    idx = cand[:n]
    project = lights is not None
    return fill_pixels(
        idx, table, f, np.array(_FILL_RADII, np.int64), _FILL_SHARE, *imgs, amb, has_amb, nch,
        1.0 / full, luma, lights if project else np.zeros((5, 3)), project, float(power),
        result.normals.reshape(h, -1), result.albedo.reshape(h, -1), result.mask,
        result.confidence, result.lights_used, result.flags)


@njit(**JIT)
def subject_runs(mask, flags):
    """The subject (valid pixels, and pixels flagged FILLED) as runs per row, for
    ``mark_holes``: (starts, ends, offsets), row i's runs being
    [starts[k], ends[k]) for k in offsets[i]:offsets[i + 1].

    Eight pixels at a time: a word of the mask ORed with a word of the flags' FILLED bits
    (shifted to bit 0) has one byte per pixel, 1 on the subject; words all 0 or all 1, like
    the state so far, hold no change. Rows change a few dozen times.
    """
    h, w = mask.shape
    nw = w // 8
    ones = np.uint64(0x0101010101010101)
    cap = 1 << 14
    starts = np.empty(cap, np.int32)
    ends = np.empty(cap, np.int32)
    offsets = np.zeros(h + 1, np.int64)
    n = 0
    for i in range(h):
        mrow, frow = mask[i], flags[i]
        mw = mrow[:nw * 8].view(np.uint64)
        fw = frow[:nw * 8].view(np.uint64)
        inside = False
        for q in range(nw + 1):
            if q < nw:
                s = mw[q] | ((fw[q] >> np.uint64(4)) & ones)
                if s == (ones if inside else np.uint64(0)):
                    continue
            for j in range(8 * q, min(8 * q + 8, w)):
                on = mrow[j] | ((frow[j] & FILLED) != 0)
                if on == inside:
                    continue
                if on:
                    if n == cap:  # grow
                        cap *= 2
                        starts2 = np.empty(cap, np.int32)
                        ends2 = np.empty(cap, np.int32)
                        starts2[:n] = starts[:n]
                        ends2[:n] = ends[:n]
                        starts, ends = starts2, ends2
                    starts[n] = j
                else:
                    ends[n] = j
                    n += 1
                inside = on
        if inside:
            ends[n] = w
            n += 1
        offsets[i + 1] = n
    return starts[:n], ends[:n], offsets


@njit(**JIT)
def enclosed_gaps(starts, ends, offsets, w):
    """The background's runs that no path of background pixels (8-connected) joins to the
    border of the subject's bounding box, from :func:`subject_runs`: (rows, starts, ends),
    the pixels of ``mark_holes``' holes before their size is checked.

    The background between the subject's runs, row by row within the box, is flooded from
    the runs that touch the box's border: a run of row i reaches the runs of rows i ± 1 that
    overlap it or touch it at a corner. What the flood does not reach is enclosed. On runs,
    not pixels: a 24 MP portrait has some 100 000 of them, so this takes a millisecond or
    two where labelling every pixel of the box took 0.1-0.3 s.
    """
    h = offsets.shape[0] - 1
    y0, y1 = -1, -1
    x0, x1 = w, 0
    for i in range(h):
        if offsets[i + 1] > offsets[i]:
            if y0 < 0:
                y0 = i
            y1 = i
            x0 = min(x0, starts[offsets[i]])
            x1 = max(x1, ends[offsets[i + 1] - 1])
    if y0 < 0:
        return np.empty(0, np.int64), np.empty(0, np.int32), np.empty(0, np.int32)
    # Gap g of row i (0 <= g <= m, m the row's subject runs): [a, b) with a = x0 or the end
    # of run g - 1, b = x1 or the start of run g. Gap ids: base[i] + g.
    base = np.zeros(h + 1, np.int64)
    for i in range(h):
        base[i + 1] = base[i] + offsets[i + 1] - offsets[i] + 1
    seen = np.zeros(base[h], np.uint8)
    stack = np.empty(base[h], np.int64)  # each gap is pushed once: its row and index
    stack_g = np.empty(base[h], np.int64)
    top = 0
    for i in range(y0, y1 + 1):
        m = offsets[i + 1] - offsets[i]
        for g in range(m + 1):
            a = x0 if g == 0 else ends[offsets[i] + g - 1]
            b = x1 if g == m else starts[offsets[i] + g]
            if b > a and (g == 0 or g == m or i == y0 or i == y1):
                seen[base[i] + g] = 1
                stack[top] = i
                stack_g[top] = g
                top += 1
    while top > 0:
        top -= 1
        i, g = stack[top], stack_g[top]
        m = offsets[i + 1] - offsets[i]
        a = x0 if g == 0 else ends[offsets[i] + g - 1]
        b = x1 if g == m else starts[offsets[i] + g]
        for r in (i - 1, i + 1):
            if r < y0 or r > y1:
                continue
            o, mr = offsets[r], offsets[r + 1] - offsets[r]
            # The first gap of row r that ends at or after a (gap k ends at starts[o + k]):
            # gaps before it end before a, so they cannot touch [a - 1, b + 1).
            lo2, hi2 = 0, mr
            while lo2 < hi2:
                mid = (lo2 + hi2) // 2
                if starts[o + mid] < a:
                    lo2 = mid + 1
                else:
                    hi2 = mid
            for k in range(lo2, mr + 1):
                ka = x0 if k == 0 else ends[o + k - 1]
                if ka > b:
                    break
                kb = x1 if k == mr else starts[o + k]
                if kb > ka and seen[base[r] + k] == 0:
                    seen[base[r] + k] = 1
                    stack[top] = r
                    stack_g[top] = k
                    top += 1
    n = 0
    for i in range(y0, y1 + 1):
        m = offsets[i + 1] - offsets[i]
        for g in range(1, m):
            if seen[base[i] + g] == 0:
                n += 1
    rows = np.empty(n, np.int64)
    gs = np.empty(n, np.int32)
    ge = np.empty(n, np.int32)
    n = 0
    for i in range(y0, y1 + 1):
        m = offsets[i + 1] - offsets[i]
        for g in range(1, m):
            if seen[base[i] + g] == 0:
                rows[n] = i
                gs[n] = ends[offsets[i] + g - 1]
                ge[n] = starts[offsets[i] + g]
                n += 1
    return rows, gs, ge


@njit(**JIT)
def _find(parent, k):
    while parent[k] != k:
        parent[k] = parent[parent[k]]
        k = parent[k]
    return k


@njit(**JIT)
def label_runs(rows, starts, ends):
    """Connected components (8-connected) of runs [starts[k], ends[k]) of rows ``rows``,
    sorted by row and start, as from :func:`enclosed_gaps`: a label per run, 0 to n - 1, and
    n. Union-find over the runs of each pair of consecutive rows, swept side by side."""
    n = rows.shape[0]
    parent = np.arange(n)
    p = 0
    while p < n:
        q = p
        while q < n and rows[q] == rows[p]:
            q += 1
        # Row rows[p] is [p, q); the next row, if it is rows[p] + 1, starts at q.
        r = q
        while r < n and rows[r] == rows[p] + 1:
            r += 1
        if q < n and rows[q] == rows[p] + 1:
            k = q
            for a in range(p, q):
                while k < r and ends[k] < starts[a]:  # ends before a's left corner
                    k += 1
                m = k
                while m < r and starts[m] <= ends[a]:  # up to a's right corner
                    ra, rm = _find(parent, a), _find(parent, m)
                    if ra != rm:
                        parent[max(ra, rm)] = min(ra, rm)
                    m += 1
        p = q
    labels = np.empty(n, np.int64)
    count = 0
    for k in range(n):
        root = _find(parent, k)
        if root == k:
            labels[k] = count
            count += 1
        else:
            labels[k] = labels[root]  # root < k: labelled already
    return labels, count


@njit(**JIT)
def flag_runs(rows, starts, ends, keep, flags, used):
    """Flag the runs with ``keep`` FILLED, with no lights used; returns how many pixels."""
    n = 0
    for k in range(rows.shape[0]):
        if keep[k]:
            i = rows[k]
            for j in range(starts[k], ends[k]):
                flags[i, j] = FILLED
                used[i, j] = 0
            n += ends[k] - starts[k]
    return n


@njit(**JIT)
def fill_grid(normals, albedo, mask, confidence, flags, nch, luma, f, grid, cand):
    """The prior's sums for ``fill`` in one pass, and the pixels to fill.

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
    l0, l1, l2 = F32(luma[0]), F32(luma[1]), F32(luma[2])
    n = 0
    nw = w // 8
    bits = np.uint64(0x1010101010101010)  # FILLED in each of eight bytes
    for i in range(h):
        frow = flags[i]
        # Eight flags at a time: FILLED pixels are a few percent, in short stretches.
        words = frow[:nw * 8].view(np.uint64)
        for q in range(nw + 1):
            if q < nw and (words[q] & bits) == 0:
                continue
            for j in range(8 * q, min(8 * q + 8, w)):
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
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = F32(0)
            # Views of the block, indexed from 0, so that the sums vectorise.
            mv, cv = mrow[k * f:k * f + f], crow[k * f:k * f + f]
            nv, av = nrow[3 * k * f:3 * k * f + 3 * f], arow[nch * k * f:nch * (k * f + f)]
            for j in range(f):
                m = mv[j]
                wt = (F32(0.05) + np.floor(cv[j] * F32(4) + F32(0.5)) * F32(0.25)) if m \
                    else F32(0)
                if nch == 3:
                    a0, a1, a2 = av[3 * j], av[3 * j + 1], av[3 * j + 2]
                    rw = (l0 * a0 + l1 * a1 + l2 * a2) * wt
                    s5 += a0 * wt
                    s6 += a1 * wt
                    s7 += a2 * wt
                else:
                    rw = av[j] * wt
                    s5 += rw
                s0 += nv[3 * j] * rw
                s1 += nv[3 * j + 1] * rw
                s2 += nv[3 * j + 2] * rw
                s3 += wt
                s4 += F32(1) if m else F32(0)
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


#: Albedo ratio (pixel's own / its neighbours') beyond which fill stops trusting the
#: neighbours' albedo.
_ALBEDO_JUMP = 1.5


@njit(inline="always", **JIT)
def cofactors(m0, m1, m2, m3, m4, m5):
    """Cofactors and determinant of the symmetric 3×3 [[m0 m1 m2] [m1 m3 m4] [m2 m4 m5]]
    (in the arguments' own precision): (k00, k01, k02, k11, k12, k22, det)."""
    k00 = m3 * m5 - m4 * m4
    k01 = m2 * m4 - m1 * m5
    k02 = m1 * m4 - m2 * m3
    k11 = m0 * m5 - m2 * m2
    k12 = m1 * m2 - m0 * m4
    k22 = m0 * m3 - m1 * m1
    return k00, k01, k02, k11, k12, k22, m0 * k00 + m1 * k01 + m2 * k02


@njit(inline="always", **JIT)
def _solve3_f64(m0, m1, m2, m3, m4, m5, r0, r1, r2):
    """:func:`solve3` in float64, for the few filled pixels."""
    k00, k01, k02, k11, k12, k22, det = cofactors(m0, m1, m2, m3, m4, m5)
    inv = 1.0 / det if det > 1e-300 else 0.0
    return ((k00 * r0 + k01 * r1 + k02 * r2) * inv, (k01 * r0 + k11 * r1 + k12 * r2) * inv,
            (k02 * r0 + k12 * r1 + k22 * r2) * inv, det)


@njit(**JIT)
def fill_pixels(cand, table, f, radii, share, ic, il, ir, it, ib, amb, has_amb, nch, scale,
                luma, lights, project, power, normals, albedo, mask, confidence, used, flags):
    """Fill the pixels ``cand`` (flat indices) from the summed-area ``table`` of
    :func:`fill_grid`: see ``fill``. Returns how many were filled.

    Per pixel: the prior b_p (and colour albedo) is the weighted mean over the smallest box
    of half-width ``radii[m]`` cells that has ``share`` of its pixels solved. With
    ``project`` it is moved to the nearest b that fits the usable observations (bits in
    ``used``, lights ``lights`` (5, 3)): b = b_p + (Σ s sᵀ + λI)⁻¹ Σ s (I - s · b_p), which
    is Sᵀ(S Sᵀ)⁻¹(I - S b_p) as λ → 0, and least squares for three or more; except where
    the pixel's albedo is not its neighbours' (below). The albedo is then the kernel's
    Σ I (s · n) / Σ (s · n)². A pixel with no box found loses FILLED. The albedo, the
    table's too, is in units of 1 / ``power`` of the lights' (the solvers write it so):
    b_p is taken back to the lights' units and the albedo computed here divided by it.
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
        px, py, pz = sums[0] * power, sums[1] * power, sums[2] * power
        bx, by, bz = px, py, pz
        if project:
            ar = amb[i] if has_amb else amb[0]
            # Image by image (a tuple of the five rows indexed by k copies them: 2× slower).
            for c in range(nch):
                q = nch * j + c
                a = float(ar[q])
                obs[0, c] = max(float(ic[i, q]) - a, 0.0) * scale
                obs[1, c] = max(float(il[i, q]) - a, 0.0) * scale
                obs[2, c] = max(float(ir[i, q]) - a, 0.0) * scale
                obs[3, c] = max(float(it[i, q]) - a, 0.0) * scale
                obs[4, c] = max(float(ib[i, q]) - a, 0.0) * scale
            for k in range(5):
                g = 0.0
                for c in range(nch):
                    g += obs[k, c] * (luma[c] if nch == 3 else 1.0)
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
                a /= den * power
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
