"""``booth landmarks``: Face Mesh landmarks of a photo as JSON, and the mesh drawn over it.

Both outputs are replaced together or not at all, and only files this command wrote are
replaced: the JSON is recognised by its fields, the overlay PNG by a text chunk it carries
(``booth: landmarks overlay``), which a user's own picture does not have.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from booth import options
from booth.commands.shared import (
    out_file,
)
from photometric.errors import InputError
from photometric.io.files import check_output_file, make_dir, outputs_distinct, replace_files

COMMAND = "landmarks"
PNG_KEY, PNG_VALUE = "booth", "landmarks overlay"
_DOC_KEYS = {"image", "width", "height", "faces_found", "convention", "landmarks"}
MAX_JSON_BYTES = 1 << 20


def _convention() -> str:
    from learning.facemesh import CONVENTION  # MediaPipe's module, imported only when needed

    return CONVENTION


def is_landmarks_json(path: Path) -> bool:
    """A landmarks JSON this command wrote: its fields, and nothing else."""
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            return False
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and set(doc) == _DOC_KEYS and doc["convention"] == _convention()


def is_overlay(path: Path) -> bool:
    """An overlay this command wrote: a PNG with our text chunk."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.format == "PNG" and im.text.get(PNG_KEY) == PNG_VALUE
    except (OSError, UnidentifiedImageError, ValueError):
        return False


def check_outputs(out: str | Path, overlay: str | Path | None) -> tuple[Path, Path | None]:
    """Refuse, before any work, outputs that are the same file or not ours to replace."""
    if overlay is not None and Path(overlay).suffix.lower() != ".png":
        raise InputError(f"--overlay {overlay}: expected a .png file name")
    outputs_distinct([out, overlay])
    out = check_output_file(out, COMMAND, is_landmarks_json)
    if overlay is not None:
        overlay = check_output_file(overlay, COMMAND, is_overlay)
    return out, Path(overlay) if overlay is not None else None


def _write_overlay(path: Path, pic: np.ndarray) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text(PNG_KEY, PNG_VALUE)
    Image.fromarray(pic).save(path, format="PNG", pnginfo=info)


def draw_mesh(img: np.ndarray, lm) -> np.ndarray:
    """The photo as 8-bit RGB with the Face Mesh drawn on it."""
    import cv2
    from mediapipe.python.solutions import face_mesh_connections as c

    from learning import facemesh as landmarks

    pic = landmarks.rgb8(img).copy()
    pts = np.round(lm.points[:, :2] * 16).astype(np.int32)  # 4 fractional bits
    for a, b in c.FACEMESH_TESSELATION:
        cv2.line(pic, tuple(pts[a]), tuple(pts[b]), (160, 160, 160), 1, cv2.LINE_AA, 4)
    for a, b in c.FACEMESH_CONTOURS | c.FACEMESH_IRISES:
        cv2.line(pic, tuple(pts[a]), tuple(pts[b]), (40, 220, 40), 1, cv2.LINE_AA, 4)
    return pic


def write_landmarks(image: str | Path, out: str | Path, overlay: str | Path | None = None):
    """Face Mesh landmarks of a photo -> JSON (and the mesh drawn over it, if asked)."""
    from learning import facemesh as landmarks
    from photometric.io import imageio

    out, overlay = check_outputs(out, overlay)
    img = imageio.read_image(image)
    try:
        lm = landmarks.detect(img)
    except InputError as exc:
        raise InputError(f"{image}: {exc}") from None
    text = json.dumps(landmarks.landmarks_doc(str(image), img.shape, lm), indent=1)
    items = [(out, lambda p: p.write_text(text))]
    if overlay is not None:
        pic = draw_mesh(img, lm)
        items.append((overlay, lambda p: _write_overlay(p, pic)))
    for path, _ in items:
        if path.parent != Path(""):
            make_dir(path.parent)
    check_outputs(out, overlay)  # still not somebody else's files after the detection
    replace_files(items)
    return lm


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
    lm = write_landmarks(args.image, args.out, args.overlay)
    extra = f" ({lm.faces_found} faces found: the largest kept)" if lm.faces_found > 1 else ""
    also = f" and {args.overlay}" if args.overlay else ""
    print(f"{len(lm.points)} landmarks -> {args.out}{also}{extra}")
    return 0
