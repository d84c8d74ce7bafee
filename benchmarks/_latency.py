"""Inference latency of U-Nets on one input, printed as JSON: run by ``learning.py speed``.

A script of its own because the peer, ``segmentation_models_pytorch``, needs torchvision,
which does not import beside the project's CPU torch: ``learning.py`` runs this file once in
the project's venv (our presets) and once in the peer's environment (the peer and, for a
comparison on the same torch, our presets again). The models are timed in turn, round after
round, so drift of the machine hits all of them alike.

    python benchmarks/_latency.py --models small,paper,smp --size 512 --repeat 10 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(name: str, channels: int, outputs: int = 4):
    if name == "smp":
        import segmentation_models_pytorch as smp

        return smp.Unet("resnet34", encoder_weights=None, in_channels=channels, classes=outputs)
    from learning.model import build as build_unet

    return build_unet(name, channels)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="small,paper")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--channels", type=int, default=5)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--outputs", type=int, default=4,
                    help="the peer's output channels (ours: normals and mask, 4)")
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    names = args.models.split(",")
    base = {n: build(n, args.channels, args.outputs).eval() for n in names}
    x = torch.rand(args.batch, args.channels, args.size, args.size)
    # Each model in both memory layouts: oneDNN's convolutions run faster on NHWC
    # (channels_last), and `booth predict` uses it; the peer gets the same choice.
    models, inputs = {}, {}
    for n, m in base.items():
        models[n], inputs[n] = m, x
        models[f"{n}+cl"] = copy.deepcopy(m).to(memory_format=torch.channels_last)
        inputs[f"{n}+cl"] = x.to(memory_format=torch.channels_last)
    times: dict[str, list[float]] = {n: [] for n in models}
    with torch.inference_mode():
        for r in range(args.warmup + args.repeat):
            for n, m in models.items():
                t0 = time.perf_counter()
                y = m(inputs[n])
                dt = time.perf_counter() - t0
                if r >= args.warmup:
                    times[n].append(dt)
                assert y.shape[-2:] == x.shape[-2:]
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "params": {n: sum(p.numel() for p in m.parameters())
                                 for n, m in base.items()},
                      "times": times}))


if __name__ == "__main__":
    main()
