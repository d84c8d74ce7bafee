"""A packed dataset of synthetic samples made with numpy alone: what ``gpu-check.sh`` trains on
where the project's simulation cannot run (the GPU machine has torch and numpy, not OpenCV,
MediaPipe or the body model).

    python benchmarks/_synthetic_dataset.py DATASET --count 256 --size 512

Each sample is a shaded sphere of random size, colour and place (its true normals, its mask,
random landmarks and landmark channels), in the export's packed form (``learning.pack``: the
arrays and ``index.json`` of each split, current against a ``manifest.json`` of the export's
keys), so ``python -m learning.trainer DATASET`` trains on it at once, with no packing. Its
learning curve means nothing; its speed is the speed of real data of that size.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def make(root: Path, count: int, size: int, seed: int = 0) -> Path:
    import numpy as np

    from learning.pack import FOLDER, PACK_VERSION, UNKNOWN, create_arrays, manifest_digest
    from learning.splits import SPLITS

    rng = np.random.default_rng(seed)
    splits = {"train": int(count * 0.8), "val": count - int(count * 0.8) - count // 10,
              "test": count // 10}
    samples, k = [], 0
    for split in SPLITS:
        for _ in range(splits[split]):
            samples.append({"file": f"s{k:05d}.npz", "key": f"synthetic/s{k:05d}/0",
                            "subject": f"s{k:05d}", "split": split, "checksum": "0"})
            k += 1
    manifest = {"format_version": 1, "software_version": "synthetic", "created": "",
                "settings": {"size": size, "encoding": "points", "framing": "person"},
                "samples": samples, "sources": [], "counts": {"samples": count},
                "splits": {s: sorted(x["subject"] for x in samples if x["split"] == s)
                           for s in SPLITS}}
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.json").write_text(json.dumps(manifest))
    digest = manifest_digest(root)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    for split in SPLITS:
        rows = [s for s in samples if s["split"] == split]
        n = len(rows)
        out = root / FOLDER / split
        out.mkdir(parents=True, exist_ok=True)
        mm = create_arrays(out, n, size, 2)
        for i in range(n):
            r = size * rng.uniform(0.3, 0.42)
            cx, cy = size / 2 + rng.normal(0, size / 40, 2)
            dx, dy = (xx - cx) / r, (yy - cy) / r
            inside = dx * dx + dy * dy < 0.98
            nz = np.sqrt(np.clip(1 - dx * dx - dy * dy, 0, 1))
            normals = np.stack([dx, -dy, nz], -1) * inside[..., None]
            shade = np.clip(nz[..., None] * rng.uniform(0.4, 0.9, 3), 0, 1) * inside[..., None]
            mm["image"][i] = (shade * 255).astype(np.uint8)
            mm["normals"][i] = normals.astype(np.float16)
            mm["mask"][i] = inside
            mm["channels"][i] = 0
            mm["landmarks"][i] = rng.uniform(0, size, (478, 3))
            mm["parts"][i] = UNKNOWN
        for a in mm.values():
            a.flush()
        (out / "index.json").write_text(json.dumps({
            "pack_version": PACK_VERSION, "manifest_sha256": digest, "encoding": "points",
            "size": size, "count": n, "files": [s["file"] for s in rows],
            "subjects": [s["subject"] for s in rows]}))
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("--count", type=int, default=256)
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    root = make(Path(args.dataset), args.count, args.size)
    print(f"synthetic packed dataset: {args.count} samples at {args.size}² in {root}")


if __name__ == "__main__":
    main()
