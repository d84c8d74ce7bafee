"""Train/val/test splits by subject.

Its own module because both sides of the dataset use it (the export assigns the splits into
the manifest; training reads them back by name) and because its one rule matters on its own:
a pseudonymous subject id is the same person in every session, so a person is in exactly one
split (no face seen in training is scored in test), and the same seed gives the same splits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def assign_splits(subjects: Sequence[str], fractions: Sequence[float],
                  seed: int) -> dict[str, str]:
    """Subject -> split, seeded; every subject in exactly one split."""
    subs = sorted(set(subjects))
    order = np.random.default_rng(seed).permutation(len(subs))
    bounds = np.round(np.cumsum(fractions) * len(subs)).astype(int)
    out = {}
    for rank, i in enumerate(order):
        out[subs[i]] = SPLITS[int(np.searchsorted(bounds, rank, side="right"))]
    return out
