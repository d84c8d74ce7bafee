"""``booth normals``: photometric stereo on a capture folder (:mod:`booth.processing`)."""

from __future__ import annotations

import argparse
import time

from booth import options
from booth.commands.shared import (
    out_folder,
)
from photometric.stereo import DEFAULT_METHOD, METHODS


def register(sub: argparse._SubParsersAction) -> None:
    n = sub.add_parser(
        "normals", help="photometric stereo on a capture folder",
        parents=[out_folder("normals", extra=" (one of another capture needs --force)")],
        description="Write normals.png (16-bit), normals.npy, albedo.png, mask.png, "
        "confidence.png, normals_preview.png and normals.yaml into --out, all together. "
        "The light model: --calibration and/or --lights when given; else, for a capture "
        "in a session store, the session's calibration (as the capture's own derived/ and "
        "the export use); else the nominal booth. An ambient frame in the folder is "
        "subtracted from each photo.")
    n.add_argument("capture_dir", metavar="CAPTURE_DIR")
    n.add_argument("--method", choices=sorted(METHODS), default=DEFAULT_METHOD,
                   help=f"default {DEFAULT_METHOD}: least squares over the calibrated light "
                   "directions; simplified: Chang & Lin's linear model")
    n.add_argument("--calibration", metavar="FILE", type=options.file_path,
                   help="calibration YAML from 'booth calibrate'")
    n.add_argument("--lights", metavar="FILE", type=options.file_path,
                   help="lights YAML (overrides the calibration's)")
    n.add_argument("--force", action="store_true",
                   help="replace an earlier 'booth normals' output of another capture in "
                   "--out, whole")
    n.set_defaults(handler=cmd_normals)


def cmd_normals(args: argparse.Namespace) -> int:
    from booth import processing

    processing.check_normals_out(args.out, args.capture_dir, args.force)
    t = time.perf_counter()
    res = processing.compute_normals(args.capture_dir, args.method, args.calibration, args.lights)
    processing.write_normals(res, args.out, args.force)
    mask = res.result.mask
    print(f"{res.method}: {mask.shape[1]}×{mask.shape[0]}, {100.0 * mask.mean():.1f}% of "
          f"pixels valid, {time.perf_counter() - t:.2f} s -> {args.out}")
    print(f"  light model: {res.describe()}")
    if res.loaded is not None:
        print(f"  pixels: {res.loaded.describe()}")
    if res.ambient:
        print(f"  ambient frame {res.ambient} subtracted from each photo")
    filled, specular = int(res.result.filled.sum()), res.result.specular_pixels
    if filled or specular:
        print(f"  {filled} pixel(s) filled from their neighbours (fewer than three usable "
              f"flashes), {specular} solved without a specular highlight")
    return 0
