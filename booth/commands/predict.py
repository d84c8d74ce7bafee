"""``booth predict``: normal maps of any portraits from a trained run
(:mod:`learning.prediction`)."""

from __future__ import annotations

import argparse

from booth import options
from booth.commands.shared import (
    device,
    out_folder,
)
from photometric.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    pr = sub.add_parser("predict", help="normal maps of any portraits from a trained run",
                        parents=[out_folder("predict")],
                        description="Find the faces in each photo (JPEG, PNG, TIFF, HEIC, ...; "
                        "a folder stands for its photos; small faces of a group photo too), crop "
                        "each as the export does, predict its normal map and mask, paste them "
                        "back into the photo, and write NAME.normals.png (16-bit, full frame, "
                        "where the mask holds), NAME.normals.npy, NAME.mask.png and each face's "
                        "NAME.crop.normals.png. "
                        "A photo without a face is listed; exit status 1 when a photo failed.")
    pr.add_argument("photos", nargs="+", metavar="IMAGE_OR_DIR")
    pr.add_argument("--model", default=None, metavar="RUN",
                    help="a shipped model, 'portrait' (any photo) or 'booth' (the booth's "
                    "ring-flash photo), a run folder of 'booth train' (its best.safetensors) "
                    "or a NAME.safetensors with NAME.yaml (default: portrait, or booth in a "
                    "copy that has no portrait model yet)")
    pr.add_argument("--max-faces", type=options.int_range(1, 32, "faces"), default=1,
                    help="faces per photo, largest first (default 1, at most 32)")
    pr.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    pr.set_defaults(handler=cmd_predict)


def cmd_predict(args: argparse.Namespace) -> int:
    import re
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from learning.prediction import Predictor, inputs, model_path, predict
    from photometric.io.files import OutputDir

    photos = inputs(args.photos)
    if not photos:
        raise InputError(f"{', '.join(args.photos)}: no photos (.jpg, .png, .tif, .heic, ...)")
    out = Path(args.out)
    ours = re.compile(r".*\.(normals\.png|normals\.npy|mask\.png|crop\.normals\.png)$")
    earlier = [p.name for p in out.iterdir() if ours.match(p.name)] if out.is_dir() else []
    target = OutputDir(out, "predict", earlier)
    predictor = Predictor.load(model_path(args.model), device(args.device))
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
