"""Left-right correspondence of Face Mesh landmarks, for flipping samples.

When a portrait is flipped horizontally, the landmark that was "left eye outer corner" lies
where "right eye outer corner" should be. ``MIRROR[i]`` is the index that landmark ``i``
becomes; see ``learning/data/README.md`` for how the table was measured.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import numpy as np


@cache
def mirror_index() -> np.ndarray:
    text = resources.files("learning").joinpath("data/mirror_index.csv").read_text()
    rows = [line.split(",") for line in text.splitlines()[1:] if line]
    table = np.array([int(m) for _, m in rows], np.int64)
    return table


def mirror_landmarks(points: np.ndarray, width: int) -> np.ndarray:
    """Landmarks (478, 3) of an image of ``width`` pixels -> those of the image flipped
    left-right: x mirrored, and each point moved to its mirrored index."""
    out = np.empty_like(points)
    out[mirror_index()] = points
    out[:, 0] = width - out[:, 0]
    return out


def derive(images) -> np.ndarray:
    """Measure the table from portraits (the majority over ``images``)."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    from learning.facemesh import detect

    perms = []
    for im in images:
        a = detect(im).points
        b = detect(np.ascontiguousarray(im[:, ::-1])).points
        b[:, 0] = im.shape[1] - b[:, 0]
        _, col = linear_sum_assignment(cdist(b[:, :2], a[:, :2]))
        perms.append(col)
    p = np.array(perms)
    return np.array([np.bincount(p[:, i]).argmax() for i in range(p.shape[1])])
