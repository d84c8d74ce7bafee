"""Relighting speed (frames per second at 512², one core) and memory at 24 MP.

    .venv/bin/python benchmarks/relight.py                     # 512² frames, then 6000×4000
    .venv/bin/python benchmarks/relight.py --frames 500 --big 0   # frames only

Part 1, pinned to one core (numba, OpenCV and BLAS single-threaded): a simulated person's true
normals and albedo at 512², relit frame after frame into one buffer, as the operator's app
would while a light is dragged: one directional light plus ambient (the issue's target:
>= 60 frames/s), the same frame made 8-bit sRGB for the screen, and for information an SH
environment, a specular lobe, cast shadows (their per-light masks cached, as in an orbit) and
a point light. The floor is one pass that reads the same inputs and writes the output
(``albedo × n_z + photo``, numpy, in place): no relighting can touch less memory.

Part 2: a 6000×4000 capture (the same face resized up): peak memory (tracemalloc) of
relighting it, from the input arrays to the 8-bit sRGB output, against the floor of holding
the inputs and writing the output once (the same in-place pass), both in this run.
"""

from __future__ import annotations

import os
import sys

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402


def subject(size: int):
    from photometric.sim import synthetic

    s = synthetic.face(seed=1, size=size)
    photo = synthetic.capture(s)["center"]
    return s.normals.astype(np.float32), s.mask, s.albedo.astype(np.float32), photo


def upsized(size: int, width: int, height: int):
    n, m, a, p = subject(size)
    big = lambda x, f=cv2.INTER_LINEAR: cv2.resize(x, (width, height), interpolation=f)  # noqa: E731
    n = big(n)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-6)
    m = big(m.astype(np.uint8), cv2.INTER_NEAREST).astype(bool)
    n[~m] = 0
    return n, m, big(a), big(p)


def floor_pass(normals, albedo, photo, out):
    """Read every input once, write the output once: the least a relighting can do."""
    np.multiply(albedo, normals[..., 2:3], out=out)
    np.add(out, photo, out=out)


def fps(fn, frames: int) -> tuple[float, float]:
    fn()  # compile, caches
    times = []
    for _ in range(frames):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1.0 / statistics.median(times), 1000 * statistics.median(times)


def part1(size: int, frames: int) -> None:
    from photometric import response
    from photometric.lights import DirectionalLight, PointLight
    from photometric.relighting import harmonics as sh
    from photometric.relighting import relighter as relight
    from photometric.relighting.relighter import Relighter, Scene, Specular

    n, m, a, p = subject(size)
    r = Relighter(n, m, a, p)
    buf = np.empty((size, size, 3), np.float32)
    out8 = np.empty((size, size, 3), np.uint8)
    key = DirectionalLight(relight.direction(-35, 25), 1.0)
    amb = (0.1, 0.1, 0.1)
    scenes = {
        "1 directional + ambient": Scene([key], amb),
        "  + 8-bit sRGB for the screen": None,
        "SH environment (studio)": Scene(sh=sh.PRESETS["studio"]),
        "directional + specular": Scene([key], amb, specular=Specular(0.5)),
        "directional + cast shadows": Scene([key], amb, shadows=True),
        "point light (pos 400,300,600 mm)": Scene([PointLight((400.0, 300.0, 600.0), 1.0,
                                                              reference_distance=781.0)], amb),
    }
    print(f"## Relighting at {size}×{size}, one core, median of {frames} frames")
    base = scenes["1 directional + ambient"]
    floor = fps(lambda: floor_pass(n, a, p, buf), frames)
    print(f"{'floor (one pass over inputs + output)':40} {floor[0]:8.0f} frames/s "
          f"{floor[1]:7.2f} ms")
    for name, scene in scenes.items():
        if scene is None:
            f = fps(lambda: response.to_srgb8(r.render(base, buf), out8), frames)
        else:
            f = fps(lambda s=scene: r.render(s, buf), frames)
        print(f"{name:40} {f[0]:8.0f} frames/s {f[1]:7.2f} ms  ({f[1] / floor[1]:.1f}× floor)")
    t0 = time.perf_counter()
    Relighter(n, m, a, p).depth_map()
    print(f"(once per portrait: depth integration {1000 * (time.perf_counter() - t0):.0f} ms; "
          f"a light's shadow mask is cached after its first frame)")


def peak_mb(fn) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 1e6


def part2(width: int, height: int, tmp: str) -> None:
    from photometric import response
    from photometric.lights import DirectionalLight
    from photometric.relighting import relighter as relight
    from photometric.relighting.relighter import Relighter, Scene

    n, m, a, p = upsized(512, width, height)
    names = ("normals", "mask", "albedo", "photo")
    for name, arr in zip(names, (n, m, a, p), strict=True):
        np.save(os.path.join(tmp, f"{name}.npy"), arr)
    del n, m, a, p
    load = lambda: [np.load(os.path.join(tmp, f"{k}.npy")) for k in names]  # noqa: E731

    def floor() -> None:
        n, m, a, p = load()
        out = np.empty_like(a)
        floor_pass(n, a, p, out)
        np.save(os.path.join(tmp, "out.npy"), out)

    def relit() -> None:
        n, m, a, p = load()
        r = Relighter(n, m, a, p)
        frame = r.render(Scene([DirectionalLight(relight.direction(-35, 25), 1.0)],
                               (0.1, 0.1, 0.1)))
        np.save(os.path.join(tmp, "out.npy"), response.to_srgb8(frame))

    inputs = sum(os.path.getsize(os.path.join(tmp, f"{k}.npy")) for k in names) / 1e6
    t0 = time.perf_counter()
    relit()
    secs = time.perf_counter() - t0
    fl, rl = peak_mb(floor), peak_mb(relit)
    print(f"\n## {width}×{height}: inputs {inputs:.0f} MB (normals, mask, albedo, photo)")
    print(f"floor (inputs held, output written once): peak {fl:.0f} MB")
    print(f"relight to 8-bit sRGB: peak {rl:.0f} MB = {rl / fl:.2f}× floor; "
          f"{secs:.2f} s with reading and writing")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--big", type=int, default=1, help="0 skips the 6000×4000 part")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    part1(args.size, args.frames)
    if args.big:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            part2(6000, 4000, tmp)


if __name__ == "__main__":
    main()
