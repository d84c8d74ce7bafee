"""Speed and memory of photometric stereo against the memory floor and the usual lstsq code.

    .venv/bin/python benchmarks/photometric.py            # 512×512 and 6000×4000
    .venv/bin/python benchmarks/photometric.py --sizes 512x512 --repeat 21

Runs pinned to one core with single-threaded BLAS. For each size, a five-image uint8 colour
capture (a simulated face, resized up for 24 MP) is timed through:

* ``floor``: one copy of the input images, the least any method must spend touching them;
* ``lstsq``: what public photometric-stereo code does: grey float images stacked as (5, N),
  one ``np.linalg.lstsq`` over all pixels, then normalisation (grey conversion not timed);
* ``simplified`` and ``lambertian``: this project's methods, from the uint8 colour images to
  normals, colour albedo, mask, confidence, lights used and flags.

Prints medians (and minimums), the ratio of medians to the floor and to lstsq, and the peak
memory each allocates (tracemalloc, a separate run) as a multiple of the input's bytes.

Then, per size, the I/O edge where pixels become linear (``--files``, on by default): one
camera file as the simulated camera writes it (a 14-bit DNG, an sRGB JPEG at quality 95)
read from disk and made linear, against the floor of reading that file's bytes once:

* ``read file``: ``Path.read_bytes`` (page cache warm), the floor;
* ``RAW decode``: :func:`photometric.io.imageio.read_raw`, LibRaw's unpacking and the
  default demosaic (:mod:`photometric.io.demosaic` for a plain Bayer mosaic) to linear
  16-bit RGB, one thread;
* ``JPEG decode``: :func:`photometric.io.imageio.read_image` (libjpeg-turbo via OpenCV);
* ``JPEG linear``: that, then :func:`photometric.response.linearize` to 16-bit linear.

Last, a five-shot RAW capture made linear on every core the machine gives (as a capture's
normals wait for it), the default decode against LibRaw's AHD one shot after another.
"""

from __future__ import annotations

import os
import sys

# This file is named like the package it measures: keep its folder off the import path.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from photometric import calibration as calib  # noqa: E402
from photometric import stereo  # noqa: E402
from photometric.lights import CHANNELS  # noqa: E402
from photometric.render import SensorModel  # noqa: E402
from photometric.sim import synthetic  # noqa: E402

cv2.setNumThreads(1)


def make_capture(width: int, height: int) -> dict[str, np.ndarray]:
    side = 512
    shots = synthetic.capture(synthetic.face(0, side), camera=SensorModel(noise=0.005, bits=8),
                              ambient=False, seed=1)
    if (width, height) == (side, side):
        return shots
    return {k: cv2.resize(v, (width, height), interpolation=cv2.INTER_LINEAR)
            for k, v in shots.items()}


def lstsq_reference(grey: np.ndarray, lights: np.ndarray):
    """The textbook solve: G = argmin ||L G - I|| for all pixels at once."""
    g, *_ = np.linalg.lstsq(lights, grey, rcond=None)
    rho = np.linalg.norm(g, axis=0)
    normals = g / np.maximum(rho, 1e-12)
    return normals, rho


