"""The trainer's DistributedDataParallel branch over NCCL on the one GPU a machine has: run by
``gpu-check.sh``.

    python benchmarks/_ddp_one_gpu.py DATASET --out RUN [trainer options]

NCCL will not put two ranks on one GPU, so a process group of one is made first (a file store)
and ``WORLD_SIZE=2`` is claimed, so that ``learning.trainer`` takes its distributed branch: the
DDP wrapper, the all_reduce of the loss, the sharded validation, the broadcast of --hours.
Its sampler then takes half the split, and its img/s counts twice the images it saw. On a CPU
(``--device cpu``) the group is gloo.
"""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    import torch
    import torch.distributed as dist

    cuda = "cpu" not in sys.argv
    if cuda:
        torch.cuda.set_device(0)
    store = tempfile.mktemp(prefix="ddp-store-")
    dist.init_process_group("nccl" if cuda else "gloo", init_method="file://" + store, rank=0,
                            world_size=1, timeout=datetime.timedelta(seconds=120))
    os.environ.update(WORLD_SIZE="2", RANK="0", LOCAL_RANK="0")
    from learning.trainer import main as train_main

    rc = train_main(sys.argv[1:])
    t = torch.ones(1, device="cuda" if cuda else "cpu")
    dist.all_reduce(t)
    print("all_reduce after training:", float(t))
    dist.destroy_process_group()
    return rc


if __name__ == "__main__":
    sys.exit(main())
