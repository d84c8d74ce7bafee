"""Demosaicing a plain Bayer RAW in one numba pass: Malvar, He & Cutler's gradient-corrected
linear filters (ICASSP 2004) on the mosaic LibRaw unpacks and scales.

Why our own kernel beside LibRaw: LibRaw's demosaics run on one thread at 2.0 s (AHD) per
24 MP frame, and a five-shot capture must be linear in a few seconds; this pass takes about
0.3 s, gives LibRaw's values exactly on a flat field, and photometric stereo's normals on it
are as accurate as on AHD's (see :func:`photometric.io.camerafile.decode_raw`, which uses it
for plain RGB Bayer mosaics only; every other RAW goes through LibRaw's AHD).
"""

from __future__ import annotations

import numpy as np
from numba import njit

JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}


@njit(**JIT)
def _bayer_row(raw, r, colour, black, scale, dst):
    """Row ``r`` of a Bayer mosaic as LibRaw scales it before demosaicing, into ``dst``
    (padded by two columns each side, mirrored as cv2's BORDER_REFLECT_101): the black level
    subtracted (floored at 0), times the white balance and range scale in float32, truncated,
    clipped at 65535. ``colour``, ``black``, ``scale`` (2, 2): per Bayer phase."""
    w = raw.shape[1]
    row = raw[r]
    p = r & 1
    for q in range(2):
        b = np.int32(black[p, q])
        s = np.float32(scale[p, q])
        src = row[q:]
        out = dst[2 + q:]
        for k in range((w - q + 1) // 2):
            v = np.float32(max(np.int32(src[2 * k]) - b, np.int32(0))) * s
            out[2 * k] = min(np.floor(v), np.float32(65535))
    dst[0], dst[1] = dst[4], dst[3]
    dst[w + 2], dst[w + 3] = dst[w], dst[w - 1]


@njit(**JIT)
def _mhc_green(u2, u1, m, d1, d2, row_first, cam, out, n):
    """Malvar-He-Cutler at the green pixels of a row (every second pixel; views that start
    at the first of them, padded rows two columns left of it): R and B from the colour on
    this row (``row_first``: 0 R, 2 B) and the one in this column, then ``cam``."""
    c00, c01, c02 = cam[0, 0], cam[0, 1], cam[0, 2]
    c10, c11, c12 = cam[1, 0], cam[1, 1], cam[1, 2]
    c20, c21, c22 = cam[2, 0], cam[2, 1], cam[2, 2]
    red_on_row = row_first == 0
    top = np.float32(65535)
    zero = np.float32(0)
    e = np.float32(0.125)
    for k in range(n):
        p = 2 * k + 2
        g = m[p]
        cross = u1[p - 1] + u1[p + 1] + d1[p - 1] + d1[p + 1]
        hor = (np.float32(5) * g + np.float32(4) * (m[p - 1] + m[p + 1])
               - (m[p - 2] + m[p + 2]) - cross + np.float32(0.5) * (u2[p] + d2[p])) * e
        ver = (np.float32(5) * g + np.float32(4) * (u1[p] + d1[p]) - (u2[p] + d2[p])
               - cross + np.float32(0.5) * (m[p - 2] + m[p + 2])) * e
        r = hor if red_on_row else ver
        b = ver if red_on_row else hor
        out[6 * k] = min(max(c00 * r + c01 * g + c02 * b, zero), top)
        out[6 * k + 1] = min(max(c10 * r + c11 * g + c12 * b, zero), top)
        out[6 * k + 2] = min(max(c20 * r + c21 * g + c22 * b, zero), top)


@njit(**JIT)
def _mhc_redblue(u2, u1, m, d1, d2, own, cam, out, n):
    """Malvar-He-Cutler at the red (``own`` 0) or blue (2) pixels of a row: G from the
    cross around it, the other colour from the diagonals; then ``cam``. Views as
    :func:`_mhc_green`."""
    c00, c01, c02 = cam[0, 0], cam[0, 1], cam[0, 2]
    c10, c11, c12 = cam[1, 0], cam[1, 1], cam[1, 2]
    c20, c21, c22 = cam[2, 0], cam[2, 1], cam[2, 2]
    is_red = own == 0
    top = np.float32(65535)
    zero = np.float32(0)
    e = np.float32(0.125)
    for k in range(n):
        p = 2 * k + 2
        v = m[p]
        far = m[p - 2] + m[p + 2] + u2[p] + d2[p]
        g = (np.float32(4) * v + np.float32(2) * (m[p - 1] + m[p + 1] + u1[p] + d1[p])
             - far) * e
        x = (np.float32(6) * v + np.float32(2) * (u1[p - 1] + u1[p + 1] + d1[p - 1]
                                                  + d1[p + 1]) - np.float32(1.5) * far) * e
        r = v if is_red else x
        b = x if is_red else v
        out[6 * k] = min(max(c00 * r + c01 * g + c02 * b, zero), top)
        out[6 * k + 1] = min(max(c10 * r + c11 * g + c12 * b, zero), top)
        out[6 * k + 2] = min(max(c20 * r + c21 * g + c22 * b, zero), top)


@njit(**JIT)
def demosaic_mhc(raw, colour, black, scale, cam, out):
    """A Bayer mosaic (H, W) uint16, both at least 5, to linear RGB ``out`` (H, W·3)
    uint16: scaled as LibRaw scales it (:func:`_bayer_row`), demosaiced by Malvar, He and
    Cutler's gradient-corrected bilinear filters (5×5, ICASSP 2004; borders mirrored), then
    the camera-to-sRGB matrix ``cam`` (3, 3), clipped to 0-65535 and truncated as LibRaw
    does. ``colour`` (2, 2): 0 R, 1 G, 2 B per Bayer phase.

    One pass of five scaled rows in a ring: LibRaw's pipeline (a 4-channel copy of the
    image, scaling, demosaicing and colour conversion passes, then a 16-bit copy) takes
    ~1 s for 24 MP with its bilinear or PPG demosaicing, 2 s with AHD; this 0.12 s.
    """
    h, w = raw.shape
    ring = np.empty((5, w + 4), np.float32)
    buf = np.empty((w + 1) // 2 * 6, np.float32)
    for t in range(-2, 3):
        r = -t if t < 0 else t
        _bayer_row(raw, r, colour, black, scale, ring[(t + 5) % 5])
    for i in range(h):
        if i > 0:
            t = i + 2
            r = 2 * (h - 1) - t if t >= h else t
            _bayer_row(raw, r, colour, black, scale, ring[t % 5])
        u2, u1, m = ring[(i + 3) % 5], ring[(i + 4) % 5], ring[i % 5]
        d1, d2 = ring[(i + 1) % 5], ring[(i + 2) % 5]
        p = i & 1
        orow = out[i]
        for q in range(2):
            n = (w - q + 1) // 2
            c = colour[p, q]
            views = (u2[q:], u1[q:], m[q:], d1[q:], d2[q:])
            if c == 1:
                _mhc_green(*views, colour[p, 1 - q], cam, buf, n)
            else:
                _mhc_redblue(*views, c, cam, buf, n)
            o = orow[3 * q:]
            for k in range(n):
                o[6 * k] = np.uint16(buf[6 * k])
                o[6 * k + 1] = np.uint16(buf[6 * k + 1])
                o[6 * k + 2] = np.uint16(buf[6 * k + 2])
