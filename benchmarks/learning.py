"""The normal-map generator: held-out quality of the landmark ablation, and CPU latency.

    .venv/bin/python benchmarks/learning.py                 # speed, then quality
    .venv/bin/python benchmarks/learning.py speed           # latency at 512², both presets + peer
    .venv/bin/python benchmarks/learning.py quality         # 3 encodings x 3 seeds (~1 h)
    .venv/bin/python benchmarks/learning.py loader          # batches a second at 512²
    .venv/bin/python benchmarks/learning.py predict         # booth predict, 12 MP, two faces
    .venv/bin/python benchmarks/learning.py real            # shipped models on real portraits
    .venv/bin/python benchmarks/learning.py masks --mask-run RUN --mask-dataset DATASET
    .venv/bin/python benchmarks/learning.py seeds --seed-reports REPORT,REPORT,REPORT
    .venv/bin/python benchmarks/learning.py quality --people 300 --epochs 30 --size 192

**speed**: inference latency (batch 1, 5 channels, ``torch.inference_mode``, all cores; each
model in both memory layouts, NCHW and channels_last) of the ``small`` and ``paper`` presets
beside the peer, ``segmentation_models_pytorch``'s ``Unet("resnet34", encoder_weights=None,
in_channels=5, classes=3)``. smp needs torchvision,
which does not import beside the project's CPU torch, so the peer runs in an environment of
its own (``make bench-peer`` makes it in ``.bench-peer/``: torch 2.14.1 and torchvision
0.29.1 from this machine's disk, about 5.5 GB; ``--peer-python`` names another). There our
presets are timed again, round after round with the peer, so the ratio compares the same
torch on the same input in the same process; the project's own torch (2.13) is timed too.

**loader**: the training loader alone (``benchmarks/_loader.py``): batches of 16 at 512²
gathered from a synthetic packed split of 96 samples, with 0, 1 and 2 gathering threads,
against the ceiling of copying every packed array whole.

**predict**: ``booth predict``'s CPU latency on a 12 MP photo with two faces, end to end and
stage by stage, and the network's share beside the peer ``Unet(resnet34)`` on the same crops
(``benchmarks/_predict.py``).

**real**: the shipped models (or runs: ``--real-models``) on the real portraits Python
packages ship, scored against Face Mesh's own 3D mesh beside a flat map and an ellipsoid, and a
picture of their normal maps and relit photos (``benchmarks/_real.py``).

**masks**: a run's own mask against MediaPipe's selfie segmentation and the two together, by
their IoU with the true masks of held-out simulated people (``benchmarks/_masks.py``).

**seeds**: one recipe's held-out reports over training seeds (``SEED=K sh
learning/models/make.sh NAME``), by region, mean ± sd (``benchmarks/_seeds.py``).

**quality**: ``booth simulate people N --store``, then ``booth export`` once per encoding
(``points``, ``dense``, ``none``: the same captures, crops and subject splits), ``booth
train`` of the small preset once per encoding and seed, ``booth evaluate`` of all runs side by
side on the test split (its ``report.html`` is the ablation's picture), and a table of each
encoding's mean and spread over the seeds. The work folder (``--work``, default
``out/bench-learning``) keeps the store, datasets and finished runs, so a second call (or one
after an interruption) only does what is missing.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / ".bench-peer" / "bin" / "python"
ENCODINGS = ("points", "dense", "none")
METRICS = (("cosine", "cosine", "{:.4f}"), ("mean_deg", "mean °", "{:.2f}"),
           ("median_deg", "median °", "{:.2f}"), ("within_11.25", "≤11.25°", "{:.1%}"),
           ("within_22.5", "≤22.5°", "{:.1%}"), ("within_30", "≤30°", "{:.1%}"))


def _latency(python: str, models: str, args: argparse.Namespace) -> dict:
    cmd = [python, str(ROOT / "benchmarks" / "_latency.py"), "--models", models,
           "--size", str(args.size), "--repeat", str(args.repeat), "--threads", str(args.threads)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if done.returncode:
        sys.exit(f"{python}: the latency run failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def speed(args: argparse.Namespace) -> None:
    print(f"## CPU inference latency, {args.size}², batch 1, 5 channels, {args.threads} "
          f"thread(s), median of {args.repeat}")
    rows = []
    own = _latency(sys.executable, "small,paper", args)
    peer_python = args.peer_python or str(PEER)
    peer = None
    if Path(peer_python).exists():
        peer = _latency(peer_python, "smp,small,paper", args)
    else:
        print(f"(no peer environment at {peer_python}: `make bench-peer` makes it)")
    label = {"smp": "smp Unet(resnet34)", "small": "small", "paper": "paper"}
    for run in (own, peer):
        if run is None:
            continue
        for n in run["params"]:
            for fmt, key in (("NCHW", n), ("channels_last", f"{n}+cl")):
                rows.append((f"{label[n]}, {fmt} (torch {run['torch'].split('+')[0]})",
                             run["params"][n], run["times"][key]))
    print(f"{'model, memory layout (torch)':50} {'params':>8} {'median':>10} {'min':>10}")
    for name, params, ts in rows:
        print(f"{name:50} {params / 1e6:7.1f}M {1000 * statistics.median(ts):8.0f} ms "
              f"{1000 * min(ts):8.0f} ms")
    if peer:
        def best(n: str) -> float:
            return min(statistics.median(peer["times"][k]) for k in (n, f"{n}+cl"))

        for n in ("small", "paper"):
            print(f"{n} / smp Unet(resnet34), each in its faster layout, same torch, same "
                  f"process: {best(n) / best('smp'):.2f}×")


def _booth(*argv: str) -> None:
    cmd = [sys.executable, "-m", "booth", *argv]
    print("$ booth " + " ".join(argv), flush=True)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT)
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)


def _finished(run: Path, epochs: int) -> bool:
    last = run / "last.yaml"
    if not last.exists():
        return False
    import yaml

    return int(yaml.safe_load(last.read_text()).get("epoch", 0)) >= epochs


def quality(args: argparse.Namespace) -> None:
    import yaml

    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    recipe = {"people": args.people, "people_seed": args.people_seed, "size": args.size_q,
              "split": args.split}
    stamp = work / "recipe.yaml"
    if stamp.exists() and yaml.safe_load(stamp.read_text()) != recipe:
        sys.exit(f"{work} holds a benchmark made with {yaml.safe_load(stamp.read_text())}; "
                 f"give another --work for {recipe}")
    store = work / "store"
    if not (work / "store.done").exists():
        shutil.rmtree(store, ignore_errors=True)  # a simulation this benchmark left partway
        _booth("simulate", "people", str(args.people), "--store", str(store), "--session",
               "people", "--seed", str(args.people_seed))
        (work / "store.done").touch()
    stamp.write_text(yaml.safe_dump(recipe))
    datasets = {}
    for enc in args.encodings:
        ds = datasets[enc] = work / f"ds-{enc}"
        if not (ds / "manifest.json").exists():
            _booth("export", str(store), "--out", str(ds), "--encoding", enc, "--size",
                   str(args.size_q), "--split", args.split)
    runs = []
    for enc in args.encodings:
        for seed in args.seeds:
            run = work / "runs" / f"{enc}-s{seed}"
            runs.append((enc, seed, run))
            if (run / "run.yaml").exists():
                made = yaml.safe_load((run / "run.yaml").read_text())["training"]
                if (made["epochs"], made["batch"]) != (args.epochs, args.batch):
                    sys.exit(f"{run} was trained for {made['epochs']} epochs of batch "
                             f"{made['batch']}; remove it or give another --work")
            if _finished(run, args.epochs):
                continue
            _booth("train", str(datasets[enc]), "--out", str(run), "--preset", "small",
                   "--epochs", str(args.epochs), "--batch", str(args.batch), "--seed",
                   str(seed), *(["--resume"] if (run / "run.yaml").exists() else []))
    report = work / "report"
    evaluate = ["evaluate", *(str(r) for _, _, r in runs)]
    for enc, _, _ in runs:
        evaluate += ["--dataset", str(datasets[enc])]
    _booth(*evaluate, "--out", str(report))
    scores = json.loads((report / "metrics.json").read_text())
    manifest = json.loads((datasets[args.encodings[0]] / "manifest.json").read_text())
    counts = manifest["counts"]
    print(f"\n## Held-out quality: small preset, {args.size_q}² crops, {args.epochs} epochs, "
          f"batch {args.batch}; {counts['train_subjects']} training people, "
          f"{counts['val_subjects']} validation, {counts['test_subjects']} test; "
          f"seeds {','.join(map(str, args.seeds))}\n")
    print("| encoding | " + " | ".join(h for _, h, _ in METRICS) + " |")
    print("|" + " --- |" * (len(METRICS) + 1))
    by_enc: dict[str, list[dict]] = {}
    for (enc, _, _), s in zip(runs, scores, strict=True):
        by_enc.setdefault(enc, []).append(s["overall"])
    for enc, overall in by_enc.items():
        cells = []
        for key, _, fmt in METRICS:
            xs = [o[key] for o in overall]
            sd = statistics.stdev(xs) if len(xs) > 1 else 0.0
            cells.append(f"{fmt.format(statistics.mean(xs))} ± {fmt.format(sd)}")
        print(f"| {enc} | " + " | ".join(cells) + " |")
    print("\n(mean ± standard deviation over the seeds.) Mean error per facial region, "
          "mean over the seeds:\n")
    regions = list(scores[0]["regions"])
    print("| encoding | " + " | ".join(regions) + " |")
    print("|" + " --- |" * (len(regions) + 1))
    for enc in by_enc:
        runs_of = [s for (e, _, _), s in zip(runs, scores, strict=True) if e == enc]
        cells = [f"{statistics.mean(r['regions'][g]['mean_deg'] for r in runs_of):.2f}°"
                 for g in regions]
        print(f"| {enc} | " + " | ".join(cells) + " |")
    print("\nPer run:")
    for (enc, seed, _), s in zip(runs, scores, strict=True):
        o = s["overall"]
        print(f"  {enc:6} seed {seed}: cosine {o['cosine']:.4f}, mean {o['mean_deg']:.2f}°, "
              f"median {o['median_deg']:.2f}°, ≤11.25° {o['within_11.25']:.1%}")
    if "none" in by_enc:
        base = [o["mean_deg"] for o in by_enc["none"]]
        for enc in (e for e in by_enc if e != "none"):
            xs = [o["mean_deg"] for o in by_enc[enc]]
            gap = statistics.mean(base) - statistics.mean(xs)  # > 0: landmarks help
            spread = max(max(xs) - min(xs), max(base) - min(base))
            better = "lower" if gap > 0 else "higher"
            verdict = "beyond" if abs(gap) > spread else "within"
            print(f"{enc} vs none (RGB only): mean error {abs(gap):.2f}° {better} with "
                  f"{enc}; the larger seed range is {spread:.2f}°: {verdict} the seed spread")
    print(f"\nreport: {report / 'report.html'}")
    _real_check(work, runs)


def _real_check(work: Path, runs: list[tuple[str, int, Path]]) -> None:
    """The ablation's runs on the real-photo check (``_real.py``): the paper's claim was
    about real faces, where simulated held-out people cannot answer it."""
    real = work / "real"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_real.py"),
                    *(str(r) for _, _, r in runs), "--out", str(real),
                    "--json", str(real / "real.json")], cwd=ROOT, check=True)
    table = json.loads((real / "real.json").read_text())
    by_enc: dict[str, list[float]] = {}
    for enc, _, run in runs:  # each run's mean over the photos
        by_enc.setdefault(enc, []).append(statistics.mean(t[run.name] for t in table))
    flat, ellipsoid = (statistics.mean(x for t in table if not math.isnan(x := t[k]))
                       for k in ("flat", "ellipsoid"))
    print(f"\n## The ablation on real portraits: mean angle (°) to Face Mesh's mesh over "
          f"{len(table)} photos (flat map {flat:.1f}°, ellipsoid {ellipsoid:.1f}°)\n")
    print("| encoding | mean ± sd over seeds | per seed |\n| --- | --- | --- |")
    scored = {enc: [x for x in xs if not math.isnan(x)] for enc, xs in by_enc.items()}
    for enc, xs in by_enc.items():
        ok = scored[enc]  # a run whose mask missed a face has no score on the check
        mean = f"{statistics.mean(ok):.1f}" if ok else "n/a"
        sd = f"{statistics.stdev(ok):.1f}" if len(ok) > 1 else "0.0"
        print(f"| {enc} | {mean} ± {sd} | " + ", ".join(f"{x:.1f}" for x in xs) + " |")
    if scored.get("none"):
        base = scored["none"]
        for enc in (e for e in scored if e != "none" and scored[e]):
            xs = scored[enc]
            gap = statistics.mean(base) - statistics.mean(xs)  # > 0: landmarks help
            spread = max(max(xs) - min(xs), max(base) - min(base))
            verdict = "beyond" if abs(gap) > spread else "within"
            print(f"real photos, {enc} vs none: {abs(gap):.1f}° "
                  f"{'lower' if gap > 0 else 'higher'} with {enc}, {verdict} the seed range "
                  f"({spread:.1f}°)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", nargs="?",
                    choices=("speed", "quality", "loader", "predict", "real", "masks", "seeds",
                             "all"),
                    default="all")
    ap.add_argument("--size", type=int, default=512, help="speed: input side (default 512)")
    ap.add_argument("--repeat", type=int, default=10, help="speed: timed rounds")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="speed: torch threads (default: all cores)")
    ap.add_argument("--peer-python", default=None,
                    help="speed: python of the peer's environment (default .bench-peer)")
    ap.add_argument("--work", default=str(ROOT / "out" / "bench-learning"))
    ap.add_argument("--mask-run", default=None, help="masks: a run with a mask output")
    ap.add_argument("--mask-dataset", default=None, help="masks: a dataset of simulated people")
    ap.add_argument("--seed-reports", type=lambda s: s.split(","), default=None,
                    help="seeds: report folders of one recipe's seeds (comma-separated)")
    ap.add_argument("--real-models", type=lambda s: s.split(","), default=["portrait", "booth"],
                    help="real: models to compare (shipped names, runs; default portrait,booth)")
    ap.add_argument("--people", type=int, default=200)
    ap.add_argument("--people-seed", type=int, default=0)
    ap.add_argument("--split", default="0.7,0.1,0.2", help="quality: train,val,test fractions")
    ap.add_argument("--size-q", dest="size_q", type=int, default=128,
                    help="quality: crop side (default 128)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in s.split(",")], default=[0, 1, 2])
    ap.add_argument("--encodings", type=lambda s: s.split(","), default=list(ENCODINGS))
    args = ap.parse_args()
    if args.part in ("loader", "all"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_loader.py"), "--work",
                        str(Path(args.work) / "loader")], cwd=ROOT, check=True)
    if args.part in ("speed", "all"):
        speed(args)
    if args.part in ("predict", "all"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_predict.py"), "--work",
                        str(Path(args.work) / "predict"),
                        *(["--peer-python", args.peer_python] if args.peer_python else [])],
                       cwd=ROOT, check=True)
    if args.part in ("real", "all"):
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_real.py"),
                        *args.real_models, "--out", str(Path(args.work) / "real")],
                       cwd=ROOT, check=True)
    if args.part == "masks":
        if not (args.mask_run and args.mask_dataset):
            sys.exit("masks: give --mask-run RUN and --mask-dataset DATASET")
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_masks.py"), args.mask_run,
                        args.mask_dataset], cwd=ROOT, check=True)
    if args.part == "seeds":
        if not args.seed_reports:
            sys.exit("seeds: give --seed-reports REPORT,REPORT,...")
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "_seeds.py"),
                        *args.seed_reports], cwd=ROOT, check=True)
    if args.part in ("quality", "all"):
        quality(args)


if __name__ == "__main__":
    main()
