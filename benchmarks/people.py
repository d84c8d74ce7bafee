"""The simulated people: speed, whether Face Mesh sees them, and how varied they are.

    .venv/bin/python benchmarks/people.py                  # 512², 15 people, then 200 people
    .venv/bin/python benchmarks/people.py --people 0       # skip the population run
    .venv/bin/python benchmarks/people.py --cold           # also time a first model build

Part 1 runs pinned to one core with single-threaded BLAS, torch and OpenCV. Per person
(ids 1..N, a different person each time, the first one's timing discarded as warm-up):

* ``person``: who they are, their skin texture painted and their hair grown (once a person);
* ``mesh``: anny's forward pass for one sitting (shape, expression, pose), the cloth, and
  the hair, glasses, teeth, beard and lashes carried by the pose;
* ``rasterise``: the camera's view: normals, depth, positions, albedo, parts per pixel;
* ``5 photos``: the five flash photos, each flash's shadow map included;
* ``render``: mesh + rasterise + 5 photos, a sitting's five photos (target <= 400 ms at
  512²), against the same person without hair, clothes, glasses, teeth, beard or lashes
  (the bare body, what the booth rendered before they had any) and the floor of shading the
  five photos with no shadows;
* ``portrait``: the same sitting in portrait light, rasterised for its own camera and
  photographed (environment, key light and its shadow map, background, finish, JPEG).

Part 2 loads the body model from its cache in a fresh process (and, with ``--cold``, builds
it from nothing in a temporary cache: about two minutes). Part 3 runs ``booth simulate people
N --workers W --lighting L`` for both lights (default 200 on 2 workers) and Face Mesh over
the pictures, with the misses by pose; prints the population's diversity (skin tones as the
individual typology angle of the skin in the photos, hair styles, the spread of the aligned
Face Mesh landmarks) beside the same numbers on the real portraits installed packages ship
(scikit-image's astronaut, matplotlib's Grace Hopper); and writes
``benchmarks/out/people_sheet.png``: 48 portrait-light people beside those real portraits.
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

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"


def _ms(xs: list[float]) -> str:
    return f"median {1000 * statistics.median(xs):7.1f} ms  (min {1000 * min(xs):6.1f})"


def per_person(size: int, count: int) -> None:
    import cv2
    import torch

    from photometric.render import shade
    from photometric.sim import people, portrait, sitter, synthetic

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    people.template()
    keys = ("person", "mesh", "rasterise", "5 photos", "render", "bare body", "floor",
            "portrait")
    times: dict[str, list[float]] = {k: [] for k in keys}
    booth = synthetic.Booth()
    for pid in range(count + 1):
        t0 = time.perf_counter()
        booth_rec, portrait_rec = sitter.choose(pid, 0, "booth"), sitter.choose(pid, 0,
                                                                              "portrait")
        who = people.person(pid)
        garment = synthetic.person_garment(pid)
        style = synthetic.grown_hair(pid)[0]
        texture, grown, rest = sitter._person_assets(who, style)
        beard = synthetic.beard_of(pid)
        t1 = time.perf_counter()
        body = people.mesh(who, people.Sitting(**{k: tuple(v) if isinstance(v, list) else v
                                                  for k, v in booth_rec["sitting"].items()}))
        dressed = synthetic.dress(body, garment)
        from photometric.sim import hair

        worn = None if grown is None else (hair.follow(grown, rest, body.head), style)
        spectacles = synthetic.worn_glasses(synthetic.glasses_of(pid), body)
        teeth = synthetic.person_teeth(who, rest, body)
        whiskers = synthetic.worn_beard(beard, body)
        lashes = synthetic.person_lashes(who, rest, body)
        t2 = time.perf_counter()
        surface = synthetic.render_mesh(dressed, texture, size, 0.0, garment, worn,
                                        glasses=spectacles, teeth=teeth, beard=whiskers,
                                        lashes=lashes)
        t3 = time.perf_counter()
        synthetic.capture(surface, booth)
        t4 = time.perf_counter()
        bare = synthetic.render_mesh(body, texture, size, 0.0)
        synthetic.capture(bare, booth)
        t5 = time.perf_counter()
        surface.occluder = None  # the floor: the same five photos without shadows
        for c in ("center", "left", "right", "top", "bottom"):
            shade(surface, booth.lights(c))
        t6 = time.perf_counter()
        made = sitter.render(portrait_rec, size)
        assert made.jpeg and portrait.BACKDROPS
        t7 = time.perf_counter()
        if pid == 0:
            continue  # compiles and first calls
        for k, v in (("person", t1 - t0), ("mesh", t2 - t1), ("rasterise", t3 - t2),
                     ("5 photos", t4 - t3), ("render", t4 - t1), ("bare body", t5 - t4),
                     ("floor", t6 - t5), ("portrait", t7 - t6)):
            times[k].append(v)
    print(f"one person at {size}² on one core, {count} people:")
    for k, v in times.items():
        extra = ""
        if k == "render":
            med = statistics.median(v)
            extra = (f"   {med / 0.400:.2f}× the 400 ms budget, "
                     f"{med / statistics.median(times['bare body']):.2f}× the bare body, "
                     f"{med / statistics.median(times['floor']):.1f}× the floor")
        print(f"  {k:10s} {_ms(v)}{extra}")
    print("  (bare body: the same sitting without hair or clothes, rasterised and its five "
          "photos; floor: shading the five photos of the surface, no shadows)")


def model_load(cold: bool) -> None:
    code = ("import time; t = time.perf_counter(); from photometric.sim import people; "
            "people.template(); print(f'{time.perf_counter() - t:.1f}')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    print(f"body model from its cache, fresh process (torch import included): "
          f"{out.stdout.strip()} s")
    if cold:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BOOTH_PEOPLE_CACHE": tmp}
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                 check=True, cwd=ROOT, env=env)
        print(f"body model built from nothing (first use on a machine): {out.stdout.strip()} s")


def _aligned(points: np.ndarray) -> np.ndarray:
    """Face Mesh landmarks (x, y) moved, turned and scaled so the eyes' centres lie at
    (-1, 0) and (1, 0): shape, not pose in the picture."""
    left, right = points[468, :2], points[473, :2]  # the irises
    mid, d = (left + right) / 2, right - left
    scale = np.linalg.norm(d) / 2
    c, s = d / np.linalg.norm(d)
    rot = np.array([[c, s], [-s, c]])
    return (points[:, :2] - mid) @ rot.T / scale


def _ita(rgb8: np.ndarray, where: np.ndarray) -> float:
    """The individual typology angle (degrees) of the median skin colour: atan((L - 50) / b)
    in CIELAB; > 55 very light, 41-55 light, 28-41 intermediate, 10-28 tan, -30-10 brown,
    < -30 dark (Chardon et al. 1991)."""
    import cv2

    lab = cv2.cvtColor(rgb8, cv2.COLOR_RGB2LAB).astype(np.float64)
    px = lab[where]
    L, b = np.median(px[:, 0]) * 100 / 255, np.median(px[:, 2]) - 128
    return float(np.degrees(np.arctan2(L - 50, b)))


ITA_BANDS = ((55, 90, "very light"), (41, 55, "light"), (28, 41, "intermediate"),
             (10, 28, "tan"), (-30, 10, "brown"), (-90, -30, "dark"))


def real_portraits() -> dict[str, np.ndarray]:
    """The public-domain portraits installed packages ship (RGB uint8)."""
    import cv2
    import matplotlib
    import skimage.data

    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return {"astronaut (scikit-image)": skimage.data.astronaut(),
            "Grace Hopper (matplotlib)": cv2.cvtColor(cv2.imread(str(hopper)),
                                                      cv2.COLOR_BGR2RGB)}


def _face_skin(rgb: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """The cheeks, from the landmarks alone (for photos with no parts map): discs around
    the midpoints between the face's edge at the cheekbones and the mouth's corners."""
    import cv2

    mask = np.zeros(rgb.shape[:2], np.uint8)
    for a, b in ((234, 61), (454, 291)):
        c = (pts[a, :2] + pts[b, :2]) / 2
        r = int(max(2, np.linalg.norm(pts[a, :2] - pts[b, :2]) / 5))
        cv2.circle(mask, (int(c[0]), int(c[1])), r, 1, -1)
    return mask == 1


def population(count: int, workers: int, size: int) -> None:
    import cv2
    import yaml

    from learning.facemesh import NoFaceError, detect
    from photometric.io import imageio

    OUT.mkdir(parents=True, exist_ok=True)
    booth_cmd = Path(sys.executable).parent / "booth"
    stats: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for lighting in ("booth", "portrait"):
            out = Path(tmp) / lighting
            t = time.perf_counter()
            subprocess.run([str(booth_cmd), "simulate", "people", str(count), "--out",
                            str(out), "--workers", str(workers), "--size", str(size),
                            "--format", "jpeg", "--lighting", lighting], check=True, cwd=ROOT)
            took = time.perf_counter() - t
            print(f"booth simulate people {count} --lighting {lighting} --workers {workers} "
                  f"--size {size}: {took:.1f} s, {1000 * took / count:.0f} ms a person "
                  f"(10,000 people: {10_000 * took / count / 3600:.1f} h)")
            found, misses, itas, shapes, styles = 0, [], [], [], []
            for folder in sorted(out.glob("person-*")):
                rec = yaml.safe_load((folder / "person.yaml").read_text())
                styles.append(rec["hair"]["style"])
                name = "portrait.jpg" if lighting == "portrait" else "center.jpg"
                img = imageio.read_image(folder / name)
                parts = cv2.imread(str(folder / "truth" / "parts.png"), cv2.IMREAD_UNCHANGED)
                if (parts == 1).sum() > 200:
                    itas.append(_ita(img, parts == 1))
                try:
                    pts = detect(img).points
                    found += 1
                    shapes.append(_aligned(pts))
                except NoFaceError:
                    s = rec["sitting"]
                    misses.append(f"{folder.name} (yaw {s['yaw']:+.0f}°, pitch "
                                  f"{s['pitch']:+.0f}°, roll {s['roll']:+.0f}°, hair "
                                  f"{rec['hair']['style']})")
            print(f"  Face Mesh found the face of {found}/{count} people "
                  f"({100 * found / count:.1f} %)")
            for m in misses:
                print(f"    missed: {m}")
            stats[lighting] = {"ita": itas, "shapes": shapes, "styles": styles}
            if lighting == "portrait":
                _sheet(out, min(48, count))
    _diversity(stats)


def _diversity(stats: dict[str, dict]) -> None:
    """The diversity statistics, simulated against real."""
    from learning.facemesh import detect

    real = real_portraits()
    real_ita, real_shapes = [], []
    for img in real.values():
        pts = detect(img).points
        real_ita.append(_ita(img, _face_skin(img, pts)))
        real_shapes.append(_aligned(pts))
    print("\ndiversity (simulated people against the real portraits installed packages ship):")
    for lighting, s in stats.items():
        ita = np.array(s["ita"])
        bands = ", ".join(f"{name} {np.mean((ita >= lo) & (ita < hi)):.0%}"
                          for lo, hi, name in ITA_BANDS)
        iqr = np.subtract(*np.percentile(ita, [75, 25]))
        print(f"  {lighting}: skin tone (ITA of the skin in the photo) median "
              f"{np.median(ita):.0f}°, spread (IQR) {iqr:.0f}°: {bands}")
        shapes = np.array(s["shapes"])
        spread = float(np.sqrt(((shapes - shapes.mean(0)) ** 2).sum(-1)).mean())
        print(f"  {lighting}: landmark spread after alignment (mean distance to the mean "
              f"face, in half eye-distances) {spread:.3f}")
        names, counts = np.unique(s["styles"], return_counts=True)
        print(f"  {lighting}: hair styles " + ", ".join(
            f"{n} {c / len(s['styles']):.0%}" for n, c in zip(names, counts, strict=True)))
    ita_txt = ", ".join(f"{k} {v:.0f}°" for k, v in zip(real, real_ita, strict=True))
    spread = float(np.linalg.norm(real_shapes[0] - real_shapes[1], axis=-1).mean() / 2)
    print(f"  real: skin tone (ITA) {ita_txt}; landmark spread of the two {spread:.3f}")


def _sheet(folder: Path, count: int) -> None:
    """48 portrait-light people in a grid, beside the real portraits."""
    import cv2

    from photometric.io import imageio

    cell = 128
    imgs = [imageio.read_image(f / "portrait.jpg") for f in sorted(folder.glob("person-*"))]
    imgs = [cv2.resize(i, (cell, cell), interpolation=cv2.INTER_AREA) for i in imgs[:count]]
    cols = 8
    rows = -(-len(imgs) // cols)
    grid = np.full((rows * cell, cols * cell, 3), 20, np.uint8)
    for k, img in enumerate(imgs):
        r, c = (k // cols) * cell, (k % cols) * cell
        grid[r:r + cell, c:c + cell] = img
    real = [cv2.resize(r, (2 * cell, 2 * cell), interpolation=cv2.INTER_AREA)
            for r in real_portraits().values()]
    side = np.full((rows * cell, 2 * cell + 8, 3), 20, np.uint8)
    for k, r in enumerate(real[: rows // 2]):
        side[k * 2 * cell:(k + 1) * 2 * cell, 8:] = r
    sheet = np.hstack([grid, side])
    path = OUT / "people_sheet.png"
    imageio.write_image(path, sheet)
    print(f"  wrote {path}: {len(imgs)} portrait-light people, the real portraits at right")


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
