"""Models on real portraits, where no measured normals exist: run by ``learning.py real``.

The photos are the real portraits Python packages ship: scikit-image's astronaut (Eileen
Collins, NASA), matplotlib's Grace Hopper, scikit-image's cameraman (grey, small, looking
down), and the astronaut mirrored (a model should not care). Each model predicts each photo
as ``booth predict`` does; the face is scored by :mod:`learning.shape_check` against Face
Mesh's own 3D mesh (an independent coarse estimate), beside a flat map and an ellipsoid.
The table is printed, and ``real.png`` shows per photo (cropped to the sitter, as the person
framing crops): the photo, the mesh's normals, then per model its normal map over the whole
person and the photo relit by a key light from the left (albedo from the photo divided by its
fitted light) — the picture nobody needs to believe a number for. ``masks.png`` shows, per
photo and per model with a mask output, the crop the network sees kept where the network's own
mask says "person", where MediaPipe's selfie segmentation does, and where both do (what
``booth predict`` pastes): real photos have no true masks, so this is looked at, not scored.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def photos() -> dict:
    import cv2
    import matplotlib
    import numpy as np
    import skimage.data

    hopper = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" /
                            "grace_hopper.jpg"))
    astronaut = skimage.data.astronaut()
    return {"astronaut": astronaut, "Grace Hopper": cv2.cvtColor(hopper, cv2.COLOR_BGR2RGB),
            "cameraman": np.repeat(skimage.data.camera()[..., None], 3, axis=2),
            "astronaut mirrored": np.ascontiguousarray(astronaut[:, ::-1])}


def relit(rgb, normals, mask, skin, mm):
    import numpy as np

    from photometric import response
    from photometric.lights import DirectionalLight
    from photometric.relighting import relighter as rl

    photo = response.srgb_decode(rgb.astype(np.float32) / 255.0).astype(np.float32)
    albedo, _ = rl.portrait_albedo(photo, normals, mask, skin=skin)
    r = rl.Relighter(normals, mask, albedo, photo, mm_per_pixel=mm)
    scene = rl.Scene([DirectionalLight(rl.direction(-50, 25), 1.0)], (0.08,) * 3)
    return response.to_srgb8(r.render(scene))


def mask_sheet(models: dict, faces: list, out: Path) -> None:
    """``out/masks.png``: per photo (``faces``: its RGB and landmarks), per model with a mask
    output: crop, network, segmentation, both (each shown as the crop where that mask holds,
    the rest dark)."""
    import cv2
    import numpy as np
    import torch

    from learning.face_finder import segment

    rows = []
    for rgb, lm in faces:
        for p in models.values():
            if p.model.outputs < 4:
                continue
            _, image, pred = p.network(rgb, lm)
            rgb8 = np.rint(image * 255).astype(np.uint8)
            masks = [np.ones(rgb8.shape[:2]), torch.sigmoid(pred[3]).numpy(), segment(rgb8)]
            masks.append(np.minimum(masks[1], masks[2]))
            rows.append(np.hstack([np.where(m[..., None] > 0.5, rgb8, rgb8 // 6 + 30)
                                   for m in masks]).astype(np.uint8))
    (out / "masks.png").unlink(missing_ok=True)
    if not rows:
        return
    sheet = np.vstack(rows)
    band = np.full((28, sheet.shape[1], 3), 40, np.uint8)
    tile = sheet.shape[1] // 4
    for i, text in enumerate(("crop", "network's mask", "selfie segmentation", "both")):
        cv2.putText(band, text, (i * tile + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
    cv2.imwrite(str(out / "masks.png"), cv2.cvtColor(np.vstack([band, sheet]),
                                                     cv2.COLOR_RGB2BGR))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=["portrait", "booth"],
                    help="shipped model names, run folders or NAME.safetensors")
    ap.add_argument("--out", default=str(ROOT / "out" / "bench-real"))
    ap.add_argument("--json", default=None, help="also write the table here (a list of rows)")
    args = ap.parse_args()

    import json

    import cv2
    import numpy as np

    from learning import preprocess, shape_check
    from learning.face_finder import find_faces
    from learning.prediction import Predictor, model_path
    from photometric.errors import InputError
    from photometric.io import normalmap
    from photometric.relighting.relighter import head_scale

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # a run folder is named by its folder, a shipped model by its name
    models = {(Path(m).name if Path(m).exists() else m): Predictor.load(model_path(m))
              for m in args.models}
    tile = 320
    rows, table, faces = [], [], []
    for name, rgb in photos().items():
        lm = find_faces(rgb)[0]
        faces.append((rgb, lm))
        mesh, covered = shape_check.mesh_normals(lm, rgb.shape[:2])
        crop = preprocess.face_crop(lm, tile, "person")  # the sitter, large

        def fit(img, crop=crop):
            return np.clip(np.rint(crop.image(img)), 0, 255).astype(np.uint8)

        cells = [fit(rgb), fit(normalmap.preview8(mesh, covered))]
        line = {"photo": name}
        for m, p in models.items():
            photo = p.photo(rgb)
            try:
                s = shape_check.score(photo.normals, photo.mask, lm)
                line[m] = s.prediction
                line["flat"], line["ellipsoid"] = s.flat, s.ellipsoid
            except ValueError:  # its mask misses the face (a barely trained run): no score
                line[m] = float("nan")
            mm = head_scale(np.ptp(lm[:, 0]))  # as booth relight --predict scales it
            try:
                lit = fit(relit(rgb, photo.normals, photo.mask, photo.ovals(), mm))
            except InputError:  # a barely trained run's mask can be too small to fit a light
                lit = np.full((tile, tile, 3), 40, np.uint8)
                cv2.putText(lit, "cannot relight", (8, tile // 2), cv2.FONT_HERSHEY_SIMPLEX,
                            0.5, (255, 255, 255), 1, cv2.LINE_AA)
            cells += [fit(normalmap.preview8(photo.normals, photo.mask)), lit]
        line.setdefault("flat", float("nan"))
        line.setdefault("ellipsoid", float("nan"))
        table.append(line)
        rows.append(np.concatenate(cells, axis=1))
    sheet = np.concatenate(rows, axis=0)
    labels = ["photo", "Face Mesh's mesh"] + [f"{m}: {what}" for m in models
                                              for what in ("normals", "relit, key left")]
    band = np.full((28, sheet.shape[1], 3), 40, np.uint8)
    for i, text in enumerate(labels):
        cv2.putText(band, text, (i * tile + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (255, 255, 255), 1, cv2.LINE_AA)
    cv2.imwrite(str(out / "real.png"), cv2.cvtColor(np.vstack([band, sheet]),
                                                    cv2.COLOR_RGB2BGR))
    cols = [*models, "flat", "ellipsoid"]
    print("## Real portraits: mean angle (°) to Face Mesh's 3D mesh over the face oval, both "
          "smoothed to the mesh's scale (lower is better; the true normals of simulated people "
          "score 11-18° on this check)\n")
    print("| photo | " + " | ".join(cols) + " |\n|" + " --- |" * (len(cols) + 1))
    for line in table:
        print(f"| {line['photo']} | " + " | ".join(f"{line[c]:.1f}" for c in cols) + " |")
    mean = {c: float(np.mean([t[c] for t in table])) for c in cols}
    print("| mean | " + " | ".join(f"{mean[c]:.1f}" for c in cols) + " |")
    mask_sheet(models, faces, out)
    print(f"\npicture: {out / 'real.png'}" + (f"; masks: {out / 'masks.png'}"
                                              if (out / "masks.png").exists() else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
