"""Training the normal-map generator: ``booth train DATASET --out RUN`` or, for several
processes, ``torchrun --nproc-per-node N -m learning.trainer DATASET --out RUN``.

One code path from one CPU to many GPUs and nodes: torchrun's environment makes it
DistributedDataParallel (gloo on CPU, NCCL on CUDA), each rank training on its
``DistributedSampler`` share, rank 0 alone writing the run. On CUDA: bf16 autocast,
channels_last, fused AdamW and, with ``--compile``, ``torch.compile``.

A run is a folder: ``run.yaml`` (the settings), ``last`` and ``best`` checkpoints
(:mod:`learning.checkpoint`), ``state.*`` (optimizer and random generators, for an exact
``--resume``), ``metrics.csv`` (one row per epoch), and TensorBoard logs in ``tb/`` when
tensorboard is installed. The loss is the masked ``1 − cos`` (:mod:`learning.metrics`),
AdamW with a linear warm-up and a cosine decay, seeded; BatchNorm's statistics are
recomputed from training batches (:mod:`learning.norm_stats`), then the held-out ``val``
split is scored every epoch and the best epoch (by mean angle) kept as ``best``.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import torch
import yaml

from learning import checkpoint, metrics, norm_stats
from learning.loader import Batches
from learning.model import CHANNELS, build
from learning.pack import is_current, manifest_digest, open_split
from learning.sample_format import read_manifest
from learning.settings import Settings, add_train_arguments, settings_from
from photometric.errors import InputError
from photometric.io.files import MARKER, make_dir, read_yaml, write_marker, write_text

COMMAND = "train"
CSV_FIELDS = ("epoch", "step", "lr", "train_loss", "train_mean_deg", "val_cosine",
              "val_mean_deg", "val_median_deg", "seconds", "images_per_s", "data_wait")


def _device(setting: str, local_rank: int) -> torch.device:
    if setting == "cpu" or (setting == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    torch.cuda.set_device(local_rank)
    return torch.device("cuda", local_rank)


def _schedule(step: int, total: int, warmup: int) -> float:
    """Linear warm-up to 1, then a cosine decay to 1 % at the last step."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * min(1.0, t)))


def _trim_metrics(path: Path, epochs: int) -> None:
    """Drop the rows of ``metrics.csv`` past the epoch a resumed run restarts from: written
    by a run killed after its row but before its checkpoint's commit point."""
    try:
        lines = path.read_text().splitlines(keepends=True)
    except FileNotFoundError:
        lines = []
    header = ",".join(CSV_FIELDS) + "\r\n"
    keep = [line for line in lines[1:] if line.split(",", 1)[0].isdigit()
            and int(line.split(",", 1)[0]) <= epochs]
    if lines[:1] != [header] or len(keep) != len(lines) - 1:
        write_text(path, header + "".join(keep))


def _never_saved(out: Path) -> bool:
    """A run of this command stopped before its first epoch's checkpoint (killed, or its
    machine lost): nothing in it to resume, so ``--resume`` starts it again."""
    from photometric.io.files import marker_command

    return ((out / "run.yaml").is_file() and not (out / "state.yaml").is_file()
            and marker_command(out) == COMMAND)


def _check_run(out: Path, resume: bool, restart: bool = False) -> None:
    """A new or empty folder, or (only with ``resume``) a run of this command; ``restart``:
    a run of this command that never saved an epoch (:func:`_never_saved`)."""
    from photometric.io.files import check_output_dir

    if restart:
        check_output_dir(out, COMMAND)
        return
    if resume:
        if not (out / "state.yaml").is_file():
            raise InputError(f"{out}: no run to resume here (no state.yaml)")
        check_output_dir(out, COMMAND)
        return
    if out.exists() and out.is_dir() and any(out.iterdir()):
        if (out / MARKER).exists() and (out / "run.yaml").exists():
            raise InputError(f"{out}: already holds a run; pass --resume to continue it, or "
                             "give a new or empty folder")
    check_output_dir(out, COMMAND)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: not empty; give a new or empty folder")


#: What a resumed run takes from the call that resumes it: where it runs, not how it trains.
_WHERE = ("device", "workers", "compile")


def _run_yaml(out: Path) -> dict:
    try:
        run = read_yaml(out / "run.yaml")
        if not isinstance(run, dict) or not isinstance(run.get("training"), dict):
            raise TypeError
        return run
    except (InputError, TypeError):
        raise InputError(f"{out / 'run.yaml'}: missing or unreadable; cannot resume this "
                         "run") from None


