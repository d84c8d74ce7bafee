"""Batches for training and evaluation, from a packed split (:mod:`learning.pack`).

A batch is a gather of sample indices from memory-mapped arrays straight into the buffers
that go to the device (pinned memory on CUDA), by a pool of threads in this process: each
sample is one contiguous copy, which numpy does without the GIL. One copy from the page
cache, where a ``DataLoader``'s worker processes made three (the gather, the move into
shared memory, the copy into pinned memory): about 200 images a second per worker at 512²
against about 2,500 for one gathering thread on the 2-core machine, as fast as copying the
packed arrays whole (``benchmarks/learning.py loader``). Batches
are handed over in the packed types (uint8 photo, float16 normals and channels, bool mask:
about half the bytes of float32) and become float on the device, where they are augmented:
the paper's ×4 data (a horizontal flip with the normals' x negated and the landmark channels
mirrored, a brighter and a darker copy) drawn per sample on the fly from a seeded generator.

Sharding across processes is torch's ``DistributedSampler`` (each rank its own part of the
split, reshuffled per epoch); for scoring, each sample once over all ranks (:class:`_Shard`).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import BatchSampler, DistributedSampler

from learning.pack import PackedSplit
from learning.settings import BRIGHTNESS

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


#: The packed arrays a batch carries, and their torch types.
_FIELDS = {"image": torch.uint8, "channels": torch.float16, "normals": torch.float16,
           "mask": torch.bool}


def gather(packed: PackedSplit, ids, pin: bool = False) -> dict[str, torch.Tensor]:
    """Samples ``ids`` of ``packed`` as tensors in the packed types (pinned with ``pin``),
    each sample one contiguous copy into them, in ascending order of the maps."""
    ids = np.asarray(ids, np.int64)
    out = {k: torch.empty((len(ids), *getattr(packed, k).shape[1:]), dtype=t, pin_memory=pin)
           for k, t in _FIELDS.items()}
    views = {k: v.numpy() for k, v in out.items()}
    for j in np.argsort(ids, kind="stable"):
        for k in _FIELDS:
            views[k][j] = getattr(packed, k)[ids[j]]
    out["index"] = torch.from_numpy(ids)
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
            self.sampler = DistributedSampler(range(len(packed)), num_replicas=world, rank=rank,
                                              shuffle=shuffle, seed=seed, drop_last=drop_last)
        else:  # every sample once over all ranks (DistributedSampler would repeat some)
            self.sampler = _Shard(len(packed), rank, world)
        self.batches = BatchSampler(self.sampler, batch, drop_last=drop_last)
        self.workers = workers
        self.mirror = torch.tensor(MIRROR_IDS, dtype=torch.float32, device=self.device)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        gen = torch.Generator(device=self.device)
        gen.manual_seed(hash((self.seed, self.epoch, self.sampler.rank)) & 0x7FFF_FFFF)
        for raw in self.raw():
            yield self.to_device(raw, gen)

    def raw(self) -> Iterator[dict[str, torch.Tensor]]:
        """The epoch's batches as gathered on the host, in order: by ``workers`` threads,
        two batches ahead each, or in this thread with none."""
        pin = self.device.type == "cuda"
        if self.workers <= 0:
            for ids in self.batches:
                yield gather(self.packed, ids, pin)
            return
        pool = cf.ThreadPoolExecutor(self.workers, thread_name_prefix="batches")
        ahead: collections.deque = collections.deque()
        try:
            for ids in self.batches:
                ahead.append(pool.submit(gather, self.packed, ids, pin))
                if len(ahead) > 2 * self.workers:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

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
