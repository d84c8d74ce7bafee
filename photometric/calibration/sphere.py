"""The calibration sphere in a photo: where it is, and its normals, known analytically."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from photometric import stereo
from photometric.errors import InputError
from photometric.lights import (
    CHANNELS,
)


@dataclass(frozen=True)
class Circle:
    """The sphere's outline in the image: centre (column, row) and radius, in pixels."""

    cx: float
    cy: float
    r: float

    @classmethod
    def parse(cls, text: str) -> Circle:
        """Parse ``cx,cy,r`` (the CLI's ``--circle``): three finite numbers, the radius
        > 0; an infinite one would pass here and fail later as 'no sphere pixel'."""
        try:
            cx, cy, r = (float(v) for v in text.split(","))
        except ValueError:
            raise InputError(f"--circle: expected 'cx,cy,r' in pixels, got {text!r}") from None
        if not all(math.isfinite(v) for v in (cx, cy, r)):
            raise InputError(f"--circle: expected finite numbers 'cx,cy,r' in pixels, got "
                             f"{text!r}")
        if not r > 0:
            raise InputError(f"--circle: radius must be positive, got {r:g}")
        return cls(cx, cy, r)


def grey_stack(images: Mapping[str, np.ndarray],
                saturated: float = stereo.Thresholds.saturated) -> dict[str, np.ndarray]:
    """Ambient-subtracted grey float images in [0, 1] and the per-pixel saturation masks."""
    imgs, amb, has_amb, nch, full, luma = stereo.prepare(images)
    out = {}
    h = imgs[0].shape[0]
    ambient = amb.reshape(h, -1, nch).astype(np.float32) / full if has_amb else 0.0
    for name, flat in zip(CHANNELS, imgs, strict=True):
        a = flat.reshape(h, -1, nch)
        x = np.clip(a.astype(np.float32) / full - ambient, 0.0, None)
        out[name] = x @ luma.astype(np.float32)
        out[name + ":sat"] = (a >= saturated * full).any(axis=2)
    return out


def find_sphere(images: Mapping[str, np.ndarray]) -> Circle:
    """Locate the sphere: the largest round bright region of the brightest-flash image."""
    grey = grey_stack(images)
    peak = np.max([grey[c] for c in CHANNELS], axis=0)
    # Dark means no signal above a few quantisation steps, not a fraction of full scale: a
    # sphere exposed at 1 % of a 16-bit range is still hundreds of levels deep.
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(
        np.asarray(images["center"]).dtype, 0.0)
    if peak.max() <= (4.0 / full if full else 1e-3):
        raise InputError("no sphere found: every calibration image is dark")
    img8 = np.clip(peak / peak.max() * 255.0, 0, 255).astype(np.uint8)
    t, _ = cv2.threshold(img8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    coarse = img8 > t
    # Refine: a sphere's rim is darker than its centre; keep everything clearly above background.
    level = max(0.15 * float(np.median(img8[coarse])), 1.0) if coarse.any() else t
    binary = (img8 > level).astype(np.uint8)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if n < 2:
        raise InputError("no sphere found: no bright region in the calibration images")
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == best).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    area = float(filled.sum())
    rows, cols = np.nonzero(filled)
    cx, cy = float(cols.mean()), float(rows.mean())
    r = float(np.sqrt(area / np.pi))
    (_, _), r_enc = cv2.minEnclosingCircle(max(contours, key=cv2.contourArea))
    if r < 8 or area / (np.pi * r_enc**2) < 0.8:
        raise InputError(
            f"no sphere found: the largest bright region ({int(area)} px) is not round; "
            "pass --circle cx,cy,r"
        )
    return Circle(cx, cy, r)


def sphere_normals(shape: tuple[int, int], circle: Circle) -> tuple[np.ndarray, np.ndarray]:
    """Analytic unit normals (H, W, 3) of the sphere and its mask, pixel centres at integers."""
    h, w = shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    x, y = (cols - circle.cx) / circle.r, -(rows - circle.cy) / circle.r
    rho2 = x * x + y * y
    mask = rho2 < 1.0
    z = np.sqrt(np.clip(1.0 - rho2, 0.0, None))
    n = np.where(mask[..., None], np.stack([x, y, z], -1), 0.0)
    return n.astype(np.float32), mask
