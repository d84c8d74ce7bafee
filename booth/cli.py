"""The ``booth`` command line: every step of the booth as a headless command.

Each command is one handler function (``cmd_*``), registered on its parser with
``set_defaults(handler=...)``; options that several commands share (the station's, an output
folder, a serial port) are parent parsers. The work itself lives in the modules by job
(:mod:`booth.simulation`, :mod:`booth.calibration`, :mod:`booth.normals`,
:mod:`booth.landmarks`, :mod:`booth.export`, :mod:`booth.workflows`), which the Textual app
and the demo call too.

Errors: numbers and names are checked where they are parsed (:mod:`booth.options`), a job
too large for the memory is refused before it starts (:mod:`booth.memory`). A user mistake
ends with one line naming the file or option and what was expected: exit status 2 for bad
input, 1 for hardware and file-system failures; anything unexpected is one line too ("internal
error", exit 70; ``BOOTH_DEBUG=1`` shows the traceback). Running out of memory part-way is
one line too (exit 1), and a reader that closes our stdout (``| head -1``) ends the command
quietly (exit 1). Nothing already on disk is touched by a failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

from booth import memory, options
from photometric.errors import InputError
from photometric.lights import CHANNELS

EXIT_USAGE = 2
EXIT_IO = 1
EXIT_INTERNAL = 70
BACKENDS = ("sim", "gphoto2")
DEFAULT_METHOD = "lambertian"  # booth.normals.DEFAULT_METHOD, without importing numpy here
SIM_SIZE = options.int_range(32, 8192, "pixels")
IMAGE_FORMATS = ("jpeg", "raw", "raw+jpeg")  # booth.hardware.simulated's, without importing it
SIMULATE_FORMATS = ("png", "jpeg", "dng", "raw+jpeg")  # booth.simulation.FORMATS


DEFAULT_RELIGHT_AMBIENT = 0.15  # booth.relighting.DEFAULT_AMBIENT, without importing it


class Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line like every other error of the booth."""

    def error(self, message: str):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def circle(text: str) -> str:
    """``--circle``, checked by :meth:`photometric.calibration.Circle.parse` when parsed (an
    empty value was taken for no value); kept as text for :func:`calibrate_folder`."""
    from photometric.calibration import Circle

    try:
        Circle.parse(text)
    except InputError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--circle: ")) from None
    return text


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


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="booth",
               description="The photometric portrait booth: capture, normals, learning.")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    station = station_options()

    sim = sub.add_parser("simulate", help="render synthetic subjects on the simulated booth")
    simsub = sim.add_subparsers(dest="what", required=True, metavar="WHAT")
    rendering = render_options()
    s = simsub.add_parser(
        "subject", help="render one subject under the five flashes",
        parents=[out_folder("simulate", extra=" (replacing one needs --force)"), rendering],
        description="Write center/left/right/top/bottom.png (and ambient.png), or the "
        "camera files of --format (center.jpg, center.dng, ...), truth/ (normals.npy, "
        "mask.png, depth.npy, albedo.png, lit.png) and lights.yaml into --out, all together.")
    s.add_argument("--kind", choices=("face", "sphere"), default="face")
    s.add_argument("--seed", type=options.seed, default=0,
                   help="which subject, 0..2^32-1 (default 0): for a face, which person")
    s.add_argument("--bits", type=int, choices=(8, 16), default=None,
                   help="PNG bit depth (default 16; --format png only)")
    s.add_argument("--distance", type=options.distance_mm, default=None, metavar="MM",
                   help="flash distance in mm (point lights); default: distant lights")
    s.add_argument("--specular", type=options.float_range(0.0, None), default=0.0,
                   help="Blinn-Phong specular weight, >= 0 (default 0: cross-polarised "
                   "flashes)")
    s.add_argument("--force", action="store_true",
                   help="replace an earlier 'booth simulate' output in --out, whole")
    s.set_defaults(handler=cmd_simulate)

    pp = simsub.add_parser(
        "people", help="render N different simulated people, each a capture folder",
        parents=[out_folder("simulate people", required=False,
                            extra=" (replacing one needs --force)"), rendering],
        description="Write person-NNNN/ for people SEED .. SEED+N-1 (each as 'booth simulate "
        "subject --kind face' writes one: photos, truth/, lights.yaml), people.yaml (who "
        "each one is) and contact_sheet.png (ring-flash photos beside true normal maps). "
        "With --store instead of --out: a new session of a session store, the people captured "
        "as the simulated booth stores them after a calibration sphere, for 'booth export'.")
    pp.add_argument("--store", metavar="SESSIONS_ROOT",
                    help="write a session store's new session instead of --out")
    pp.add_argument("--session", default="simulated",
                    help="the session's name with --store (default simulated)")
    pp.add_argument("count", type=options.int_range(1, 1_000_000, "people"), metavar="N",
                    help="how many people")
    pp.add_argument("--seed", type=options.seed, default=0,
                    help="the first person's id, 0..2^32-1 (default 0)")
    pp.add_argument("--workers", type=options.int_range(1, 256, "workers"), default=None,
                    help="processes rendering in parallel (default: the cores available)")
    pp.add_argument("--force", action="store_true",
                    help="replace an earlier 'booth simulate people' output in --out, whole")
    pp.set_defaults(handler=cmd_simulate_people)

    c = sub.add_parser("calibrate", help="fit lights and coefficients from a sphere capture",
                       parents=[out_file("calibrate", "FILE.yaml")],
                       description="Find the white sphere, fit each flash's direction and "
                       "intensity and the simplified method's coefficients; write YAML.")
    c.add_argument("sphere_dir", metavar="SPHERE_DIR")
    c.add_argument("--circle", metavar="CX,CY,R", type=circle,
                   help="sphere outline in pixels: centre and radius > 0 (skip detection)")
    c.set_defaults(handler=cmd_calibrate)

    n = sub.add_parser(
        "normals", help="photometric stereo on a capture folder",
        parents=[out_folder("normals")],
        description="Write normals.png (16-bit), normals.npy, albedo.png, mask.png, "
        "confidence.png, normals_preview.png and normals.yaml into --out, all together. "
        "The light model: --calibration and/or --lights when given; else, for a capture "
        "in a session store, the session's calibration (as the capture's own derived/ and "
        "the export use); else the nominal booth. An ambient frame in the folder is "
        "subtracted from each photo.")
    n.add_argument("capture_dir", metavar="CAPTURE_DIR")
    n.add_argument("--method", choices=("lambertian", "simplified"), default=DEFAULT_METHOD,
                   help=f"default {DEFAULT_METHOD}: least squares over the calibrated light "
                   "directions; simplified: Chang & Lin's linear model")
    n.add_argument("--calibration", metavar="FILE", type=options.file_path,
                   help="calibration YAML from 'booth calibrate'")
    n.add_argument("--lights", metavar="FILE", type=options.file_path,
                   help="lights YAML (overrides the calibration's)")
    n.set_defaults(handler=cmd_normals)

    fl = sub.add_parser("flash", help="talk to the flash controller",
                        description="Commands to the flash controller over its serial port.")
    flsub = fl.add_subparsers(dest="what", required=True, metavar="WHAT")
    h = flsub.add_parser("hello", help="handshake; print firmware version and channels",
                         parents=[port_required()])
    h.set_defaults(handler=cmd_flash_hello)
    f = flsub.add_parser("fire", help="fire one flash and print its FIRED event",
                         parents=[port_required()])
    f.add_argument("channel", choices=CHANNELS)
    f.add_argument("--timeout", type=options.positive_seconds, default=1.0,
                   help="seconds to wait for FIRED, (0, 3600] (default 1)")
    f.set_defaults(handler=cmd_flash_fire)

    cp = sub.add_parser("capture", help="capture one subject under the five flashes",
                        parents=[station],
                        description="Run one capture (preflight, five flash shots, optional "
                        "ambient frame) into the session store and print where it went; "
                        "then compute its normal map (with the session's calibration) and "
                        "quality checks into derived/.")
    cp.add_argument("--session", required=True, metavar="NAME")
    cp.add_argument("--subject", metavar="ID", help="pseudonymous subject id")
    cp.add_argument("--sphere", action="store_true",
                    help="capture the calibration sphere instead, fit it and make it the "
                    "session's calibration")
    cp.add_argument("--consent", action="store_true",
                    help="the subject has given consent (required)")
    cp.add_argument("--ambient", action="store_true", help="also take a no-flash frame")
    cp.add_argument("--retake", metavar="CAPTURE_ID", type=options.capture_id,
                    help="supersede this earlier capture")
    cp.add_argument("--operator", default="", help="recorded in session.yaml")
    cp.add_argument("--no-process", action="store_true",
                    help="skip the normal map and quality checks after the capture")
    cp.set_defaults(handler=cmd_capture)

    dr = sub.add_parser("doctor", help="check serial port, controller, camera and disk",
                        description="One PASS/FAIL line per check, with what to do.")
    dr.add_argument("--backend", choices=BACKENDS, default="gphoto2")
    dr.add_argument("--port", type=options.port,
                    help="flash controller serial port (default: first found)")
    dr.add_argument("--sessions", default="sessions", metavar="ROOT", type=options.folder)
    dr.set_defaults(handler=cmd_doctor)

    ss = sub.add_parser("sessions", help="list and verify the session store",
                        description="Inspect captured sessions on disk.")
    sssub = ss.add_subparsers(dest="what", required=True, metavar="WHAT")
    sl = sssub.add_parser("list", help="sessions, subjects and captures under ROOT; non-zero "
                          "exit when there is none")
    sl.add_argument("root", metavar="ROOT")
    sl.set_defaults(handler=cmd_sessions_list)
    sv = sssub.add_parser("verify", help="check every capture of a session (checksums, "
                          "completeness); non-zero exit when anything is missing or altered, "
                          "or there is nothing to check")
    sv.add_argument("session", metavar="ROOT/SESSION")
    sv.set_defaults(handler=cmd_sessions_verify)

    lmk = sub.add_parser("landmarks", help="MediaPipe Face Mesh landmarks of a photo",
                         parents=[out_file("landmarks", "FILE.json")],
                         description="Write the 478 Face Mesh landmarks (x, y in pixels, z) of "
                         "the largest face in IMAGE as JSON; --overlay draws the mesh on it. "
                         "Both files are replaced together or not at all.")
    lmk.add_argument("image", metavar="IMAGE")
    lmk.add_argument("--overlay", metavar="FILE.png", type=options.file_path,
                     help="the photo with the mesh drawn (a new file, or an overlay this "
                     "command wrote)")
    lmk.set_defaults(handler=cmd_landmarks)

    ex = sub.add_parser("export", help="session stores -> a training dataset",
                        parents=[out_folder("export", metavar="DATASET")],
                        description="Export every complete, not superseded capture of the "
                        "session stores as a training sample (face crop, landmark channels, "
                        "normal map with the session's calibration, mask), split by subject. "
                        "Resumes an interrupted export and reuses samples already exported "
                        "with the same settings. Exit status 1 when nothing was exported.")
    ex.add_argument("roots", nargs="+", metavar="SESSIONS_ROOT")
    ex.add_argument("--method", choices=("lambertian", "simplified"), default=DEFAULT_METHOD,
                    help=f"photometric stereo method of the normal maps (default "
                    f"{DEFAULT_METHOD}, as 'booth normals' and the capture's derived/)")
    ex.add_argument("--encoding", choices=("points", "dense", "none"), default="points",
                    help="landmark channels (default points)")
    ex.add_argument("--size", type=options.int_range(32, 4096, "pixels"), default=512,
                    help="crop side, 32..4096 pixels (default 512)")
    ex.add_argument("--workers", type=options.int_range(1, 64), default=None,
                    help="worker processes, 1..64 (default: one per core)")
    ex.add_argument("--augment", action="store_true",
                    help="also write flipped, darker and brighter copies (the paper's 4x data)")
    ex.add_argument("--brightness", type=options.number_list(positive=True, example="0.7,1.3"),
                    default=(0.7, 1.3), metavar="F,...",
                    help="brightness factors (> 0) of the --augment copies (default 0.7,1.3); "
                    "a negative one is refused anyway (argparse takes a list starting with "
                    "'-' for an option)")
    ex.add_argument("--compress", action="store_true",
                    help="deflate the photo and normals in each sample too: about 2.3x "
                    "smaller files, a slower export")
    ex.add_argument("--seed", type=options.seed, default=0, help="split seed (default 0)")
    ex.add_argument("--split", type=options.number_list(3, total=1.0, example="0.8,0.1,0.1"),
                    default=(0.8, 0.1, 0.1), metavar="TRAIN,VAL,TEST",
                    help="subject fractions >= 0 adding up to 1 (default 0.8,0.1,0.1); a "
                    "negative one is refused anyway (argparse takes a list starting with '-' "
                    "for an option)")
    ex.set_defaults(handler=cmd_export)

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
    ev.set_defaults(handler=cmd_evaluate)

    pr = sub.add_parser("predict", help="normal maps of any portraits from a trained run",
                        parents=[out_folder("predict")],
                        description="Find the faces in each photo (JPEG, PNG, TIFF, HEIC, ...; "
                        "a folder stands for its photos), crop each as the export does, predict "
                        "its normal map, and write NAME.normals.png (16-bit, full frame, inside "
                        "the face), NAME.normals.npy, NAME.mask.png and NAME.crop.normals.png. "
                        "A photo without a face is listed; exit status 1 when a photo failed.")
    pr.add_argument("photos", nargs="+", metavar="IMAGE_OR_DIR")
    pr.add_argument("--model", default=None, metavar="RUN",
                    help="a run folder of 'booth train' (its best.safetensors) or a "
                    "NAME.safetensors with NAME.yaml (default: the model shipped with the "
                    "booth, trained on simulated people)")
    pr.add_argument("--max-faces", type=options.int_range(1, 4, "faces"), default=1,
                    help="faces per photo, largest first (default 1, at most 4)")
    pr.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    pr.set_defaults(handler=cmd_predict)

    rl = sub.add_parser(
        "relight", help="re-render a capture or a portrait under new light",
        parents=[out_folder("relight")],
        description="Relight a capture folder (photometric stereo's normals and albedo; the "
        "ring-flash photo outside the face) or any portrait with a normal map (--normals, or "
        "--predict with the shipped model; its albedo estimated by dividing out the photo's "
        "own light, fitted as spherical harmonics). Writes relit.png (8-bit sRGB), relit16.png "
        "(16-bit linear), albedo.png, relight.yaml; depth.npy/png when depth was integrated "
        "(--shadows, point lights); with --orbit N also orbit.gif, orbit.mp4 and "
        "contact_sheet.png. Without --light, --sh or --env: a key light (az=-35,el=25) and "
        f"ambient {DEFAULT_RELIGHT_AMBIENT}.")
    rl.add_argument("source", metavar="CAPTURE_DIR|IMAGE")
    rl.add_argument("--light", action="append", metavar="SPEC",
                    help="a light, repeatable: az=DEG,el=DEG (azimuth from the view axis "
                    "toward +x = image right, elevation toward +y = up), or dir=X,Y,Z, or "
                    "pos=X,Y,Z (a point light, mm from the face's centre), or a flash's name "
                    "(center, left, right, top, bottom: a capture's calibrated flash); each "
                    "with optional color=R,G,B and intensity=F, e.g. az=30,el=20,"
                    "color=1,0.9,0.8,intensity=1.2")
    rl.add_argument("--ambient", metavar="F|R,G,B", default=None,
                    type=options.number_list(example="0.1 or 0.1,0.1,0.12"),
                    help="ambient light added everywhere (default 0, or "
                    f"{DEFAULT_RELIGHT_AMBIENT} with the default key light)")
    rl.add_argument("--sh", metavar="FILE|PRESET",
                    help="a second-order spherical-harmonics environment: a YAML of 9 RGB "
                    "coefficients, or a preset (uniform, studio, overcast, window, sunset)")
    rl.add_argument("--env", metavar="IMAGE",
                    help="an equirectangular environment image (PNG/JPEG as sRGB, Radiance "
                    ".hdr, OpenEXR .exr; 2:1, its centre facing the sitter) projected to SH")
    rl.add_argument("--specular", type=options.float_range(0.02, 1.0, hi_open=False),
                    metavar="ROUGHNESS", default=None,
                    help="add a skin-like specular lobe (GGX) of this roughness, 0.02..1")
    rl.add_argument("--shadows", action="store_true",
                    help="cast shadows, from a depth map integrated from the normals")
    rl.add_argument("--orbit", type=options.int_range(2, 720, "frames"), default=0,
                    metavar="N", help="also an N-frame light orbit (GIF, MP4) and a contact "
                    "sheet of eight lightings")
    g = rl.add_argument_group("a capture folder")
    g.add_argument("--calibration", metavar="FILE", type=options.file_path,
                   help="calibration.yaml (default: the capture's session's)")
    g.add_argument("--lights", metavar="FILE", type=options.file_path,
                   help="a lights file (default: the calibration's, or lights.yaml beside "
                   "the photos)")
    g.add_argument("--albedo", choices=("stereo", "ring"), default="stereo",
                   help="photometric stereo's albedo (default) or the ring-flash photo "
                   "divided by its shading")
    g = rl.add_argument_group("a portrait")
    g.add_argument("--normals", metavar="NORMALS", help="its normal map: a 16-bit PNG "
                   "(booth predict's NAME.normals.png) or .npy, the photo's size")
    g.add_argument("--mask", metavar="MASK.png",
                   help="where the normals hold (default: where the map is not zero)")
    g.add_argument("--predict", action="store_true",
                   help="predict the normals with --model (default: the shipped model)")
    g.add_argument("--model", metavar="RUN", default=None)
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    rl.set_defaults(handler=cmd_relight)

    t = sub.add_parser("tui", help="the operator's terminal app", parents=[station],
                       description="Run capture sessions from the terminal: sessions, subjects "
                       "and consent, live hardware status, capture with thumbnails, normal map "
                       "and QC, calibration, doctor. Keys are shown at the bottom of each "
                       "screen; q quits (the flashes are disarmed on every exit).")
    t.add_argument("--images", choices=("auto", "cells", "none"), default="auto",
                   help="thumbnails: auto (the best the terminal supports), cells (coloured "
                   "half-blocks, any terminal), none (file names)")
    t.add_argument("--log", metavar="FILE", type=options.file_path,
                   help="log file (default ~/.local/state/booth/tui.log)")
    t.set_defaults(handler=cmd_tui)

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
    return p