def _resumed(out: Path, given: Settings) -> tuple[Settings, list[str]]:
    """A resumed run trains as it began (run.yaml's settings: the schedule, the seed, the
    batch); only where it runs (device, data workers, compile) comes from this call. Also
    the options given that it will not honour (set, unlike the run's), each named."""
    from dataclasses import fields, replace

    saved = _run_yaml(out)["training"]
    names = {f.name for f in fields(Settings)}
    try:
        s = replace(Settings(), **{k: v for k, v in saved.items() if k in names})
    except TypeError as exc:
        raise InputError(f"{out / 'run.yaml'}: training: {exc}") from None
    default = Settings()
    ignored = [f"--{k.replace('_', '-')} {getattr(given, k)} (the run's: {getattr(s, k)})"
               for k in sorted(names - set(_WHERE))
               if getattr(given, k) != getattr(default, k) and getattr(given, k) != getattr(s, k)]
    return replace(s, **{k: getattr(given, k) for k in _WHERE}).validate(), ignored


def _same_data(out: Path, now: dict) -> None:
    """Refuse to resume a run on data other than it began on (another size, encoding or
    manifest: a re-export in place changes what the next epochs would learn from)."""
    began = _run_yaml(out).get("dataset") or {}
    changed = [f"{k} {began[k]} -> {now[k]}" for k in ("size", "encoding", "manifest_sha256")
               if k in began and began[k] != now[k]]
    if changed:
        raise InputError(f"{out}: the dataset changed since this run began ("
                         f"{'; '.join(changed)}); resume it on the dataset it began on, or "
                         "start a new run")


def _wait_packed(dataset: str | Path, hours: float = 6.0) -> None:
    """Wait (polling) until rank 0 has packed ``dataset``: torchrun ends every process when
    one fails, so a rank 0 that fails to pack does not leave the others waiting."""
    deadline = time.monotonic() + hours * 3600
    while not is_current(dataset):
        if time.monotonic() > deadline:
            raise InputError(f"{dataset}: not packed after {hours:g} hours of waiting for "
                             "rank 0")
        time.sleep(1.0)


def evaluate_loader(model, batches: Batches, amp: bool = False,
                    distributed: bool = False) -> dict[str, float]:
    """Masked figures over every pixel of a split (its shard on each rank, merged when
    ``distributed``: every rank then holds the whole split's figures)."""
    tally = metrics.Tally(batches.device)
    for _, _, cos, ang, m in metrics.per_pixel(model, batches, amp, on_device=True):
        tally.add(cos[m], ang[m])
    if distributed:
        tally.merge()
    return tally.summary()


