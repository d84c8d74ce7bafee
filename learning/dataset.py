"""A torch ``Dataset`` over a dataset folder that ``booth export`` made.

Only the training side lives here (it runs on a GPU machine with torch and numpy, and imports
no MediaPipe, camera or UI): the files are read through :mod:`learning.sample_format`, and the
export that writes them is :mod:`learning.exporter`. A missing or malformed manifest or sample
file is an InputError naming it, never a raw KeyError or FileNotFoundError.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learning import augment as aug
from learning import preprocess
from learning.sample_format import read_manifest, read_sample
from learning.splits import SPLITS
from photometric.errors import InputError


class SampleDataset:
    """A torch ``Dataset`` over an exported split, with on-the-fly augmentation: a flip with
    probability ``flip_p`` and a brightness factor drawn from ``brightness`` (a (low, high)
    range), both seeded per item so an epoch is reproducible from ``seed``.

    The manifest is read and checked, and every sample file of the split looked for, when the
    dataset is made, so that a broken dataset fails before training starts."""

    def __init__(self, root: str | Path, split: str = "train", augment_on_the_fly: bool = True,
                 flip_p: float = 0.5, brightness: tuple[float, float] = aug.BRIGHTNESS,
                 seed: int = 0):
        import torch  # noqa: F401 - fail early and clearly if torch is missing

        if split not in SPLITS:
            raise InputError(f"split: expected one of {SPLITS}, got {split!r}")
        self.root = Path(root)
        manifest = read_manifest(self.root / "manifest.json")
        self.encoding = manifest["settings"]["encoding"]
        self.items = [s["file"] for s in manifest["samples"] if s["split"] == split]
        missing = [f for f in self.items if not self.path(f).is_file()]
        if missing:
            more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
            raise InputError(f"{self.path(missing[0])}: sample file not found{more}; the "
                             f"dataset {self.root} is incomplete (run 'booth export' again "
                             "into the same folder to redo it)")
        self.augment = augment_on_the_fly
        self.flip_p = flip_p
        self.brightness = brightness
        self.seed = seed
        self.epoch = 0

    def path(self, file: str) -> Path:
        return self.root / "samples" / file

    def __len__(self) -> int:
        return len(self.items)

    def set_epoch(self, epoch: int) -> None:
        """Call once per epoch: each epoch draws its own flips and brightness factors."""
        self.epoch = epoch

    def load(self, i: int) -> preprocess.Sample:
        return read_sample(self.path(self.items[i]), self.encoding)

    def __getitem__(self, i: int) -> dict:
        import torch

        s = self.load(i)
        if self.augment:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            if rng.random() < self.flip_p:
                s = aug.flip(s)
            s = aug.brightness(s, float(rng.uniform(*self.brightness)))
        return {
            "input": torch.from_numpy(np.ascontiguousarray(s.input.transpose(2, 0, 1))),
            "normals": torch.from_numpy(np.ascontiguousarray(s.normals.transpose(2, 0, 1))),
            "mask": torch.from_numpy(np.ascontiguousarray(s.mask[None])),
        }


# TEMPORARY re-exports for booth/, removed once it imports the new modules
from learning.exporter import Outcome, Settings, Source, export  # noqa: E402, F401
from learning.workers import start_workers  # noqa: E402, F401
