"""``booth predict``'s CPU latency on a 12 MP photo with two faces, stage by stage, and the
network's share beside the peer's on the same crops: run by ``learning.py predict``.

The photo: scikit-image's astronaut and matplotlib's Grace Hopper, each scaled so that the
face is about 700 px across, side by side on a 4000 × 3000 grey background (a phone photo's
size). Timed: the whole command as a user runs it (a new process: imports, model, MediaPipe's
graphs, the photo read, faces found, both crops predicted, pasted, four files written), and
in one process after a warm-up, each stage's median over ``--repeat`` rounds. The network
alone on the same crops (two calls of batch 1 at the model's crop size) is then timed by
``_latency.py`` for our preset and, in the peer's environment, for
``segmentation_models_pytorch``'s ``Unet("resnet34")``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def two_faces(path: Path) -> None:
    """The 12 MP photo with two faces (written once)."""
    import cv2
    import matplotlib
    import numpy as np
    import skimage.data

    if path.is_file():
        return
    canvas = np.full((3000, 4000, 3), (120, 124, 130), np.uint8)
    hopper = cv2.imread(str(Path(matplotlib.get_data_path()) / "sample_data" /
                            "grace_hopper.jpg"))
    for img, x, scale in ((cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), 200, 4.0),
                          (hopper, 2100, 3.4)):
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        h, w = min(big.shape[0], 3000 - 400), min(big.shape[1], 1800)
        canvas[400:400 + h, x:x + w] = big[:h, :w]
    cv2.imwrite(str(path), canvas, [cv2.IMWRITE_JPEG_QUALITY, 92])


def stages(photo: Path, model: str | None, repeat: int) -> dict:
    import numpy as np
    import torch

    from learning import prediction as pr
    from learning.face_finder import find_faces

    p = pr.Predictor.load(pr.model_path(model))
    times: dict[str, list[float]] = {k: [] for k in ("read", "find faces", "network",
                                                      "paste", "write", "total")}
    out = Path(tempfile.mkdtemp())
    crops = []
    for r in range(repeat + 1):
        t = [time.perf_counter()]
        rgb = pr.read_portrait(photo)
        t.append(time.perf_counter())
        found = find_faces(rgb, 2)
        t.append(time.perf_counter())
        faces = [p.face(rgb, pts) for pts in found]
        t.append(time.perf_counter())
        normals, alpha = pr.paste(faces, rgb.shape[:2])
        t.append(time.perf_counter())
        pr.write_photo(out, "photo", pr.Photo(normals, alpha, faces))
        t.append(time.perf_counter())
        if r:  # the first round warms MediaPipe's graphs and oneDNN's kernels
            for k, (a, b) in zip(list(times)[:-1], zip(t, t[1:], strict=False), strict=True):
                times[k].append(b - a)
            times["total"].append(t[-1] - t[0])
        crops = faces
    assert len(crops) == 2, f"expected two faces, found {len(crops)}"
    return {"size": p.size, "threads": torch.get_num_threads(),
            "faces": [int(np.ptp(f[:, 0])) for f in found],
            "median": {k: statistics.median(v) for k, v in times.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", default=str(ROOT / "out" / "bench-predict"))
    ap.add_argument("--model", default=None, help="a run or NAME.safetensors (default: shipped)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--peer-python", default=str(ROOT / ".bench-peer" / "bin" / "python"))
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    photo = work / "two-faces-12mp.jpg"
    two_faces(photo)
    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "booth", "predict", str(photo), "--max-faces",
                        "2", "--out", str(work / "out"), "--device", "cpu",
                        *(["--model", args.model] if args.model else [])],
                       check=True, cwd=ROOT, capture_output=True)
        cli.append(time.perf_counter() - t0)
    s = stages(photo, args.model, args.repeat)
    print(f"## booth predict, 12 MP (4000×3000) photo, two faces ({s['faces'][0]} and "
          f"{s['faces'][1]} px across), CPU, {s['threads']} threads\n")
    print(f"whole command, a new process each time: median {statistics.median(cli):.2f} s "
          f"of 3 ({', '.join(f'{c:.2f}' for c in cli)})\n")
    print(f"in one process, median of {args.repeat} after a warm-up:\n")
    print("| stage | ms |\n| --- | --- |")
    for k, v in s["median"].items():
        print(f"| {k} | {1000 * v:.0f} |")
    lat = [sys.executable, str(ROOT / "benchmarks" / "_latency.py"), "--size", str(s["size"]),
           "--repeat", "10", "--threads", str(s["threads"]), "--outputs", "4"]
    ours = json.loads(subprocess.run(lat + ["--models", "small"], capture_output=True,
                                     text=True, check=True, cwd=ROOT).stdout.splitlines()[-1])
    line = f"\nthe network alone, two crops of {s['size']}² (batch 1 each), channels_last:"
    small = 2 * statistics.median(ours["times"]["small+cl"])
    print(f"{line} ours (small, torch {ours['torch']}) {1000 * small:.0f} ms")
    if Path(args.peer_python).exists():
        peer = json.loads(subprocess.run(
            [args.peer_python, *lat[1:], "--models", "smp,small"], capture_output=True,
            text=True, check=True, cwd=ROOT).stdout.splitlines()[-1])
        smp = 2 * min(statistics.median(peer["times"][k]) for k in ("smp", "smp+cl"))
        again = 2 * statistics.median(peer["times"]["small+cl"])
        print(f"peer Unet(resnet34) (torch {peer['torch']}, its faster layout) "
              f"{1000 * smp:.0f} ms; ours on that torch {1000 * again:.0f} ms: "
              f"{smp / again:.2f}x ours")
    else:
        print(f"(no peer environment at {args.peer_python}: `make bench-peer` makes it)")


if __name__ == "__main__":
    main()
