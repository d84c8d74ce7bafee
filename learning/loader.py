"""Batches for training and evaluation, from a packed split (:mod:`learning.pack`).

A batch is a gather of sample indices from memory-mapped arrays, done by a torch
``DataLoader``'s worker processes (``batch_size=None`` over a sampler of index lists), handed
over in the packed types (uint8 photo, float16 normals and channels, bool mask: about half the
bytes of float32), in pinned memory, to the device, where it becomes float and is augmented:
the paper's ×4 data (a horizontal flip with the normals' x negated and the landmark channels
mirrored, a brighter and a darker copy) drawn per sample on the fly from a seeded generator.

Sharding across processes is torch's ``DistributedSampler`` (each rank its own part of the
split, reshuffled per epoch); nothing of our own.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, DistributedSampler

from learning.augment import BRIGHTNESS
from learning.pack import PackedSplit

#: The facial parts of the landmark channel (learning.preprocess.PARTS), by id from 1: a flip
#: swaps each left part with its right one; 0 (none), face, nose and lips stay.
_PARTS = ("face", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye", "left_iris",
          "right_iris", "nose", "lips")


def _mirror_ids() -> list[int]:
    ids = [0]
    for name in _PARTS:
        other = (name.replace("left_", "right_") if name.startswith("left_")
                 else name.replace("right_", "left_"))
        ids.append(_PARTS.index(other) + 1)
    return ids


MIRROR_IDS = _mirror_ids()


class _Gather(Dataset):
    """Index list -> the packed arrays of those samples, as tensors (no conversion)."""

    def __init__(self, packed: PackedSplit):
        self.p = packed

    def __len__(self) -> int:
        return len(self.p)

    def __getitem__(self, idx: list[int]) -> dict[str, torch.Tensor]:
        order = np.sort(np.asarray(idx))  # ascending reads from the maps, then back
        back = np.argsort(np.argsort(np.asarray(idx)))
        out = {k: torch.from_numpy(np.ascontiguousarray(getattr(self.p, k)[order][back]))
               for k in ("image", "channels", "normals", "mask")}
        out["index"] = torch.as_tensor(np.asarray(idx), dtype=torch.int64)
        return out


class _Shard:
    """Rank ``rank``'s share of ``n`` samples in order (``rank``, ``rank + world``, ...):
    each sample on exactly one rank, none repeated, so sharded scores add up exactly."""

    def __init__(self, n: int, rank: int, world: int):
        self.rank, self.ids = rank, list(range(rank, n, world))

    def __iter__(self):
        return iter(self.ids)

    def __len__(self) -> int:
        return len(self.ids)

    def set_epoch(self, epoch: int) -> None:
        pass


class Batches:
    """Iterate over batches of ``packed`` on ``device``: dicts of ``input`` (N, C, S, S)
    float32, ``normals`` (N, 3, S, S) float32, ``mask`` (N, 1, S, S) bool and ``index``.

    ``shuffle`` and ``augment`` for training (call :meth:`set_epoch` each epoch: the order
    and the augmentation are seeded by (``seed``, epoch)); ``rank``/``world`` shard it."""

    def __init__(self, packed: PackedSplit, batch: int, device: torch.device | str = "cpu",
                 shuffle: bool = False, augment: bool = False, seed: int = 0,
                 workers: int = 0, rank: int = 0, world: int = 1, drop_last: bool = False,
                 flip_p: float = 0.5, brightness: tuple[float, float] = BRIGHTNESS):
        if batch < 1:
            raise ValueError(f"batch must be at least 1, got {batch}")
        self.packed = packed
        self.device = torch.device(device)
        self.augment, self.seed, self.epoch = augment, seed, 0
        self.flip_p, self.brightness = flip_p, brightness
        if shuffle or drop_last:
            self.sampler = DistributedSampler(_Gather(packed), num_replicas=world, rank=rank,
                                              shuffle=shuffle, seed=seed, drop_last=drop_last)
        else:  # every sample once over all ranks (DistributedSampler would repeat some)
            self.sampler = _Shard(len(packed), rank, world)
        batches = BatchSampler(self.sampler, batch, drop_last=drop_last)
        pin = self.device.type == "cuda"
        self.loader = DataLoader(_Gather(packed), sampler=batches, batch_size=None,
                                 num_workers=workers, pin_memory=pin,
                                 persistent_workers=workers > 0,
                                 prefetch_factor=4 if workers > 0 else None)
        self.mirror = torch.tensor(MIRROR_IDS, dtype=torch.float32, device=self.device)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        gen = torch.Generator(device=self.device)
        gen.manual_seed(hash((self.seed, self.epoch, self.sampler.rank)) & 0x7FFF_FFFF)
        for raw in self.loader:
            yield self.to_device(raw, gen)

    def to_device(self, raw: dict[str, torch.Tensor],
                  gen: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """A gathered batch on the device, as float, augmented when ``augment``."""
        nb = self.device.type == "cuda"
        image = raw["image"].to(self.device, non_blocking=nb).permute(0, 3, 1, 2).float()
        image = image.mul_(1.0 / 255.0)
        channels = raw["channels"].to(self.device, non_blocking=nb).permute(0, 3, 1, 2).float()
        normals = raw["normals"].to(self.device, non_blocking=nb).permute(0, 3, 1, 2).float()
        mask = raw["mask"].to(self.device, non_blocking=nb)[:, None]
        if self.augment:
            n = image.shape[0]
            flip = torch.rand(n, device=self.device, generator=gen) < self.flip_p
            lo, hi = self.brightness
            factor = lo + (hi - lo) * torch.rand(n, device=self.device, generator=gen)
            image, channels, normals, mask = flip_batch(image, channels, normals, mask, flip,
                                                        self.mirror)
            image = (image * factor[:, None, None, None]).clamp_(0.0, 1.0)
        # One copy into the layout the model runs in: channels_last on CUDA (the packed
        # arrays are NHWC already), plain NCHW on the CPU.
        layout = torch.channels_last if nb else torch.contiguous_format
        return {"input": torch.cat([image, channels], dim=1).contiguous(memory_format=layout),
                "normals": normals, "mask": mask, "index": raw["index"]}


def flip_batch(image, channels, normals, mask, which, mirror_ids):
    """Mirror the samples where ``which``: every map left-right, the normals' x negated, and
    the landmark part channel's left parts made right ones (``mirror_ids``)."""
    # Nothing to flip: skipped on the CPU; on a GPU the test would wait for the device.
    if which.device.type == "cpu" and not bool(which.any()):
        return image, channels, normals, mask
    w = which[:, None, None, None]
    image = torch.where(w, image.flip(-1), image)
    mask = torch.where(w, mask.flip(-1), mask)
    flipped = normals.flip(-1)
    flipped = torch.cat([-flipped[:, :1], flipped[:, 1:]], dim=1)
    normals = torch.where(w & mask, flipped, torch.where(w, torch.zeros_like(normals), normals))
    if channels.shape[1]:
        c = channels.flip(-1)
        parts = len(mirror_ids) - 1
        ids = torch.round(c[:, :1] * parts).long().clamp_(0, parts)
        label = mirror_ids[ids] / parts
        c = torch.cat([label, c[:, 1:]], dim=1)
        channels = torch.where(w, c, channels)
    return image, channels, normals, mask
