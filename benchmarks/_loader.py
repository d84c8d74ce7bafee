"""The training loader alone: batches a second from a packed split at 512² (``python
benchmarks/learning.py loader`` runs this). A synthetic packed split (random pixels, the
packed format's arrays) is written once to ``--work``; each loader setting is then timed over
whole passes, the page cache warm (as in training from the second epoch on)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

# benchmarks/learning.py would shadow the learning package
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]


def make_split(folder: Path, n: int, size: int) -> Path:
    """A packed ``train`` split of ``n`` random samples (kept for the next call)."""
    from learning.pack import FOLDER, create_arrays

    root = folder / f"ds-{n}x{size}"
    split = root / FOLDER / "train"
    if (split / "index.json").is_file():
        return root
    split.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for a in create_arrays(split, n, size, 2).values():
        for i in range(n):
            a[i] = rng.integers(0, 2, a.shape[1:]).astype(a.dtype)
        a.flush()
    (split / "index.json").write_text(json.dumps({
        "encoding": "points", "size": size, "count": n, "files": [f"{i}.npz" for i in range(n)],
        "subjects": [f"p{i}" for i in range(n)]}))
    return root


def time_loader(root: Path, batch: int, workers: int, passes: int) -> list[float]:
    from learning.loader import Batches
    from learning.pack import ARRAYS, FOLDER, PackedSplit

    split = root / FOLDER / "train"
    idx = json.loads((split / "index.json").read_text())
    arrays = {k: np.load(split / f"{k}.npy", mmap_mode="r")
              for k in ARRAYS}
    packed = PackedSplit(root, "train", idx["encoding"], idx["size"], files=idx["files"],
                         subjects=idx["subjects"], **arrays)
    loader = Batches(packed, batch, "cpu", shuffle=True, workers=workers)
    rates = []
    for p in range(passes + 1):
        loader.set_epoch(p)
        t0, seen = time.perf_counter(), 0
        # The host's side alone: the gathered batches as they would be copied to a GPU
        # (there the conversion to float and the augmentation run on the device).
        for raw in loader.raw():
            seen += raw["image"].shape[0]
        if p:  # the first pass warms the page cache and starts the workers
            rates.append(seen / (time.perf_counter() - t0))
    return rates


def memcpy_rate(root: Path, passes: int) -> float:
    """The floor of the work: each packed array copied whole in one contiguous copy (the
    bytes a pass moves, with no gathering), images a second, median over ``passes``."""
    from learning.pack import FOLDER

    split = root / FOLDER / "train"
    arrays = [np.load(split / f"{k}.npy", mmap_mode="r")
              for k in ("image", "channels", "normals", "mask")]
    outs = [np.empty(a.shape, a.dtype) for a in arrays]
    rates = []
    for p in range(passes + 1):
        t0 = time.perf_counter()
        for a, o in zip(arrays, outs, strict=True):
            np.copyto(o, a)
        if p:
            rates.append(len(arrays[0]) / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default="out/bench-loader")
    ap.add_argument("--samples", type=int, default=96)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--workers", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    root = make_split(Path(args.work), args.samples, args.size)
    out = {}
    ceiling = memcpy_rate(root, args.passes)
    print(f"ceiling: every array copied whole, contiguous: {ceiling:.0f} img/s", flush=True)
    for w in args.workers:
        rates = time_loader(root, args.batch, w, args.passes)
        out[w] = statistics.median(rates)
        print(f"workers {w}: {out[w]:.0f} img/s median over {args.passes} passes "
              f"({args.samples} samples at {args.size}², batch {args.batch}), "
              f"{out[w] / ceiling:.2f}× the ceiling", flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
