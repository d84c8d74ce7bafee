"""``booth relight``: a capture, or any portrait with its normal map, re-rendered under new
light (:mod:`booth.lighting`, :mod:`photometric.relighting`)."""

from __future__ import annotations

import argparse

from booth import options
from booth.commands.shared import (
    DEFAULT_RELIGHT_AMBIENT,
    device,
    out_folder,
)
from photometric.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
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
    g.add_argument("--model", metavar="RUN", default=None,
                   help="with --predict: 'portrait' (default), 'booth', a run folder or a "
                   "NAME.safetensors")
    g.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    rl.set_defaults(handler=cmd_relight)


def cmd_relight(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from booth import lighting

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
    scene_args = lighting.SceneArgs.parse(args.light, args.sh, args.env, args.ambient,
                                          args.specular, args.shadows)
    named = [s.text for s in scene_args.specs if s.flash is not None]
    if named and not capture:
        raise InputError(f"--light {named[0]}: a flash is named, but {src} is a photo, which "
                         "has no flashes; give a capture folder, or az=,el= / dir= / pos=")
    target = lighting.output(args.out)
    if capture:
        portrait = lighting.load_capture(src, args.calibration, args.lights, args.albedo)
    else:
        portrait = lighting.load_portrait(src, args.normals, args.mask, args.predict,
                                          args.model,
                                          device(args.device) if args.predict else "cpu")
    scene = scene_args.scene(portrait.rig, str(src))
    with Progress("{task.description}", BarColumn(), MofNCompleteColumn(),
                  transient=True) as bar:
        task = bar.add_task("orbit", total=args.orbit or 1, visible=bool(args.orbit))
        written = lighting.run(portrait, scene, target, args.orbit,
                               lambda done, total: bar.update(task, completed=done))
    print(f"relit {src} ({portrait.source['normals']}; albedo: {portrait.source['albedo']}) "
          f"-> {args.out}: {', '.join(written)}")
    return 0