def train(dataset: str | Path, out: str | Path, settings: Settings | None = None,
          resume: bool = False, progress: Callable[[str], None] | None = None,
          on_step: Callable[[int, int, int], None] | None = None,
          hours: float | None = None,
          on_start: Callable[[dict], None] | None = None) -> Path:
    """Train on ``dataset`` (a ``booth export`` folder) into the run folder ``out``.
    ``progress`` gets a line per epoch, ``on_step(epoch, step in epoch, steps per epoch)``
    each step (rank 0 only), ``on_start`` what the run is about to do (device, epochs, steps
    per epoch, global batch; rank 0 only). With ``hours``, stop after the first epoch that
    ends later than that after the start, its checkpoint saved: ``resume`` continues exactly
    from it (how a long run is trained in stretches)."""
    import torch.distributed as dist

    began = time.monotonic()

    s = (settings or Settings()).validate()
    out = Path(out)
    ignored: list[str] = []
    restart = resume and _never_saved(out)
    if resume:
        s, ignored = _resumed(out, s)
    resume = resume and not restart
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = _device(s.device, local_rank)
    distributed = world > 1
    lead = rank == 0
    say = progress if (progress and lead) else (lambda _msg: None)
    if ignored:
        say("--resume trains as the run began; not honoured: " + ", ".join(ignored))
    if restart:
        say(f"{out}: stopped before its first epoch was saved; starting it again from the "
            "beginning, with the settings it began with")
    # Packing (minutes for a large dataset) comes before the process group, whose collectives
    # time out (NCCL's after 10 minutes): rank 0 packs, the others wait for the packed files.
    if lead:
        _check_run(out, resume, restart)
        open_split(dataset, "train")  # packs the dataset when needed
    elif distributed:
        _wait_packed(dataset)
    if distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    train_split = open_split(dataset, "train", repack=False)
    val_split = open_split(dataset, "val", repack=False)
    if len(train_split) == 0:
        raise InputError(f"{dataset}: the train split is empty; export more subjects or "
                         "change the split fractions")
    encoding, size = train_split.encoding, train_split.size
    in_ch = CHANNELS[encoding]
    torch.manual_seed(s.seed)
    model = build(s.preset, in_ch)
    if size % model.multiple:
        raise InputError(f"{dataset}: {size}-pixel samples; the model takes sides that are "
                         f"multiples of {model.multiple}")
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True  # fixed input sizes: pick the fastest kernels
    model = model.to(device, memory_format=torch.channels_last if cuda else torch.contiguous_format)
    # --lr is the rate for one process's batch; N processes step on N times the batch, and
    # an adaptive optimiser's rate follows the batch's square root (Malladi et al., "On the
    # SDEs and scaling rules for adaptive gradient algorithms", NeurIPS 2022).
    lr = s.lr * math.sqrt(world)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=s.weight_decay,
                            fused=cuda)
    start_epoch, best, state = 0, math.inf, {}
    if resume:
        state = checkpoint.load_state(out, opt, model)
        start_epoch, best = int(state["epoch"]), float(state.get("best_mean_deg", math.inf))
    net = model
    if distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[local_rank] if cuda else None)
    if s.compile:
        net = torch.compile(net)
    per_rank = max(1, s.batch)
    train_batches = Batches(train_split, per_rank, device, shuffle=True, augment=s.augment,
                            seed=s.seed, workers=s.workers, rank=rank, world=world,
                            drop_last=len(train_split) >= per_rank * world)
    val_batches = (Batches(val_split, per_rank, device, workers=0, rank=rank, world=world)
                   if len(val_split) else None)  # each rank scores its share
    stats_batches = Batches(train_split, per_rank, device, shuffle=True, seed=s.seed + 1,
                            rank=rank, world=world)
    steps_per_epoch = len(train_batches)
    total = steps_per_epoch * s.epochs
    warm = int(s.warmup * total)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: _schedule(k, total, warm))
    if resume:
        sched.load_state_dict({**state["scheduler"], "lr_lambdas": [None] * len(opt.param_groups)})
        # Making the scheduler set the first step's rate; restoring it does not set it back.
        for group, rate in zip(opt.param_groups, sched.get_last_lr(), strict=True):
            group["lr"] = rate
    manifest = read_manifest(Path(dataset) / "manifest.json")
    data = {"path": str(Path(dataset).resolve()), "encoding": encoding, "size": size,
            # datasets exported before the framings were the face's
            "framing": manifest["settings"].get("framing", "face"), "train": len(train_split),
            "val": len(val_split), "manifest_sha256": manifest_digest(dataset),
            # Who the run learnt from and was chosen on: evaluate refuses to score these.
            "people": {k: sorted(manifest.get("splits", {}).get(k, [])) for k in ("train", "val")}}
    if resume:
        _same_data(out, data)
        if start_epoch >= s.epochs:
            raise InputError(f"{out}: already trained {start_epoch} of {s.epochs} epochs; "
                             "nothing to resume (to train longer, start a new run with more "
                             "--epochs)")
    info = {"model": {"preset": s.preset}, "dataset": data,
            "training": asdict(s),
            "world_size": world, "lr_used": lr}
    writer = None
    if lead:
        make_dir(out)
        if not resume:
            write_marker(out, COMMAND)
            write_text(out / "run.yaml", yaml.safe_dump(info, sort_keys=False))
            # owner-only, as the rest of the run (appending keeps the mode)
            write_text(out / "metrics.csv", ",".join(CSV_FIELDS) + "\r\n")
        else:
            _trim_metrics(out / "metrics.csv", start_epoch)
        try:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(out / "tb"))
        except ImportError:
            writer = None
    amp = cuda
    step = start_epoch * steps_per_epoch
    if on_start is not None and lead:
        on_start({"device": str(device), "world": world, "first_epoch": start_epoch + 1,
                  "epochs": s.epochs, "steps_per_epoch": steps_per_epoch,
                  "batch": per_rank * world, "train": len(train_split),
                  "val": len(val_split)})
    for epoch in range(start_epoch, s.epochs):
        net.train()
        train_batches.set_epoch(epoch)
        t0 = time.perf_counter()
        wait = 0.0
        # Sums kept on the device: nothing in a step waits for the GPU (a boolean-mask index
        # or a .item() would), so the next batch's copy overlaps this one's compute.
        losses, seen = [], 0
        angle_sum = torch.zeros((), dtype=torch.float64, device=device)
        pixels = torch.zeros((), dtype=torch.float64, device=device)
        it = iter(train_batches)
        while True:
            # The time this process blocks for the next batch: with the loader ahead, none
            # (the device still has the previous steps queued).
            tw = time.perf_counter()
            try:
                b = next(it)
            except StopIteration:
                break
            wait += time.perf_counter() - tw
            x = b["input"]  # channels_last on CUDA already (the loader's one copy)
            with torch.autocast(device.type, torch.bfloat16, enabled=amp):
                pred = net(x)
            loss = metrics.loss(pred, b["normals"], b["mask"], s.angular)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            seen += x.shape[0]
            if on_step is not None and lead:
                on_step(epoch + 1, len(losses) + 1, steps_per_epoch)
            losses.append(loss.detach())
            with torch.no_grad():
                m = b["mask"][:, 0]
                angle_sum += (metrics.angles_deg(pred.detach().float(), b["normals"]) * m).sum()
                pixels += m.sum()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t0
        # Every rank's steps and pixels, not rank 0's alone.
        totals = torch.stack([torch.stack(losses).double().sum() if losses else angle_sum * 0,
                              torch.full((), float(len(losses)), dtype=torch.float64,
                                         device=device),
                              angle_sum, pixels])
        if distributed:
            dist.all_reduce(totals)
        loss_sum, steps_done, angle_total, pixel_total = (float(t) for t in totals)
        train_loss = loss_sum / steps_done if steps_done else float("nan")
        train_deg = angle_total / pixel_total if pixel_total else float("nan")
        # BatchNorm's statistics from the training data as the weights now are, before the
        # model is scored and saved (learning.norm_stats: after a few steps its running
        # averages are still mostly their initial values).
        stats_batches.set_epoch(epoch)
        with torch.autocast(device.type, torch.bfloat16, enabled=amp):
            norm_stats.recompute(model, stats_batches)
        # In float32, as booth evaluate scores (bf16 moves the angles by a few hundredths
        # of a degree; validation is a small share of an epoch).
        val = (evaluate_loader(model, val_batches, False, distributed)
               if val_batches is not None
               else metrics.summary(torch.empty(0), torch.empty(0)))
        row = {"epoch": epoch + 1, "step": step, "lr": opt.param_groups[0]["lr"],
               "train_loss": train_loss, "train_mean_deg": train_deg,
               "val_cosine": val["cosine"], "val_mean_deg": val["mean_deg"],
               "val_median_deg": val["median_deg"], "seconds": seconds,
               "images_per_s": seen * world / max(seconds, 1e-9),
               "data_wait": wait / max(seconds, 1e-9)}
        if lead:
            score = val["mean_deg"] if not math.isnan(val["mean_deg"]) else train_deg
            ck = {**info, "epoch": epoch + 1, "metrics": {k: row[k] for k in CSV_FIELDS[3:8]}}
            checkpoint.save_model(out / "last.safetensors", model, dict(ck))
            if score < best:
                best = score
                checkpoint.save_model(out / "best.safetensors", model, dict(ck))
            with open(out / "metrics.csv", "a", newline="") as fh:
                csv.writer(fh).writerow([row[k] for k in CSV_FIELDS])
            # the commit point, last: a run killed before it resumes from the epoch before
            # (its metrics row beyond that is dropped then)
            sched_state = {k: v for k, v in sched.state_dict().items() if k != "lr_lambdas"}
            checkpoint.save_state(out, opt, {"epoch": epoch + 1, "step": step,
                                             "best_mean_deg": best, "scheduler": sched_state},
                                  model)
            if writer is not None:
                for k, v in row.items():
                    if k not in ("epoch", "step"):
                        writer.add_scalar(k, v, epoch + 1)
            held = ("no val split" if math.isnan(val["mean_deg"])
                    else f"val {val['mean_deg']:.2f}° (cos {val['cosine']:.4f})")
            say(f"epoch {epoch + 1}/{s.epochs}: loss {train_loss:.4f}, train {train_deg:.2f}°, "
                f"{held}, "
                f"{row['images_per_s']:.1f} img/s, waiting for data {100 * row['data_wait']:.0f} %")
        if hours is not None and epoch + 1 < s.epochs:
            # rank 0's clock decides for all, so every rank stops after the same epoch
            late = torch.tensor(float(time.monotonic() - began > hours * 3600), device=device)
            if distributed:
                dist.broadcast(late, 0)
            if late.item():
                say(f"stopped after epoch {epoch + 1} of {s.epochs}: the {hours:g} hour(s) "
                    f"are up; continue with --resume")
                break
    if writer is not None:
        writer.close()
    if distributed:
        dist.barrier()
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m learning.trainer",
                                description="Train the normal-map U-Net on a booth dataset.")
    add_train_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        train(args.dataset, args.out, settings_from(args), args.resume,
              progress=lambda msg: print(msg, flush=True), hours=args.hours)
    except InputError as exc:
        print(f"learning.trainer: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
