"""A trained run's best model made a shipped one: ``learning/models/NAME.safetensors`` with
its YAML, and the held-out report beside it.

    python -m learning.shipping RUN NAME [--report REPORT_DIR] [--recipe TEXT]

The weights are stored as float16 (8.8 MB for the small preset instead of 17.5 MB; the
predictions move by hundredths of a degree, checked in the tests), the YAML is the run's best
checkpoint's plus where it came from (the run's settings, the dataset's manifest digest and
people, the recipe that made it), and ``REPORT_DIR``'s ``report.md`` and ``metrics.json``
(``booth evaluate``'s) are copied to ``NAME.report.md`` and ``NAME.metrics.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from learning import checkpoint
from photometric.errors import InputError
from photometric.io.files import write_bytes

MODELS = Path(__file__).resolve().parent / "models"


def ship(run: str | Path, name: str, report: str | Path | None = None,
         recipe: str = "", folder: str | Path = MODELS) -> Path:
    """The run's ``best`` as ``folder/NAME.safetensors`` (float16) and ``NAME.yaml``."""
    model, meta = checkpoint.load_model(run)
    meta.pop("software_version", None)
    if recipe:
        meta["recipe"] = recipe
    meta["weights"] = "float16"
    folder = Path(folder)
    copies = {}  # read first: a missing report ships nothing
    if report is not None:
        for src, dst in (("report.md", f"{name}.report.md"),
                         ("metrics.json", f"{name}.metrics.json")):
            if not (Path(report) / src).is_file():
                raise InputError(f"{report}: no {src}; give the folder 'booth evaluate' wrote")
            copies[dst] = (Path(report) / src).read_bytes()
    out = checkpoint.save_model(folder / f"{name}.safetensors", model, meta, half=True)
    for dst, data in copies.items():
        write_bytes(folder / dst, data)  # each whole or not at all
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m learning.shipping", description=__doc__
                                .splitlines()[0])
    p.add_argument("run", help="a run folder of 'booth train'")
    p.add_argument("name", help="the shipped model's name (portrait, booth)")
    p.add_argument("--report", default=None, help="the folder 'booth evaluate' wrote")
    p.add_argument("--recipe", default="", help="the commands that made it, for its YAML")
    p.add_argument("--folder", default=str(MODELS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    try:
        out = ship(args.run, args.name, args.report, args.recipe, args.folder)
    except InputError as exc:
        print(f"learning.shipping: error: {exc}", file=sys.stderr)
        return 2
    print(f"shipped {args.run} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
