"""``booth evaluate``: score trained runs on held-out people, side by side
(:mod:`learning.evaluation`)."""

from __future__ import annotations

import argparse

from booth.commands.shared import (
    device,
    out_folder,
)


def register(sub: argparse._SubParsersAction) -> None:
    ev = sub.add_parser("evaluate", help="score trained runs on a held-out split, side by side",
                        parents=[out_folder("evaluate", metavar="REPORT_DIR")],
                        description="Score each run's best model inside the mask (cosine, "
                        "mean and median angle, share within 11.25/22.5/30 degrees), overall, "
                        "per facial region and per subject; write report.md, report.html, "
                        "metrics.json and figure.png.")
    ev.add_argument("runs", nargs="+", metavar="RUN")
    ev.add_argument("--dataset", action="append", required=True, metavar="DATASET",
                    help="the dataset to score on; repeat it once per run when the runs use "
                    "different encodings (in the runs' order)")
    ev.add_argument("--split", choices=("train", "val", "test"), default="test")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    ev.add_argument("--show", action="append", default=[], metavar="SUBJECT",
                    help="a subject of the split whose samples the figure shows (repeatable; "
                    "default: the split's first four samples)")
    ev.set_defaults(handler=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from learning.evaluation import evaluate

    scores = evaluate(args.runs, args.dataset, args.out, args.split, device(args.device),
                      show=args.show)
    for s in scores:
        o = s.overall
        print(f"{s.run} ({s.encoding}): cosine {o['cosine']:.4f}, mean {o['mean_deg']:.2f}°, "
              f"median {o['median_deg']:.2f}° over {o['pixels']} px")
    print(f"report -> {args.out}/report.html")
    return 0
