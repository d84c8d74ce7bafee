"""``booth export``: session stores to a training set (:mod:`booth.dataset_sources`,
:mod:`learning.exporter`)."""

from __future__ import annotations

import argparse
import sys

from booth import options
from booth.commands.shared import (
    EXIT_IO,
    out_folder,
)
from photometric.errors import InputError
from photometric.stereo import DEFAULT_METHOD, METHODS


def register(sub: argparse._SubParsersAction) -> None:
    ex = sub.add_parser("export", help="session stores -> a training dataset",
                        parents=[out_folder("export", metavar="DATASET")],
                        description="Export every complete, not superseded capture of the "
                        "session stores as a training sample (crop of the sitter, landmark "
                        "channels, normal map with the session's calibration, mask), split by "
                        "subject. A folder of 'booth simulate people --out' stands for its "
                        "people, each with its true normals (portrait light: portrait.jpg). "
                        "Resumes an interrupted export and reuses samples already exported "
                        "with the same settings. Exit status 1 when nothing was exported.")
    ex.add_argument("roots", nargs="+", metavar="SESSIONS_ROOT",
                    help="a session store (every session in it), one session's folder, or "
                    "a folder of 'booth simulate people --out'")
    ex.add_argument("--method", choices=sorted(METHODS), default=DEFAULT_METHOD,
                    help=f"photometric stereo method of the normal maps (default "
                    f"{DEFAULT_METHOD}, as 'booth normals' and the capture's derived/)")
    ex.add_argument("--encoding", choices=("points", "dense", "none"), default="points",
                    help="landmark channels (default points)")
    ex.add_argument("--framing", choices=("person", "face"), default="person",
                    help="person: the head with its hair and ears, the neck and the shoulders' "
                    "top, what a relit portrait needs (default); face: the face and a quarter "
                    "of its size round it (the paper's crop)")
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


def cmd_export(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from booth.dataset_sources import check_out, cpu_workers, export_sources, run_export
    from booth.progress import Reporter
    from learning.exporter import Settings
    from learning.workers import start_workers

    settings = Settings(size=args.size, encoding=args.encoding, framing=args.framing,
                        method=args.method,
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
    report = Reporter(every=0.05)
    report("export", force=True, done=0, total=len(sources), out=str(args.out))
    with Progress(*columns, transient=True) as bar:
        task = bar.add_task("exporting", total=len(sources))

        def progress(done, total, outcome):
            bar.update(task, completed=done)
            report("export", force=done == total, done=done, total=total, key=outcome.key,
                   ok=outcome.ok)

        result = run_export(sources, args.out, settings, workers, progress, rejected)
    if not result.exported:
        print(f"booth: error: nothing exported: every one of {len(result.skipped)} "
              f"capture(s) was skipped; {args.out} is as it was", file=sys.stderr)
        for o in result.skipped:
            print(f"  skipped {o.key}: {o.reason}", file=sys.stderr)
        return EXIT_IO
    if result.changed:
        print(f"settings changed since the last export into {args.out}: "
              f"{'; '.join(result.changed)}; {result.rebuilt} earlier captures made again")
    print(f"exported {len(result.exported)} captures ({result.reused} reused), "
          f"skipped {len(result.skipped)} -> {args.out}")
    for o in result.skipped:
        print(f"  skipped {o.key}: {o.reason}")
    return 0
