"""The GPU's side and the loader's side of training apart, at the dataset's size: run by
``gpu-check.sh``.

    python benchmarks/_gpu_microbench.py DATASET OUT.json [--device cuda]

(1) Training steps on synthetic tensors already on the device (bf16 autocast on CUDA,
channels_last, fused AdamW, the project's loss with its mask term) for the small and paper
presets and the peer, ``segmentation_models_pytorch``'s ``Unet("resnet34")`` with the same 5
inputs and 4 outputs, where it imports; with ``cudnn.benchmark``. (2) ``learning.loader.Batches``
alone (the gather threads, the pinned copy, the augmentation on the device) for several thread
counts. Each case is written to OUT.json as it finishes; a case that fails is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset")
    ap.add_argument("out")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()

    import torch

    from learning import metrics
    from learning.loader import Batches
    from learning.model import build
    from learning.pack import open_split

    dev = torch.device(args.device)
    cuda = dev.type == "cuda"
    split = open_split(args.dataset, "train", repack=False)
    size, channels = split.size, split.in_channels
    res: dict = {"device": torch.cuda.get_device_name(0) if cuda else "cpu",
                 "torch": torch.__version__, "size": size, "steps": {}, "loader": {}}

    def save() -> None:
        Path(args.out).write_text(json.dumps(res, indent=1))

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    def model_of(name: str) -> torch.nn.Module:
        if name == "smp":
            import segmentation_models_pytorch as smp

            return smp.Unet("resnet34", encoder_weights=None, in_channels=channels, classes=4)
        return build(name, channels)

    def steps(name: str, batch: int, count: int) -> dict:
        torch.backends.cudnn.benchmark = True
        torch.manual_seed(0)
        model = model_of(name).to(dev, memory_format=torch.channels_last)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=cuda)
        x = torch.rand(batch, channels, size, size, device=dev).contiguous(
            memory_format=torch.channels_last)
        t = torch.nn.functional.normalize(torch.randn(batch, 3, size, size, device=dev), dim=1)
        m = torch.rand(batch, 1, size, size, device=dev) < 0.5

        def one() -> None:
            with torch.autocast(dev.type, torch.bfloat16, enabled=cuda):
                pred = model(x)
            if pred.shape[1] == 4 and name == "smp":  # the peer's normals made unit, as ours
                pred = torch.cat([torch.nn.functional.normalize(pred[:, :3].float(), dim=1),
                                  pred[:, 3:].float()], dim=1)
            loss = metrics.loss(pred, t, m)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for _ in range(3):
            one()
        sync()
        t0 = time.perf_counter()
        for _ in range(count):
            one()
        sync()
        dt = time.perf_counter() - t0
        out = {"img_per_s": round(batch * count / dt, 1),
               "ms_per_step": round(1000 * dt / count, 2)}
        if cuda:
            out["peak_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
            torch.cuda.reset_peak_memory_stats()
        return out

    for name, batch, count in (("small", 32, 20), ("paper", 16, 10), ("smp", 32, 20)):
        if not cuda:  # a dry run
            batch, count = 2, 2
        try:
            res["steps"][f"{name}_b{batch}"] = steps(name, batch, count)
        except Exception as exc:  # noqa: BLE001 - an out-of-memory or a missing peer, recorded
            res["steps"][f"{name}_b{batch}"] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        print(name, res["steps"][f"{name}_b{batch}"], flush=True)
        if cuda:
            torch.cuda.empty_cache()
        save()

    def loader(workers: int, batch: int = 32, epochs: int = 2) -> dict:
        b = Batches(split, batch, dev, shuffle=True, augment=True, workers=workers,
                    drop_last=len(split) >= batch)
        got, t0 = 0, None
        for e in range(epochs):
            b.set_epoch(e)
            for _ in b:
                if t0 is None:  # the first batch carries the threads' start
                    t0 = time.perf_counter()
                    continue
                got += 1
        sync()
        dt = time.perf_counter() - (t0 or time.perf_counter())
        return {"img_per_s": round(got * batch / max(dt, 1e-9), 1), "batches": got}

    for w in (0, 1, 2, 4, 8):
        try:
            res["loader"][f"threads_{w}"] = loader(w)
        except Exception as exc:  # noqa: BLE001
            res["loader"][f"threads_{w}"] = {"error": f"{type(exc).__name__}: {exc}"}
        print("loader", w, res["loader"][f"threads_{w}"], flush=True)
        save()


if __name__ == "__main__":
    main()
