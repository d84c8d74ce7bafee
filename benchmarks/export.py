"""Dataset export throughput.

    .venv/bin/python benchmarks/export.py [--captures 12] [--size 512] [--crop 512]

Builds a session store of simulated captures (synthetic faces, 8-bit PNG photos), then
exports it: serially (the peer), with one worker process per core, and again over the
finished export (everything reused: the cost of an incremental re-run). Prints seconds per
capture and the speed-up over serial.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import cv2  # noqa: E402

from booth import commands  # noqa: E402
from booth.session import SessionStore  # noqa: E402
from booth.tui.run import stderr_to  # noqa: E402
from learning import dataset  # noqa: E402
from photometric import synthetic  # noqa: E402
from photometric.render import Camera  # noqa: E402


def build_store(root: Path, n: int, size: int) -> None:
    session = SessionStore(root).create_session("bench")
    cam = Camera(noise=0.003, bits=8)
    for i in range(n):
        subject = f"p{i:03d}"
        session.add_subject(subject, consent=True)
        w = session.begin_capture(subject)
        for ch, img in synthetic.capture(synthetic.face(i, size), camera=cam, seed=i).items():
            ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            w.add_shot(ch, f"{ch}.png", png.tobytes())
        w.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=12)
    ap.add_argument("--size", type=int, default=512, help="photo side (pixels)")
    ap.add_argument("--crop", type=int, default=512, help="sample side (pixels)")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as tmp, stderr_to(Path(tmp) / "bench.log"):
        root = Path(tmp) / "store"
        build_store(root, args.captures, args.size)
        sources, _ = commands.export_sources([root])
        settings = dataset.Settings(size=args.crop)
        times = {}
        for name, workers in [("serial (peer)", 1), (f"{cores} workers", cores)]:
            t = time.perf_counter()
            r = dataset.export(sources, Path(tmp) / name.split()[0], settings, workers)
            times[name] = time.perf_counter() - t
            assert len(r.exported) == args.captures, r.skipped
        t = time.perf_counter()
        r = dataset.export(sources, Path(tmp) / "serial", settings, 1)
        times["re-run (all reused)"] = time.perf_counter() - t
        assert r.reused == args.captures
    print(f"export of {args.captures} captures ({args.size}² photos -> {args.crop}² samples), "
          f"{cores} cores")
    serial = times["serial (peer)"]
    for name, t in times.items():
        print(f"  {name:<22} {t:7.2f} s   {1e3 * t / args.captures:7.1f} ms/capture   "
              f"speed-up {serial / t:5.2f}×")


if __name__ == "__main__":
    main()