# -- handlers -----------------------------------------------------------------------------
def cmd_simulate(args: argparse.Namespace) -> int:
    from booth.simulation import check_out, simulate_subject

    check_out(args.out, args.force)
    memory.check_memory("simulate", args.size)
    t = time.perf_counter()
    if args.bits is not None and args.format != "png":
        raise InputError(f"--bits: the bit depth of PNGs; --format {args.format} writes camera "
                         "files of their own depth (JPEG 8 bit, DNG 14 bit): leave --bits out")
    r = simulate_subject(args.out, args.kind, args.seed, args.size, args.ambient, args.noise,
                         args.bits or 16, args.distance, args.specular, args.force, args.format)
    print(f"simulated {args.kind} seed {args.seed} ({args.size}×{args.size}, "
          f"{len(r.images)} images) in {time.perf_counter() - t:.2f} s -> {r.folder}")
    return 0


def cmd_simulate_people(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth.export import cpu_workers
    from booth.population import SHEET, check_out, simulate_people

    if (args.out is None) == (args.store is None):
        raise InputError("give --out FOLDER (capture folders) or --store SESSIONS_ROOT (a "
                         "session store), one of them")
    if args.store is not None:
        return _simulate_people_store(args)
    check_out(args.out, args.force)
    memory.check_memory("simulate", args.size)
    workers = min(args.workers or cpu_workers(), args.count)
    t = time.perf_counter()
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("rendering people", total=args.count)
        pop = simulate_people(args.out, args.count, args.seed, workers, args.size, args.format,
                              args.noise, 16, args.ambient, args.force,
                              lambda done, total: bar.update(task, completed=done))
    took = time.perf_counter() - t
    print(f"simulated {len(pop.people)} people (ids {args.seed}..{args.seed + args.count - 1}, "
          f"{args.size}×{args.size}, {args.format}) on {workers} worker(s) in {took:.1f} s "
          f"-> {pop.folder} (look at {pop.folder / SHEET})")
    return 0


def _simulate_people_store(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth.export import cpu_workers
    from booth.population import simulate_people_store

    fmt = "jpeg" if args.format == "png" else args.format
    workers = min(args.workers or cpu_workers(), args.count)
    t = time.perf_counter()
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("capturing people", total=args.count)
        path = simulate_people_store(args.store, args.session, args.count, args.seed, workers,
                                     args.size, fmt, args.noise or 0.003, args.ambient,
                                     lambda done, total: bar.update(task, completed=done))
    print(f"simulated {args.count} people into the session {path} ({fmt}, calibrated on its "
          f"sphere) on {workers} worker(s) in {time.perf_counter() - t:.1f} s")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from booth.calibration import calibrate_folder

    cal = calibrate_folder(args.sphere_dir, args.out, args.circle)
    c = cal.circle
    print(f"sphere at ({c.cx:.1f}, {c.cy:.1f}), radius {c.r:.1f} px")
    for ch in cal.rig.directions:
        d = cal.rig.direction(ch)
        print(f"  {ch:<7} direction [{d[0]:+.4f} {d[1]:+.4f} {d[2]:+.4f}]  "
              f"intensity {cal.rig.intensity(ch):.4f}")
    r = cal.residuals
    print(f"residual on the sphere: lambertian {r['lambertian_mean_deg']:.3f}° mean, "
          f"simplified {r['simplified_mean_deg']:.3f}° mean "
          f"({r['simplified_median_deg']:.3f}° median)")
    print(f"camera response: {cal.response.describe()}"
          + ("" if cal.response_fitted else " (not fitted)"))
    if cal.response_fitted:
        before, after = r["response_rms_srgb"], r["response_rms_fitted"]
        print(f"  sphere's departure from Lambertian (RMS of its code values): "
              f"{before:.5f} ({255 * before:.2f}/255) with sRGB's inverse, "
              f"{after:.5f} ({255 * after:.2f}/255) with the fitted curve")
    for note in cal.notes:
        print(f"  note: {note}")
    print(f"wrote {args.out}")
    return 0


def cmd_normals(args: argparse.Namespace) -> int:
    from booth import normals

    normals.check_out(args.out)
    t = time.perf_counter()
    res = normals.compute_normals(args.capture_dir, args.method, args.calibration, args.lights)
    normals.write_normals(res, args.out)
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


def cmd_flash_hello(args: argparse.Namespace) -> int:
    from booth.hardware.flashlink import FlashController

    with FlashController(args.port) as fc:
        info = fc.info
        st = fc.status()
        ready = [c for i, c in enumerate(CHANNELS) if st.ready_mask >> i & 1]
        print(f"flash controller on {args.port}: firmware "
              f"{'.'.join(map(str, info.firmware))}, protocol {info.version}, "
              f"{info.channels} channels ({', '.join(CHANNELS)}); "
              f"ready: {', '.join(ready) or 'none'}")
    return 0


def cmd_flash_fire(args: argparse.Namespace) -> int:
    from booth.hardware.flashlink import FlashController

    with FlashController(args.port) as fc:
        fc.clear_events()
        fc.fire(args.channel)
        ev = fc.wait_fired(args.channel, args.timeout)
        print(f"FIRED {args.channel} at t={ev.t_us} us (controller clock)")
    return 0


def _station(args: argparse.Namespace, cfg):
    from booth.station import SimOptions, Station

    sim = SimOptions(seed=args.seed, size=args.size, per_subject=False,
                     image_format=args.image_format, controller=args.controller)
    return Station(cfg, args.backend, args.port, sim)


def _print_event(ev) -> None:
    if ev.kind in ("retry", "aborted"):
        print(f"  {ev.kind}: {ev.channel} (attempt {ev.attempt}): {ev.message}")
    elif ev.kind == "stored":
        print(f"  {ev.channel} stored")


def _sessions_root(args: argparse.Namespace, cfg):
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


def _check_retake(root, session: str, subject: str, retake: str) -> None:
    """The capture ``--retake`` names exists, checked before anything is created (a new
    session cannot hold it)."""
    from booth.session import PARTIAL, SessionError, SessionStore, check_name

    try:
        folder = SessionStore(root).session(session).path
    except SessionError:  # a bad name, no such session, or a damaged session.yaml
        if (root / check_name("session", session) / "session.yaml").exists():
            raise
        raise InputError(f"--retake {retake}: no session '{session}' in {root} to hold it (a "
                         "retake supersedes a capture of the same session)") from None
    caps = folder / "subjects" / check_name("subject", subject) / "captures"
    if not ((caps / retake).is_dir() or (caps / (retake + PARTIAL)).is_dir()):
        raise InputError(f"--retake {retake}: subject '{subject}' of session '{session}' has "
                         f"no such capture (see 'booth sessions list {root}')")


def cmd_capture(args: argparse.Namespace) -> int:
    from booth import workflows
    from booth.config import load_config
    from booth.session import SessionError, check_name

    if args.sphere:
        if args.subject or args.retake:
            raise InputError("--sphere captures the calibration sphere: leave out --subject "
                             "and --retake")
    elif not args.subject:
        raise InputError("--subject: which subject to capture (or --sphere to calibrate)")
    elif not args.consent:
        raise SessionError(f"subject '{args.subject}': consent is required before capture; "
                           "pass --consent once the subject has agreed")
    # Everything that can be checked is, before the session or the subject is created: a
    # refused capture leaves nothing behind.
    check_name("session", args.session)
    if args.subject:
        check_name("subject", args.subject)
    cfg = load_config(args.config)
    if args.backend == "sim":
        memory.check_memory("capture", args.size)
    root = _sessions_root(args, cfg)
    if args.retake:
        _check_retake(root, args.session, args.subject, args.retake)
    with _station(args, cfg) as station:
        session = workflows.open_session(root, args.session, args.operator, cfg)
        if args.sphere:
            out = workflows.calibrate_session(station, session, _print_event, use=True,
                                              ambient=args.ambient)
        else:
            session.add_subject(args.subject, consent=True)
            out = workflows.capture_subject(station, session, args.subject, args.retake,
                                            _print_event, ambient=args.ambient,
                                            process=not args.no_process)
    result = out.capture
    print(f"{result.status}: {result.path}" + (f" ({result.reason})" if result.reason else ""))
    if args.sphere and out.calibration is not None:
        r = out.calibration.residuals
        print(f"calibration {out.calibration_id}: residual on the sphere "
              f"{r['lambertian_mean_deg']:.2f}° (lambertian), "
              f"{r['simplified_mean_deg']:.2f}° (simplified); now the session's")
    if not args.sphere and out.processed is not None:
        print(f"normals: {out.processed.folder} ({out.processed.normals.describe()})")
        for w in out.processed.warnings:
            print(f"  QC warning: {w.message}")
    if out.error is not None:
        raise out.error
    return 0 if result.status == "complete" else 1


def cmd_doctor(args: argparse.Namespace) -> int:
    from pathlib import Path

    from booth import diagnostics as doctor

    return 0 if doctor.run(args.backend, args.port, Path(args.sessions)) else 1


def cmd_sessions_list(args: argparse.Namespace) -> int:
    from booth.session import SessionStore

    sessions = SessionStore(args.root).sessions()
    if not sessions:
        print(f"booth: error: {args.root}: no sessions (expected ROOT/SESSION/session.yaml)",
              file=sys.stderr)
        return EXIT_IO
    for session in sessions:
        infos = session.captures()
        subjects = sorted({i.subject for i in infos})
        print(f"{session.name}: {len(subjects)} subject(s), {len(infos)} capture(s)")
        for i in infos:
            note = f", superseded by {i.superseded_by}" if i.superseded_by else ""
            print(f"  {i.subject}/{i.capture_id}  {i.status}{note}")
    return 0


def cmd_sessions_verify(args: argparse.Namespace) -> int:
    from pathlib import Path

    from booth.session import SessionStore

    path = Path(args.session)
    infos = SessionStore(path.parent).session(path.name).verify()
    if not infos:
        print(f"booth: error: {path}: no captures to verify", file=sys.stderr)
        return EXIT_IO
    for i in infos:
        detail = "; ".join([*i.problems, *([i.note] if i.note else [])])
        print(f"{i.subject}/{i.capture_id}: {i.status}{': ' + detail if detail else ''}")
    counts = {s: sum(i.status == s for i in infos)
              for s in ("complete", "aborted", "partial", "broken")}
    print(", ".join(f"{n} {s}" for s, n in counts.items()))
    return 1 if counts["broken"] else 0


def cmd_landmarks(args: argparse.Namespace) -> int:
    from booth.landmarks import write_landmarks

    lm = write_landmarks(args.image, args.out, args.overlay)
    extra = f" ({lm.faces_found} faces found: the largest kept)" if lm.faces_found > 1 else ""
    also = f" and {args.overlay}" if args.overlay else ""
    print(f"{len(lm.points)} landmarks -> {args.out}{also}{extra}")
    return 0


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

    from learning.trainer import settings_from, train

    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task("epoch 1", total=None)

        def step(epoch: int, done: int, total: int) -> None:
            bar.update(task, description=f"epoch {epoch}", completed=done, total=total)

        run = train(args.dataset, args.out, settings_from(args), args.resume,
                    progress=lambda msg: bar.console.print(msg, soft_wrap=True, markup=False),
                    on_step=step)
    print(f"trained -> {run} (best.safetensors, last.safetensors, metrics.csv)")
    return 0


def _device(choice: str) -> str:
    """``--device``: ``auto`` is the GPU when torch sees one, else the CPU."""
    if choice != "auto":
        return choice
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cmd_evaluate(args: argparse.Namespace) -> int:
    from learning.evaluation import evaluate

    scores = evaluate(args.runs, args.dataset, args.out, args.split, _device(args.device))
    for s in scores:
        o = s.overall
        print(f"{s.run} ({s.encoding}): cosine {o['cosine']:.4f}, mean {o['mean_deg']:.2f}°, "
              f"median {o['median_deg']:.2f}° over {o['pixels']} px")
    print(f"report -> {args.out}/report.html")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import re
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from learning.prediction import Predictor, default_model, inputs, predict
    from photometric.io.files import OutputDir

    photos = inputs(args.photos)
    if not photos:
        raise InputError(f"{', '.join(args.photos)}: no photos (.jpg, .png, .tif, .heic, ...)")
    out = Path(args.out)
    ours = re.compile(r".*\.(normals\.png|normals\.npy|mask\.png|crop\.normals\.png)$")
    earlier = [p.name for p in out.iterdir() if ours.match(p.name)] if out.is_dir() else []
    target = OutputDir(out, "predict", earlier)
    predictor = Predictor.load(args.model or default_model(), _device(args.device))
    with target as stage, Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                                   transient=True) as bar:
        task = bar.add_task("predicting", total=len(photos))
        results = predict(photos, predictor, stage, args.max_faces,
                          lambda done, total: bar.update(task, completed=done))
        failed = [r for r in results if r.error]
        for r in results:
            print(f"{r.photo}: {r.error}" if r.error else f"{r.photo}: {r.faces} face(s)")
        if len(failed) == len(results):
            raise InputError(f"no photo could be predicted; {out} is as it was")
    print(f"{len(results) - len(failed)} of {len(results)} photo(s) predicted -> {out}")
    return 1 if failed else 0


def cmd_relight(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from booth import relighting

    src = Path(args.source)
    if not src.exists():
        raise InputError(f"{src}: not found; expected a capture folder or a portrait photo")
    capture = src.is_dir()
    if capture and (args.normals or args.mask or args.predict or args.model):
        raise InputError(f"{src} is a capture folder: its normals come from photometric "
                         "stereo; --normals, --mask, --predict and --model are for a photo")
    if not capture and (args.calibration or args.lights):
        raise InputError(f"{src} is a photo: --calibration and --lights are for a capture "
                         "folder")
    if not capture and not args.predict and not args.normals:
        raise InputError(f"{src}: give its normal map (--normals NORMALS.png, e.g. from "
                         "'booth predict') or --predict")
    if args.predict and args.normals:
        raise InputError("give --normals or --predict, not both")
    lighting = relighting.SceneArgs.parse(args.light, args.sh, args.env, args.ambient,
                                          args.specular, args.shadows)
    named = [s.text for s in lighting.specs if s.flash is not None]
    if named and not capture:
        raise InputError(f"--light {named[0]}: a flash is named, but {src} is a photo, which "
                         "has no flashes; give a capture folder, or az=,el= / dir= / pos=")
    target = relighting.output(args.out)
    if capture:
        portrait = relighting.load_capture(src, args.calibration, args.lights, args.albedo)
    else:
        portrait = relighting.load_portrait(src, args.normals, args.mask, args.predict,
                                            args.model,
                                            _device(args.device) if args.predict else "cpu")
    scene = lighting.scene(portrait.rig, str(src))
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                  transient=True) as bar:
        task = bar.add_task("orbit", total=args.orbit or 1, visible=bool(args.orbit))
        written = relighting.run(portrait, scene, target, args.orbit,
                                 lambda done, total: bar.update(task, completed=done))
    print(f"relit {src} ({portrait.source['normals']}; albedo: {portrait.source['albedo']}) "
          f"-> {args.out}: {', '.join(written)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth.export import check_out, cpu_workers, export_sources, run_export
    from learning.exporter import Settings
    from learning.workers import start_workers

    settings = Settings(size=args.size, encoding=args.encoding, method=args.method,
                        augment=args.augment, brightness=args.brightness, seed=args.seed,
                        split=args.split, compress=args.compress).validate()
    check_out(args.out)
    workers = args.workers or cpu_workers()
    if workers > 1:
        start_workers()  # its imports overlap the checksums below
    sources, rejected = export_sources(args.roots)
    if not sources and not rejected:
        raise InputError(f"{', '.join(args.roots)}: no captures to export")
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("exporting", total=len(sources))

        def progress(done, total, outcome):
            bar.update(task, completed=done)

        result = run_export(sources, args.out, settings, workers, progress, rejected)
    if not result.exported:
        print(f"booth: error: nothing exported: every one of {len(result.skipped)} "
              f"capture(s) was skipped; {args.out} is as it was", file=sys.stderr)
        for o in result.skipped:
            print(f"  skipped {o.key}: {o.reason}", file=sys.stderr)
        return EXIT_IO
    print(f"exported {len(result.exported)} captures ({result.reused} reused), "
          f"skipped {len(result.skipped)} -> {args.out}")
    for o in result.skipped:
        print(f"  skipped {o.key}: {o.reason}")
    return 0


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
    _sessions_root(args, load_config(args.config))
    _check_log(args.log)
    return run(args.config, args.backend, args.sessions, args.port, args.seed, args.size,
               args.images, args.log, args.image_format, args.controller)


def cmd_demo(args: argparse.Namespace) -> int:
    from booth import demo

    demo.check_out(args.out)
    memory.check_memory("demo", args.size)
    demo.run(args.out, args.seed, args.size)
    return 0


# -- entry point --------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that went away shows here, not as noise at exit
        return code
    except BrokenPipeError:  # only stdout's reaches here (see _main)
        _quiet_stdout()
        return EXIT_IO
    except Exception as exc:
        return _internal(exc)


def _internal(exc: Exception) -> int:
    """A bug: one line and exit 70, or the traceback with ``BOOTH_DEBUG=1``."""
    if os.environ.get("BOOTH_DEBUG"):
        raise exc
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    print(f"booth: internal error: {what}; set BOOTH_DEBUG=1 for the traceback",
          file=sys.stderr)
    return EXIT_INTERNAL


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader has gone (``booth ... | head -1``): poll says so
    (POLLERR), since the failed write already dropped what a flush would retry."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        return any(ev & select.POLLERR for _, ev in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no descriptor (a test's capture)
        return False


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that Python's flush at exit does not complain again
    (the recipe of Python's documentation on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # a stdout without a descriptor (tests)
        pass


def _out_of_memory(args: argparse.Namespace, exc: MemoryError) -> str:
    """One line for a job that ran out of memory (a MemoryError past the up-front estimate:
    an address-space limit, another process taking the memory meanwhile)."""
    detail = " ".join(str(exc).split())
    hint = ("try a smaller --size" if getattr(args, "size", None) else
            "try smaller images, or close other programs")
    return f"booth: error: out of memory{' (' + detail + ')' if detail else ''}; {hint}"


def _main(argv: Sequence[str] | None) -> int:
    """Parse, run the command's handler, and turn each kind of failure into one line."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    from booth.hardware.camera import CameraError
    from booth.hardware.flashlink import FlashError
    from booth.session import SessionError

    try:
        return args.handler(args)
    except MemoryError as exc:
        print(_out_of_memory(args, exc), file=sys.stderr)
        return EXIT_IO
    except (FlashError, CameraError) as exc:
        print(f"booth: error: {exc}", file=sys.stderr)
        return EXIT_IO
    except (InputError, SessionError) as exc:
        print(f"booth: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if isinstance(exc, BrokenPipeError) and _stdout_gone():
            raise  # the reader of our output went away: main() ends quietly
        name = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"booth: error: {name}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_IO
    except KeyboardInterrupt:
        print("booth: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
