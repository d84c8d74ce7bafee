"""``booth demo``: the booth's main job on the simulated booth (:mod:`booth.demo_day`)."""

from __future__ import annotations

import argparse

from booth import memory, options
from booth.commands.shared import (
    out_folder,
)


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="the booth's main job on the simulated booth",
                       parents=[out_folder("demo", required=False, default="out",
                                           extra="; default out/")],
                       description="Simulate a calibration sphere and a face, calibrate, "
                       "compute normals by both methods, write a side-by-side figure, export "
                       "the session as a dataset. Run again, it updates its folder.")
    d.add_argument("--seed", type=options.seed, default=0)
    d.add_argument("--size", type=options.int_range(128, 4096, "pixels"), default=512,
                   help="image side, 128..4096 pixels (default 512)")
    d.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    from booth import demo_day as demo

    demo.check_out(args.out)
    memory.check_memory("demo", args.size)
    demo.run(args.out, args.seed, args.size)
    return 0
