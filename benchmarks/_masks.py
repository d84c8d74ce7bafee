"""Where a prediction holds: the network's own mask against MediaPipe's selfie segmentation,
on held-out simulated people (whose true masks are known): run by ``learning.py masks``.

    python benchmarks/_masks.py RUN DATASET [--split test]

For each sample of the split (the crop the network sees): the network's mask (its fourth
channel's logit > 0), the selfie segmentation's (MediaPipe's ``selfie_segmentation``, general
model, > 0.5, run on the same crop), and the two together (both say "person"), each scored by
its intersection over union with the true mask, over all pixels of the split.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("dataset")
    ap.add_argument("--split", default="test")
    args = ap.parse_args()

    import numpy as np
    import torch

    from learning import checkpoint, metrics
    from learning.facemesh import native_stderr
    from learning.loader import Batches
    from learning.pack import open_split

    model, _ = checkpoint.load_model(args.run)
    model.eval()
    packed = open_split(args.dataset, args.split)
    with native_stderr():
        import mediapipe as mp

        seg = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)
    counts = {k: [0, 0] for k in ("network", "segmentation", "both")}
    with torch.no_grad():
        for b in Batches(packed, 8):
            said = metrics.mask_of(model(b["input"]))
            if said is None:
                sys.exit(f"{args.run}: the model has no mask output")
            for j, i in enumerate(b["index"].tolist()):
                truth = np.asarray(packed.mask[i])
                with native_stderr():
                    person = seg.process(np.ascontiguousarray(packed.image[i])
                                         ).segmentation_mask > 0.5
                net = said[j].numpy()
                for k, m in (("network", net), ("segmentation", person),
                             ("both", net & person)):
                    counts[k][0] += int((m & truth).sum())
                    counts[k][1] += int((m | truth).sum())
    print(f"## The sitter's mask on {len(packed)} held-out people ({args.split} split, "
          f"{packed.size}² crops): intersection over union with the true mask\n")
    print("| mask | IoU |\n| --- | --- |")
    for k, (inter, union) in counts.items():
        print(f"| {k} | {inter / max(union, 1):.3f} |")


if __name__ == "__main__":
    main()
