"""``booth train``: train the U-Net on a training set (:mod:`learning.trainer`); ``--gpus N``
starts torchrun. The training options are parsed here without importing torch."""

from __future__ import annotations

import argparse
import sys

from booth import options


def register(sub: argparse._SubParsersAction) -> None:
    tr = sub.add_parser("train", help="train the normal-map U-Net on a dataset",
                        description="Train the U-Net on a dataset made by 'booth export' into "
                        "the run folder --out: run.yaml, best and last checkpoints "
                        "(safetensors + YAML), metrics.csv, state for --resume. Packs the "
                        "dataset for training first (DATASET/packed). On several GPUs: --gpus "
                        "N (torchrun), or torchrun --nproc-per-node N -m learning.trainer ...")
    from learning.settings import add_train_arguments

    add_train_arguments(tr)
    tr.add_argument("--gpus", type=options.int_range(1, 1024, "GPUs"), default=1,
                    help="processes on this machine, one per GPU, started through torchrun "
                    "(default 1: this process)")
    tr.set_defaults(handler=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    if args.gpus > 1:
        import subprocess

        forwarded = [a for a in sys.argv[1:] if a != "train"]
        drop = {"--gpus"}
        rest, skip = [], False
        for a in forwarded:
            if skip:
                skip = False
                continue
            if a in drop:
                skip = True
                continue
            if a.startswith("--gpus="):
                continue
            rest.append(a)
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               "--nproc-per-node", str(args.gpus), "-m", "learning.trainer", *rest]
        return subprocess.run(cmd).returncode
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth.progress import Reporter
    from learning.trainer import settings_from, train

    report = Reporter()
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("epoch 1", total=None)

        def step(epoch: int, done: int, total: int) -> None:
            bar.update(task, description=f"epoch {epoch}", completed=done, total=total)
            report("step", force=done == total, epoch=epoch, step=done, steps=total)

        def say(msg: str) -> None:
            bar.console.print(msg, soft_wrap=True, markup=False)
            report("message", force=True, text=msg)

        def start(what: dict) -> None:
            bar.console.print(f"training on {what['device']}: epochs {what['first_epoch']}.."
                              f"{what['epochs']}, {what['steps_per_epoch']} steps of "
                              f"{what['batch']} samples each", markup=False)
            report("start", force=True, **what)

        run = train(args.dataset, args.out, settings_from(args), args.resume, progress=say,
                    on_step=step, hours=args.hours, on_start=start)
    from photometric.io.files import read_yaml

    done = read_yaml(run / "state.yaml").get("epoch")
    epochs = read_yaml(run / "run.yaml")["training"]["epochs"]
    if done is not None and done < epochs:
        print(f"trained {done} of {epochs} epochs -> {run}; the rest with: booth train "
              f"{args.dataset} --out {run} --resume")
        return 0
    print(f"trained -> {run} (best.safetensors, last.safetensors, metrics.csv)")
    return 0
