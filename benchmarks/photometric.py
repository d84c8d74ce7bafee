"""Speed and memory of photometric stereo against the memory floor and the usual lstsq code.

    .venv/bin/python benchmarks/photometric.py            # 512×512 and 6000×4000
    .venv/bin/python benchmarks/photometric.py --sizes 512x512 --repeat 21
    .venv/bin/python benchmarks/photometric.py --no-files --no-raw   # photometric stereo only

Runs pinned to one core with single-threaded BLAS (the RAW capture below excepted). For
each size, a five-image uint8 colour capture (a simulated face, resized up for 24 MP) is
timed through:

* ``floor``: one copy of the input images, the least any method must spend touching them;
* ``lstsq``: what public photometric-stereo code does: grey float images stacked as (5, N),
  one ``np.linalg.lstsq`` over all pixels, then normalisation (grey conversion not timed);
* ``simplified`` and ``lambertian``: this project's methods, from the uint8 colour images to
  normals, colour albedo, mask, confidence, lights used and flags.

Prints medians (and minimums), the ratio of medians to the floor and to lstsq, and the peak
memory each allocates as a multiple of the input's bytes: the larger of tracemalloc's peak
and the growth of the process's resident high-water mark (``VmHWM``, reset through
``/proc/self/clear_refs``), each in a run of its own. tracemalloc sees numpy's allocations
only, not photometric stereo's outputs, which are anonymous mappings on huge pages; the
resident mark sees everything but misses memory the allocator reuses (small sizes).

Then, per size, the I/O edge where pixels become linear (``--files``, on by default): one
camera file as the simulated camera writes it (a 14-bit DNG, an sRGB JPEG at quality 95)
read from disk and made linear, against the floor of reading that file's bytes once:

* ``read file``: ``Path.read_bytes`` (page cache warm), the floor;
* ``RAW decode``: :func:`photometric.io.imageio.read_raw` to linear 16-bit RGB: LibRaw
  unpacks the mosaic, :mod:`photometric.io.demosaic` scales, demosaics and converts it
  (``camerafile.DEMOSAIC``), one thread;
* ``RAW dec. AHD``: the same file as it was decoded before: LibRaw's whole pipeline with
  AHD demosaicing (``demosaic="AHD"``);
* ``JPEG decode``: :func:`photometric.io.imageio.read_image` (libjpeg-turbo via OpenCV);
* ``JPEG linear``: that, then :func:`photometric.response.linearize` to 16-bit linear.

Then (``--raw``, on by default) a five-shot RAW capture at the largest size, five DNGs as the
simulated camera writes them, made linear by ``imageio._load_raw`` (what ``load_capture``
does with a RAW capture) on every core the machine lends this process, not one: as before
(LibRaw with AHD, one shot after another) and as now (``camerafile.DEMOSAIC``, the shots
side by side on threads), medians of ``--raw-repeat`` loads before and three times as many
now, taken in rounds, in the same run. And the normals' accuracy on a simulated RAW
capture (a simulated person at 512², rendered linear with the radiometry tests' sensor
noise, and without noise) decoded both ways: the mean angular error of both methods where
all flashes light the face, against the truth.
"""

from __future__ import annotations

import os
import sys

# This file is named like the package it measures: keep its folder off the import path.
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"
ALL_CORES = os.sched_getaffinity(0) if hasattr(os, "sched_setaffinity") else None
if ALL_CORES:
    os.sched_setaffinity(0, {sorted(ALL_CORES)[0]})

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
    return interleaved_ms({"": fn}, {"": repeat})[""]


def interleaved_ms(fns: dict, repeats: dict) -> dict[str, tuple[float, float]]:
    """(median, min) per function over its ``repeats`` runs, after one warm-up each, taken
    in rounds (one run of each per round, while it has runs left), so that the machine's
    drifts during the run (other jobs on a shared machine, memory bandwidth) reach every
    function alike instead of the ones timed while they last: timed one after the other, a
    24 MP floor measured 224 ms in one run against 55-60 ms in others on the same machine."""
    for fn in fns.values():
        fn()
    times = {name: [] for name in fns}
    for r in range(max(repeats.values())):
        for name, fn in fns.items():
            if r < repeats[name]:
                t = time.perf_counter()
                out = fn()
                times[name].append(time.perf_counter() - t)
                del out
    return {name: (1e3 * statistics.median(t), 1e3 * min(t)) for name, t in times.items()}


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


