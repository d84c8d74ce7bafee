"""What several ``booth`` commands share: the argument parser class, the parent parsers of
shared option groups (the station's, an output folder, a serial port), and small resolvers.

Light on purpose: ``booth --help`` imports every command's module, so nothing here (or at
the top of a command module) imports numba, OpenCV, torch or MediaPipe; a command's work is
imported inside its handler.
"""

from __future__ import annotations

import argparse

from booth import options
from booth.choices import BACKENDS, IMAGE_FORMATS, RELIGHT_AMBIENT, SIMULATE_FORMATS
from photometric.errors import InputError

EXIT_USAGE = 2
EXIT_IO = 1
EXIT_INTERNAL = 70

SIM_SIZE = options.int_range(32, 8192, "pixels")
DEFAULT_RELIGHT_AMBIENT = RELIGHT_AMBIENT


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other error of the booth."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# -- shared option groups (parent parsers) ------------------------------------------------
def station_options() -> Parser:
    """The booth's hardware and store: ``capture`` and ``tui``."""
    p = Parser(add_help=False)
    g = p.add_argument_group("booth")
    g.add_argument("--config", metavar="FILE", type=options.file_path,
                   help="booth.yaml (camera, flash, capture settings); defaults suit the "
                   "simulated booth")
    g.add_argument("--backend", choices=BACKENDS, default="sim")
    g.add_argument("--sessions", metavar="ROOT", type=options.folder,
                   help="session store root (default: the config's, sessions/)")
    g.add_argument("--port", type=options.port,
                   help="flash controller serial port (gphoto2 backend)")
    g.add_argument("--seed", type=options.seed, default=0,
                   help="simulated subject, 0..2^32-1 (sim backend)")
    g.add_argument("--size", type=SIM_SIZE, default=512,
                   help="simulated image side, 32..8192 pixels (sim backend; default 512)")
    g.add_argument("--controller", choices=("emulator", "firmware"), default="emulator",
                   help="the simulated booth's flash controller: the Python emulator "
                   "(default, fastest) or the compiled AVR firmware run in simavr (needs "
                   "libsimavr2: sh firmware_protocol/firmware/sim/install-simavr.sh)")
    g.add_argument("--image-format", choices=IMAGE_FORMATS, default="jpeg",
                   help="what the simulated camera saves per shot: jpeg (default), raw "
                   "(DNG; needs an even --size) or raw+jpeg (sim backend)")
    return p


def out_folder(command: str, **kw) -> Parser:
    """``--out FOLDER`` under the one rule for output folders."""
    p = Parser(add_help=False)
    kw.setdefault("required", True)
    kw.setdefault("metavar", "FOLDER")
    p.add_argument("--out", help=(
        f"output folder: new, empty, or an earlier output of 'booth {command}' (replaced "
        "whole); any other folder is refused" + kw.pop("extra", "")), **kw)
    return p


def render_options() -> Parser:
    """What ``booth simulate subject`` and ``booth simulate people`` render alike."""
    p = Parser(add_help=False)
    p.add_argument("--ambient", action="store_true", help="add room light and an ambient frame")
    p.add_argument("--size", type=SIM_SIZE, default=512,
                   help="image side, 32..8192 pixels (default 512)")
    p.add_argument("--noise", type=options.float_range(0.0, 1.0), default=0.0,
                   help="sensor noise in [0, 1): standard deviation as a fraction of full "
                   "scale")
    p.add_argument("--format", choices=SIMULATE_FORMATS, default="png",
                   help="png (default): linear PNGs, 16-bit unless --bits; jpeg: sRGB camera "
                   "JPEGs with EXIF; dng: camera RAW (needs an even --size); raw+jpeg: both")
    return p


def out_file(command: str, metavar: str) -> Parser:
    """``--out FILE``: a new file, or one this command wrote (replaced atomically)."""
    p = Parser(add_help=False)
    p.add_argument("--out", required=True, metavar=metavar, help=(
        f"file to write: a new one, or one 'booth {command}' wrote (replaced atomically); "
        "any other file is refused"))
    return p


def port_required() -> Parser:
    p = Parser(add_help=False)
    p.add_argument("--port", required=True, type=options.port,
                   help="serial port path or pyserial URL")
    return p


def device(choice: str) -> str:
    """``--device``: ``auto`` is the GPU when torch sees one, else the CPU."""
    if choice != "auto":
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def sessions_root(args: argparse.Namespace, cfg):
    """The session store's root (``--sessions``, else the config's), refused up front when
    it, or the nearest part of it that exists, is not a folder."""
    from pathlib import Path

    from photometric.io.files import existing_parent

    root = Path(args.sessions or cfg.sessions)
    where = ("--sessions" if args.sessions else
             f"{args.config}: sessions" if args.config else "sessions")
    probe = existing_parent(root)
    if not probe.is_dir():
        shown = root if probe == root.absolute() else probe
        raise InputError(f"{where}: {shown} is not a folder; expected the session store's "
                         "folder (an existing one or a new path)")
    return root
