"""``booth doctor``: check the serial port, the flash controller, the camera and the disk
(:mod:`booth.diagnostics`, shared with the operator's app)."""

from __future__ import annotations

import argparse

from booth import options
from booth.commands.shared import (
    BACKENDS,
)


def register(sub: argparse._SubParsersAction) -> None:
    dr = sub.add_parser("doctor", help="check serial port, controller, camera and disk",
                        description="One PASS/FAIL line per check, with what to do.")
    dr.add_argument("--backend", choices=BACKENDS, default="gphoto2")
    dr.add_argument("--port", type=options.port,
                    help="flash controller serial port (default: first found)")
    dr.add_argument("--sessions", default="sessions", metavar="ROOT", type=options.folder)
    dr.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    from pathlib import Path

    from booth import diagnostics as doctor

    return 0 if doctor.run(args.backend, args.port, Path(args.sessions)) else 1
