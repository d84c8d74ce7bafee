"""``booth simulate subject`` and ``booth simulate people``: simulated subjects and people
under the five flashes, with their exact truth (:mod:`booth.simulation`,
:mod:`booth.population`)."""

from __future__ import annotations

import argparse
import time

from booth import memory, options
from booth.commands.shared import (
    out_folder,
    render_options,
)
from photometric.errors import InputError
from photometric.sim.sitter import LIGHTINGS


def register(sub: argparse._SubParsersAction) -> None:
    sim = sub.add_parser("simulate", help="render synthetic subjects on the simulated booth")
    simsub = sim.add_subparsers(dest="what", required=True, metavar="WHAT")
    rendering = render_options()
    s = simsub.add_parser(
        "subject", help="render one subject under the five flashes",
        parents=[out_folder("simulate", extra=" (replacing one of other settings needs --force)"),
                 rendering],
        description="Write center/left/right/top/bottom.png (and ambient.png), or the "
        "camera files of --format (center.jpg, center.dng, ...), truth/ (normals.npy, "
        "mask.png, depth.npy, albedo.png, lit.png, and for a person parts.png) and lights.yaml "
        "into --out, all together; for a person also person.yaml, every choice made. With "
        "--lighting portrait: portrait.jpg, truth/ and person.yaml.")
    s.add_argument("--kind", choices=("face", "sphere"), default="face")
    s.add_argument("--lighting", choices=LIGHTINGS, default="booth",
                   help="booth: the five flashes (default); portrait: a person as a phone or "
                   "a studio photographs them (a random lens, framing, room light, "
                   "background and camera finish), written as portrait.jpg")
    s.add_argument("--take", type=options.int_range(0, 1_000_000, "take"), default=0,
                   help="which sitting of the person (default 0): how they sit and, in "
                   "portrait light, the scene")
    s.add_argument("--from", dest="record", metavar="PERSON_YAML",
                   help="render again the person.yaml an earlier run wrote (every choice "
                   "recorded: the same person, sitting, clothes, hair and scene)")
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
                   help="replace an earlier 'booth simulate' output of other settings in --out, "
                   "whole")
    s.set_defaults(handler=cmd_simulate)

    pp = simsub.add_parser(
        "people", help="render N different simulated people, each a capture folder",
        parents=[out_folder("simulate people", required=False,
                            extra=" (replacing one of other settings needs --force)"),
                 rendering],
        description="Write person-NNNN/ for people SEED .. SEED+N-1 (each as 'booth simulate "
        "subject --kind face' writes one: photos or portrait.jpg, truth/, person.yaml), "
        "people.yaml (who each one is, how they look) and contact_sheet.png (photos beside "
        "true normal maps). "
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
    pp.add_argument("--lighting", choices=LIGHTINGS, default="booth",
                    help="booth: the five flashes, for photometric stereo and the booth's model "
                    "(default); portrait: each person as a phone or a studio photographs them "
                    "(portrait.jpg: a random lens, framing, pose, expression, room light, "
                    "background and camera finish), for a model that must work on any photo")
    pp.add_argument("--workers", type=options.int_range(1, 256, "workers"), default=None,
                    help="processes rendering in parallel (default: the cores available)")
    pp.add_argument("--force", action="store_true",
                    help="replace an earlier 'booth simulate people' output of other settings in "
                    "--out, whole")
    pp.set_defaults(handler=cmd_simulate_people)


def cmd_simulate(args: argparse.Namespace) -> int:
    from booth.simulation import check_out, read_record, simulate_subject, subject_source

    record = read_record(args.record) if args.record else None
    if record is not None:
        args.kind, args.seed, args.take, args.lighting = ("face", int(record["id"]),
                                                          int(record["take"]),
                                                          str(record["lighting"]))
    check_out(args.out, args.force, subject_source(
        args.kind, args.seed, args.size, args.ambient, args.noise, args.bits or 16,
        args.distance, args.specular, args.format, args.lighting, args.take))
    memory.check_memory("simulate", args.size)
    t = time.perf_counter()
    if args.bits is not None and args.format != "png":
        raise InputError(f"--bits: the bit depth of PNGs; --format {args.format} writes camera "
                         "files of their own depth (JPEG 8 bit, DNG 14 bit): leave --bits out")
    r = simulate_subject(args.out, args.kind, args.seed, args.size, args.ambient, args.noise,
                         args.bits or 16, args.distance, args.specular, args.force, args.format,
                         args.lighting, args.take, record)
    light = "portrait light" if args.lighting == "portrait" else f"{len(r.images)} images"
    print(f"simulated {args.kind} seed {args.seed} ({args.size}×{args.size}, {light}) in "
          f"{time.perf_counter() - t:.2f} s -> {r.folder}")
    return 0


def cmd_simulate_people(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth.dataset_sources import cpu_workers
    from booth.population import SHEET, check_out, people_source, simulate_people

    if (args.out is None) == (args.store is None):
        raise InputError("give --out FOLDER (capture folders) or --store SESSIONS_ROOT (a "
                         "session store), one of them")
    if args.store is not None:
        if args.lighting == "portrait":
            raise InputError("--lighting portrait writes --out folders; a session store holds "
                             "the booth's five-flash captures")
        return _simulate_people_store(args)
    check_out(args.out, args.force, people_source(args.count, args.seed, args.size,
                                                  args.format, args.noise, 16, args.ambient,
                                                  args.lighting))
    memory.check_memory("simulate", args.size)
    workers = min(args.workers or cpu_workers(), args.count)
    t = time.perf_counter()
    columns = ("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("rendering people", total=args.count)
        pop = simulate_people(args.out, args.count, args.seed, workers, args.size, args.format,
                              args.noise, 16, args.ambient, args.force,
                              lambda done, total: bar.update(task, completed=done),
                              args.lighting)
    took = time.perf_counter() - t
    what = "portrait light" if args.lighting == "portrait" else args.format
    print(f"simulated {len(pop.people)} people (ids {args.seed}..{args.seed + args.count - 1}, "
          f"{args.size}×{args.size}, {what}) on {workers} worker(s) in {took:.1f} s "
          f"-> {pop.folder} (look at {pop.folder / SHEET})")
    return 0


def _simulate_people_store(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth.dataset_sources import cpu_workers
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
