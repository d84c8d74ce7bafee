"""Speed of the simulated people: one person's five photos, the head model, a population.

    .venv/bin/python benchmarks/people.py                  # 512², 15 people, then 200 people
    .venv/bin/python benchmarks/people.py --people 0       # skip the population run
    .venv/bin/python benchmarks/people.py --cold           # also time a first model build

Part 1 runs pinned to one core with single-threaded BLAS, torch and OpenCV. Per person
(ids 1..N, a different person each time, the first one's timing discarded as warm-up):

* ``person``: who they are (phenotype, local changes) and their skin texture painted;
* ``mesh``: anny's forward pass for one sitting (shape, expression, pose);
* ``rasterise``: the camera's view: normals, depth, positions, albedo per pixel;
* ``5 photos``: the five flash photos, each flash's shadow map included;
* ``render``: mesh + rasterise + 5 photos, the issue's "five photos rendered" (target
  <= 250 ms at 512²), against the floor of shading the five photos with no shadows.

Part 2 loads the head model from its cache in a fresh process (and, with ``--cold``, builds
it from nothing in a temporary cache: about a minute). Part 3 runs ``booth simulate people
N --workers W`` (default 200 on 2 workers) and Face Mesh over the people it wrote.
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
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _ms(xs: list[float]) -> str:
    return f"median {1000 * statistics.median(xs):7.1f} ms  (min {1000 * min(xs):6.1f})"


def per_person(size: int, count: int) -> None:
    import cv2
    import torch

    from photometric.render import shade
    from photometric.sim import people, synthetic

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    people.template()
    times: dict[str, list[float]] = {k: [] for k in
                                     ("person", "mesh", "rasterise", "5 photos", "render",
                                      "floor")}
    booth = synthetic.Booth()
    for pid in range(count + 1):
        t0 = time.perf_counter()
        who = people.person(pid)
        texture = synthetic.person_texture(pid)
        t1 = time.perf_counter()
        head = people.mesh(who, people.sitting(who, 0))
        t2 = time.perf_counter()
        surface = synthetic.render_mesh(head, texture, size, 0.0)
        t3 = time.perf_counter()
        synthetic.capture(surface, booth)
        t4 = time.perf_counter()
        surface.occluder = None  # the floor: the same five photos without shadows
        for c in ("center", "left", "right", "top", "bottom"):
            shade(surface, booth.lights(c))
        t5 = time.perf_counter()
        if pid == 0:
            continue  # compiles and first calls
        for k, v in (("person", t1 - t0), ("mesh", t2 - t1), ("rasterise", t3 - t2),
                     ("5 photos", t4 - t3), ("render", t4 - t1), ("floor", t5 - t4)):
            times[k].append(v)
    print(f"one person at {size}² on one core, {count} people:")
    for k, v in times.items():
        extra = ""
        if k == "render":
            extra = (f"   {statistics.median(v) / 0.250:.2f}× the 250 ms budget, "
                     f"{statistics.median(v) / statistics.median(times['floor']):.1f}× the "
                     "floor")
        print(f"  {k:10s} {_ms(v)}{extra}")
    print("  (floor: shading the five photos of the same surface, no shadows)")


def model_load(cold: bool) -> None:
    code = ("import time; t = time.perf_counter(); from photometric import people; "
            "people.template(); print(f'{time.perf_counter() - t:.1f}')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    print(f"head model from its cache, fresh process (torch import included): "
          f"{out.stdout.strip()} s")
    if cold:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BOOTH_PEOPLE_CACHE": tmp}
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True, cwd=ROOT, env=env)
        print(f"head model built from nothing (first use on a machine): {out.stdout.strip()} s")


def population(count: int, workers: int, size: int) -> None:
    from learning.facemesh import NoFaceError, detect
    from photometric.io import imageio

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "people"
        booth = Path(sys.executable).parent / "booth"
        t = time.perf_counter()
        subprocess.run([str(booth), "simulate", "people", str(count), "--out", str(out),
                        "--workers", str(workers), "--size", str(size), "--format", "jpeg"],
                       check=True, cwd=ROOT)
        took = time.perf_counter() - t
        print(f"booth simulate people {count} --workers {workers} --size {size} --format jpeg: "
              f"{took:.1f} s, {1000 * took / count:.0f} ms a person")
        found = 0
        for folder in sorted(out.glob("person-*")):
            img = imageio.read_image(folder / "center.jpg")
            try:
                detect(img)
                found += 1
            except NoFaceError:
                print(f"  no face found: {folder.name}")
        print(f"Face Mesh found the face of {found}/{count} people "
              f"({100 * found / count:.1f} %) in their ring-flash JPEG")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--count", type=int, default=15, help="people timed one by one")
    p.add_argument("--people", type=int, default=200, help="population size (0: skip)")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cold", action="store_true", help="also time a first model build")
    a = p.parse_args()
    if a.people:
        population(a.people, a.workers, a.size)  # first: part 1 pins this process to a core
    model_load(a.cold)
    per_person(a.size, a.count)


if __name__ == "__main__":
    main()
