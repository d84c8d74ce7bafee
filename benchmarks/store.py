"""A session store under load: listing, verifying and re-exporting thousands of captures.

    .venv/bin/python benchmarks/store.py [--captures 2000] [--people 20] [--size 128]
        [--repeats 3] [--no-export] [--work DIR]

Made cheaply: ``booth simulate people PEOPLE --store`` renders a few distinct people at a small
size into a seed session, which is copied whole as session ``load`` and its captures cloned
until it holds CAPTURES (each clone a subject of its own, with a new capture id and its
``capture.yaml`` saying so: byte for byte the same photos, so every checksum holds). Then, the
page cache warm, the median of REPEATS runs of each, as a user runs them (a fresh process):

- the floors: reading every file of the session once, and reading and hashing (sha256) every
  file once: what a listing and a verification cannot go below;
- ``booth sessions list ROOT`` and ``booth sessions verify ROOT/load``;
- ``booth export ROOT`` once whole (timed once), then again with nothing new (every
  sample reused: the incremental re-run), then after 10 more captures arrive.

Prints seconds, ms per capture and each command's ratio to its floor.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

# (this folder's photometric.py would shadow the package)
_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

ROOT = Path(__file__).resolve().parent.parent
BOOTH = [sys.executable, "-m", "booth"]


def _booth(*argv: str) -> float:
    t0 = time.perf_counter()
    done = subprocess.run([*BOOTH, *argv], cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if done.returncode:
        sys.exit(f"booth {' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def _clone(seed: Path, load: Path, n: int, start: int = 0) -> None:
    """``n`` captures in ``load``, each a copy of one of ``seed``'s people under a subject of
    its own (person-load-NNNNN) and a capture id of its own."""
    from booth.session import new_capture_id

    people = sorted(p for p in (seed / "subjects").iterdir()
                    if any((p / "captures").iterdir()))
    for i in range(start, start + n):
        src = people[i % len(people)]
        [cap] = sorted((src / "captures").iterdir())[:1]
        name, cid = f"person-load-{i:05d}", new_capture_id()
        dst = load / "subjects" / name
        (dst / "captures").mkdir(parents=True)
        (dst / "subject.yaml").write_text((src / "subject.yaml").read_text()
                                          .replace(f"subject: {src.name}", f"subject: {name}"))
        shutil.copytree(cap, dst / "captures" / cid)
        meta = dst / "captures" / cid / "capture.yaml"
        meta.write_text(meta.read_text().replace(f"capture_id: {cap.name}", f"capture_id: {cid}")
                        .replace(f"subject: {src.name}", f"subject: {name}"))


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _read(paths: list[Path], hash_them: bool) -> float:
    t0 = time.perf_counter()
    for p in paths:
        data = p.read_bytes()
        if hash_them:
            hashlib.sha256(data).digest()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=2000)
    ap.add_argument("--people", type=int, default=20)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--work", default=str(ROOT / "out" / "bench-store"))
    args = ap.parse_args()
    work = Path(args.work)
    # the seed session in a store of its own, so that ROOT holds session 'load' alone
    store, seed, load = work / "store", work / "seed" / "seed", work / "store" / "load"
    if not seed.is_dir():
        print(f"rendering {args.people} people at {args.size}² ...", flush=True)
        _booth("simulate", "people", str(args.people), "--store", str(seed.parent),
               "--session", "seed", "--size", str(args.size))
    shutil.rmtree(load, ignore_errors=True)
    shutil.copytree(seed, load)
    _clone(seed, load, args.captures - args.people)
    n = sum(1 for _ in (load / "subjects").glob("*/captures/*"))
    files = _files(load)
    size = sum(p.stat().st_size for p in files)
    print(f"session 'load': {n} captures, {len(files)} files, {size / 1e6:.0f} MB "
          f"(photos {args.size}²)")
    _read(files, False)  # the page cache warm

    rows: dict[str, list[float]] = {k: [] for k in ("read", "hash", "list", "verify")}
    for _ in range(args.repeats):
        rows["read"].append(_read(files, False))
        rows["hash"].append(_read(files, True))
        rows["list"].append(_booth("sessions", "list", str(store)))
        rows["verify"].append(_booth("sessions", "verify", str(load)))
    med = {k: statistics.median(v) for k, v in rows.items()}
    start = statistics.median([_booth("--help") for _ in range(args.repeats)])
    print(f"{'what':44} {'median s':>9} {'ms/capture':>11} {'× floor':>8}")

    def row(what: str, s: float, floor: float | None) -> None:
        ratio = f"{s / floor:8.1f}" if floor else f"{'':8}"
        print(f"{what:44} {s:9.2f} {1000 * s / n:11.2f} {ratio}")

    row("floor: read every file once", med["read"], None)
    row("floor: read and sha256 every file once", med["hash"], None)
    row("python start-up (booth --help)", start, None)
    row("booth sessions list ROOT", med["list"], med["read"])
    row("booth sessions verify ROOT/load", med["verify"], med["hash"])
    if args.no_export:
        return
    ds = work / "ds"
    shutil.rmtree(ds, ignore_errors=True)
    whole = _booth("export", str(store), "--out", str(ds), "--size", "64")
    again = statistics.median([_booth("export", str(store), "--out", str(ds), "--size", "64")
                               for _ in range(args.repeats)])
    _clone(seed, load, 10, start=args.captures)
    more = _booth("export", str(store), "--out", str(ds), "--size", "64")
    row("booth export, whole (once)", whole, None)
    row("booth export again, nothing new", again, med["read"])
    row("booth export after 10 new captures", more, med["read"])


if __name__ == "__main__":
    main()
