"""Train/val/test splits by subject.

Its own module because both sides of the dataset use it (the export assigns the splits into
the manifest and makes augmented copies for train alone; training reads them back by name)
and because its rules matter on their own: a pseudonymous subject id is the same person in
every session, so a person is in exactly one split (no face seen in training is scored in
test); and a person's split is a pure function of their id and the seed (where a hash of the
two falls among the fractions), so it never moves when other people are exported or left
out. A shuffle of the sorted subjects did move them: growing a dataset from 520 to 572 people
put 23 of the 52 test people into train.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

SPLITS = ("train", "val", "test")


def split_of(subject: str, fractions: Sequence[float], seed: int) -> str:
    """The split of ``subject``: where blake2b(seed, subject), read as a number in [0, 1),
    falls among the cumulative ``fractions`` (train, val, test)."""
    digest = hashlib.blake2b(f"{int(seed)}\0{subject}".encode(), digest_size=8).digest()
    u = int.from_bytes(digest, "big") / 2.0 ** 64
    edge = 0.0
    for name, share in zip(SPLITS, fractions, strict=True):
        edge += share
        if u < edge:
            return name
    # Rounding of fractions that add up to 1: the last split with a share takes the rest.
    return next(name for name, share in zip(SPLITS[::-1], fractions[::-1], strict=True)
                if share > 0)


def assign_splits(subjects: Sequence[str], fractions: Sequence[float],
                  seed: int) -> dict[str, str]:
    """Subject -> split (:func:`split_of` of each); every subject in exactly one split."""
    return {s: split_of(s, fractions, seed) for s in sorted(set(subjects))}
