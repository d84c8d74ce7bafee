"""Augmentations of a sample, as in the paper's 4× data: a horizontal flip, and brighter and
darker copies. Usable on the fly (the torch Dataset) and to materialise an export.

The flip mirrors the photo, the normal map (whose x component changes sign) and the mask, and
rebuilds the landmark channels from the mirrored landmarks, each moved to its mirrored index
(``learning.mirror``), so that "left eye" is still the left eye of the flipped face.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from learning.mirror import mirror_landmarks
from learning.preprocess import Sample, landmark_channels
from learning.settings import BRIGHTNESS


def flip(sample: Sample) -> Sample:
    size = sample.image.shape[1]
    normals = sample.normals[:, ::-1].copy()
    normals[..., 0] *= -1.0
    normals[..., 0][~sample.mask[:, ::-1]] = 0.0  # no negative zero outside the mask
    pts = mirror_landmarks(sample.landmarks, size)
    return replace(sample, image=sample.image[:, ::-1].copy(), normals=normals,
                   mask=sample.mask[:, ::-1].copy(), landmarks=pts,
                   channels=landmark_channels(pts, size, sample.encoding),
                   parts=None if sample.parts is None else sample.parts[:, ::-1].copy())


def brightness(sample: Sample, factor: float) -> Sample:
    """The photo scaled by ``factor`` (clipped); geometry unchanged."""
    if factor <= 0:
        raise ValueError(f"brightness factor must be positive, got {factor}")
    return replace(sample, image=np.clip(sample.image * factor, 0.0, 1.0))


def variants(sample: Sample, factors=BRIGHTNESS, flips: bool = True) -> dict[str, Sample]:
    """The sample and its augmented copies by name: '', 'flip', 'x0.7', 'flip-x0.7', ..."""
    base = {"": sample}
    if flips:
        base["flip"] = flip(sample)
    out = dict(base)
    for name, s in base.items():
        for f in factors:
            out[f"{name}-x{f:g}".lstrip("-")] = brightness(s, f)
    return out
