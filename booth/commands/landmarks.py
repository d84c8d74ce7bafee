"""``booth landmarks``: the 478 Face Mesh landmarks of a photo, as JSON and a drawn overlay."""

from __future__ import annotations

import argparse

from booth import options
from booth.commands.shared import (
    out_file,
)


def register(sub: argparse._SubParsersAction) -> None:
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


def cmd_landmarks(args: argparse.Namespace) -> int:
    from booth.landmarks import write_landmarks

    lm = write_landmarks(args.image, args.out, args.overlay)
    extra = f" ({lm.faces_found} faces found: the largest kept)" if lm.faces_found > 1 else ""
    also = f" and {args.overlay}" if args.overlay else ""
    print(f"{len(lm.points)} landmarks -> {args.out}{also}{extra}")
    return 0
