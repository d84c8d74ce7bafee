"""``booth tui``: the operator's terminal app (:mod:`booth.tui`)."""

from __future__ import annotations

import argparse

from booth import memory, options
from booth.commands.shared import (
    sessions_root,
    station_options,
)
from photometric.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("tui", help="the operator's terminal app", parents=[station_options()],
                       description="Run capture sessions from the terminal: sessions, subjects "
                       "and consent, live hardware status, capture with thumbnails, normal map "
                       "and QC, calibration, doctor. Keys are shown at the bottom of each "
                       "screen; q quits (the flashes are disarmed on every exit).")
    t.add_argument("--images", choices=("auto", "cells", "none"), default="auto",
                   help="thumbnails: auto (the best the terminal supports), cells (coloured "
                   "half-blocks, any terminal), none (file names)")
    t.add_argument("--work", metavar="DIR", default="work", type=options.folder,
                   help="where the app's exports, training runs and their jobs go (default "
                   "./work: datasets/, runs/, jobs/)")
    t.add_argument("--log", metavar="FILE", type=options.file_path,
                   help="log file (default ~/.local/state/booth/tui.log)")
    t.set_defaults(handler=cmd_tui)


def _check_log(path: str | None) -> None:
    """The app's log file can be made: not a folder, and no file in the way of its folder
    (found now, not as 'File exists' once the terminal is the app's)."""
    from pathlib import Path

    from booth.tui.run import default_log_file
    from photometric.io.files import existing_parent

    log = Path(path) if path else default_log_file()
    where = "--log" if path else "log file"
    if log.is_dir():
        raise InputError(f"{where}: {log} is a folder; expected a log file")
    probe = existing_parent(log.parent)
    if not probe.is_dir():
        shown = log.parent if probe == log.parent.absolute() else probe
        raise InputError(f"{where}: {shown} is not a folder, so {log} cannot be made there")


def cmd_tui(args: argparse.Namespace) -> int:
    from booth.config import load_config
    from booth.tui.run import run

    if args.backend == "sim":
        memory.check_memory("tui", args.size)
    sessions_root(args, load_config(args.config))
    _check_log(args.log)
    return run(args.config, args.backend, args.sessions, args.port, args.seed, args.size,
               args.images, args.log, args.image_format, args.controller, args.work)
