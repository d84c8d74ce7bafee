"""Per-pixel flags of a photometric-stereo result (a bit field, ``StereoResult.flags``).
"""

from __future__ import annotations

import numpy as np

# Per-pixel flags (StereoResult.flags).
SHADOWED = np.uint8(1)  # at least one flash image too dark to use at this pixel

SATURATED = np.uint8(2)  # at least one flash image clipped at this pixel


UNDERDETERMINED = np.uint8(4)  # lit, but by fewer than three usable lights

CLAMPED = np.uint8(8)  # simplified: gradient clamped to the range seen on the sphere


FILLED = np.uint8(16)  # lit, but not solvable here: filled from the neighbours (fill)

SPECULAR = np.uint8(32)  # lambertian: the brightest observation was a highlight, left out