def times_ms(fn, repeat: int) -> tuple[float, float]:
    """(median, min) over ``repeat`` runs after one warm-up (JIT, caches)."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times), 1e3 * min(times)


def peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    del out
    return peak / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="512x512,6000x4000")
    ap.add_argument("--repeat", type=int, default=0, help="timed runs (default: by size)")
    ap.add_argument("--no-files", dest="files", action="store_false",
                    help="skip the camera-file decoding benchmark")
    args = ap.parse_args()

    cal = calib.calibrate(synthetic.capture(synthetic.sphere(512)))
    print(f"one core (pid affinity {sorted(os.sched_getaffinity(0))}), numpy {np.__version__}")
    header = (f"{'size':>10} {'method':<11}{'median':>11}{'min':>11}{'× floor':>9}"
              f"{'× lstsq':>9}{'peak MB':>9}{'× input':>9}")
    print(header)
    for spec in args.sizes.split(","):
        w, h = (int(v) for v in spec.lower().split("x"))
        bench_size(w, h, args.repeat, cal)
    if args.files:
        print(f"\n{'size':>10} {'step':<13}{'median':>11}{'min':>11}{'× read':>9}"
              f"{'file MB':>9}")
        for spec in args.sizes.split(","):
            w, h = (int(v) for v in spec.lower().split("x"))
            bench_files(w, h, args.repeat)
        print(f"\n{'size':>10} {'five RAW shots, linear':<36}{'median':>11}{'min':>11}"
              f"{'× today':>9}")
        for spec in args.sizes.split(","):
            w, h = (int(v) for v in spec.lower().split("x"))
            bench_raw_capture(w, h, args.repeat)


def bench_size(w: int, h: int, repeat: int, cal) -> None:
    images = make_capture(w, h)
    in_bytes = sum(v.nbytes for v in images.values())
    repeat = repeat or (21 if w * h <= 1 << 20 else 5)
    luma = (stereo.LUMA / stereo.LUMA.sum()).astype(np.float32)
    grey = np.stack([(images[c].astype(np.float32) / 255.0 @ luma).ravel() for c in CHANNELS])
    lights = cal.rig.scaled(CHANNELS)
    runs = {
        "floor": lambda: [v.copy() for v in images.values()],
        "lstsq": lambda: lstsq_reference(grey, lights),
        "simplified": lambda: stereo.simplified(images, cal.simplified),
        "lambertian": lambda: stereo.lambertian(images, cal.rig),
    }
    ms = {name: times_ms(fn, repeat if name != "lstsq" else min(repeat, 3))
          for name, fn in runs.items()}
    for name, fn in runs.items():
        mem = peak_mb(fn)
        med, low = ms[name]
        print(f"{w}x{h:<5} {name:<11}{med:>9.1f}ms{low:>9.1f}ms{med / ms['floor'][0]:>8.2f}×"
              f"{med / ms['lstsq'][0]:>8.2f}×{mem:>9.0f}{mem * 2**20 / in_bytes:>8.2f}×")
    print(f"{'':>10} input: {in_bytes / 2**20:.0f} MB (5 × {w}×{h} RGB uint8)")


def bench_files(w: int, h: int, repeat: int) -> None:
    """Decoding a camera's RAW and linearising its JPEG, against reading the file once."""
    import tempfile
    from pathlib import Path

    from photometric.io import camerafile, imageio
    from photometric.response import linearize

    linear = make_capture(w, h)["left"].astype(np.float32) / 255.0
    repeat = repeat or (11 if w * h <= 1 << 20 else 3)
    with tempfile.TemporaryDirectory() as tmp:
        dng, jpg = Path(tmp) / "left.dng", Path(tmp) / "left.jpg"
        dng.write_bytes(camerafile.encode_dng(linear))
        jpg.write_bytes(camerafile.encode_jpeg(linear))
        del linear
        for path, steps in (
            (dng, {"RAW decode": lambda: imageio.read_raw(dng)}),
            (jpg, {"JPEG decode": lambda: imageio.read_image(jpg),
                   "JPEG linear": lambda: linearize(imageio.read_image(jpg))}),
        ):
            floor = times_ms(path.read_bytes, repeat)
            mb = path.stat().st_size / 2**20
            print(f"{w}x{h:<5} {'read ' + path.suffix[1:]:<13}{floor[0]:>9.1f}ms"
                  f"{floor[1]:>9.1f}ms{1.0:>8.2f}×{mb:>9.1f}")
            for name, fn in steps.items():
                med, low = times_ms(fn, repeat)
                print(f"{w}x{h:<5} {name:<13}{med:>9.1f}ms{low:>9.1f}ms"
                      f"{med / floor[0]:>8.2f}×{mb:>9.1f}")



def bench_raw_capture(w: int, h: int, repeat: int) -> None:
    """A five-shot RAW capture made linear (``imageio.load_capture``'s RAW path) on every core
    this machine gives us, as a capture's normals wait for it: the default (our numba
    demosaic, the shots side by side) against LibRaw's AHD one shot after another, as the
    booth decoded before, in the same run."""
    import tempfile
    from pathlib import Path

    from photometric.io import camerafile, imageio

    pinned = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    if pinned is not None:
        os.sched_setaffinity(0, range(os.cpu_count() or 1))
    repeat = repeat or (11 if w * h <= 1 << 20 else 3)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = {}
            for c, img in make_capture(w, h).items():
                paths[c] = Path(tmp) / f"{c}.dng"
                paths[c].write_bytes(camerafile.encode_dng(img.astype(np.float32) / 255.0))
            runs = {
                "AHD, one shot after another": lambda: imageio._load_raw(
                    paths, workers=1, demosaic="AHD"),
                f"default ({camerafile.DEMOSAIC}, side by side)": lambda: imageio._load_raw(
                    paths),
            }
            ms = {name: times_ms(fn, repeat) for name, fn in runs.items()}
            today = ms["AHD, one shot after another"][0]
            cores = len(os.sched_getaffinity(0)) if pinned is not None else "?"
            for name, (med, low) in ms.items():
                print(f"{w}x{h:<5} {name:<36}{med:>9.1f}ms{low:>9.1f}ms{med / today:>8.2f}×"
                      f"  ({cores} cores)")
    finally:
        if pinned is not None:
            os.sched_setaffinity(0, pinned)


if __name__ == "__main__":
    main()