def peak_mb(fn) -> float:
    """What ``fn`` allocates at its peak, in MB: the larger of tracemalloc's peak (numpy's
    allocations, exact even where the allocator reuses freed memory, as at 512²) and the
    growth of the resident high-water mark (everything, the outputs' own mappings included,
    which tracemalloc does not see), each in a run of its own."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    traced = (tracemalloc.get_traced_memory()[1] - base) / 2**20
    tracemalloc.stop()
    del out
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # VmHWM := VmRSS
        base = _status_mb("VmRSS")
        out = fn()
        resident = _status_mb("VmHWM") - base
        del out
    except (OSError, KeyError):
        resident = 0.0
    return max(traced, resident)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="512x512,6000x4000")
    ap.add_argument("--repeat", type=int, default=0, help="timed runs (default: by size)")
    ap.add_argument("--no-files", dest="files", action="store_false",
                    help="skip the camera-file decoding benchmark")
    ap.add_argument("--no-raw", dest="raw", action="store_false",
                    help="skip the five-shot RAW capture and the RAW accuracy check")
    ap.add_argument("--raw-repeat", type=int, default=3,
                    help="timed five-shot RAW loads as before (three times as many now)")
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
    if args.raw:
        w, h = max((tuple(int(v) for v in s.lower().split("x")) for s in args.sizes.split(",")),
                   key=lambda s: s[0] * s[1])
        bench_raw_capture(w, h, args.raw_repeat)
        raw_accuracy()


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
    ms = interleaved_ms(runs, {name: repeat if name != "lstsq" else min(repeat, 3)
                               for name in runs})
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
            (dng, {"RAW decode": lambda: imageio.read_raw(dng),
                   "RAW dec. AHD": lambda: imageio.read_raw(dng, demosaic="AHD")}),
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



def _write_raw_capture(folder, shots: dict[str, np.ndarray]) -> dict:
    """The shots (linear float) as the simulated camera's DNGs; their paths per channel."""
    from photometric.io import camerafile

    paths = {}
    for name, img in shots.items():
        paths[name] = folder / f"{name}.dng"
        paths[name].write_bytes(camerafile.encode_dng(img))
    return paths


#: A capture read as it was before: LibRaw with AHD, one shot after another.
BEFORE = {"workers": 1, "demosaic": "AHD"}


def bench_raw_capture(w: int, h: int, repeat: int) -> None:
    """A five-shot RAW capture made linear, before and now, on all the machine's cores."""
    import tempfile
    from pathlib import Path

    from photometric.io import camerafile, imageio

    shots = {k: v.astype(np.float32) / 255.0 for k, v in make_capture(w, h).items()}
    with tempfile.TemporaryDirectory() as tmp:
        paths = _write_raw_capture(Path(tmp), shots)
        del shots
        mb = sum(p.stat().st_size for p in paths.values()) / 2**20
        if ALL_CORES:
            os.sched_setaffinity(0, ALL_CORES)
        try:
            cores = len(os.sched_getaffinity(0)) if ALL_CORES else os.cpu_count()
            runs = {f"before: AHD, {BEFORE['workers']} thread":
                    lambda: imageio._load_raw(paths, **BEFORE),
                    f"now: {camerafile.DEMOSAIC}, {min(cores, 5)} threads":
                    lambda: imageio._load_raw(paths)}
            # Three loads now to one before: they are quick, and their median then
            # rides out more of a shared machine's drifts.
            ms = interleaved_ms(runs, dict(zip(runs, (repeat, 3 * repeat), strict=True)))
        finally:
            if ALL_CORES:
                os.sched_setaffinity(0, {sorted(ALL_CORES)[0]})
    first = next(iter(ms.values()))[0]
    print(f"\nfive-shot RAW capture made linear ({w}x{h}, {len(paths)} DNGs, {mb:.0f} MB, "
          f"{cores} cores):")
    print(f"{'':>10} {'path':<26}{'median':>11}{'min':>11}{'× before':>10}")
    for name, (med, low) in ms.items():
        print(f"{'':>10} {name:<26}{med / 1e3:>10.2f}s{low / 1e3:>10.2f}s{med / first:>9.2f}×")


def raw_accuracy(size: int = 512) -> None:
    """Normals from a simulated person's DNG capture decoded before and now: mean angular
    error against the truth where all flashes light the skin."""
    import tempfile
    from pathlib import Path

    from photometric.io import imageio

    face = synthetic.face(0, size)
    rig = synthetic.SIM_RIG
    # The skin (face and neck): hair and cloth are not what a demosaic comparison is about.
    where = face.mask & np.isin(face.parts, (1, 3, 6, 9))
    for c in CHANNELS:
        where &= face.normals @ rig.direction(c) > 0.1
        for light in synthetic.Booth(rig).lights(c):
            seen = face.lit(light)
            if seen is not None:
                where &= seen
    print(f"\nnormals from a simulated RAW capture ({size}², a simulated person), mean error "
          f"where all flashes light the skin ({where.sum()} px):")
    print(f"{'':>10} {'sensor noise':<14}{'method':<12}{'before':>9}{'now':>9}{'now-before':>12}")
    for noise in (0.002, 0.0):
        shots = synthetic.capture(face, synthetic.Booth(), synthetic.metered(
            face, camera=SensorModel(noise=noise, bits=None)), seed=2)
        with tempfile.TemporaryDirectory() as tmp:
            paths = _write_raw_capture(Path(tmp), shots)
            loaded = {"before": imageio._load_raw(paths, **BEFORE),
                      "now": imageio._load_raw(paths)}
        for method in stereo.METHODS:
            err = {}
            for name, cap in loaded.items():
                res = stereo.solve(cap.images, method, rig=rig, white_level=cap.white_level)
                sel = where & res.mask
                err[name] = float(stereo.angular_error(res.normals, face.normals)[sel].mean())
            print(f"{'':>10} {noise:<14g}{method:<12}{err['before']:>8.3f}°{err['now']:>8.3f}°"
                  f"{err['now'] - err['before']:>+11.3f}°")


if __name__ == "__main__":
    main()
