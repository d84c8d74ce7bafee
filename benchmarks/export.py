"""Dataset export throughput.

    .venv/bin/python benchmarks/export.py [--captures 48] [--repeats 3] [--cli-repeats 1]
        [--size 512] [--crop 512] [--encoding points] [--compress]

Builds a session store of simulated captures (synthetic faces, 8-bit PNG photos), then
measures, per capture:

- the floor: decoding the capture's five photos plus one Face Mesh pass on the ring-flash
  photo (what no export can avoid), the median over the captures;
- the export, serially (one process: the peer) and with one worker process per core, each
  into a fresh folder, worker start-up included (the fork server's own start-up only in the
  first repeat); and its steady state (from the moment every worker has delivered its first
  sample to the last sample);
- a re-run over a finished export (everything reused: the cost of an incremental re-run);
- the same export through ``booth export`` in a fresh process, as a user runs it: Python's
  imports, the capture checksums and all start-up included.

The floor and the two exports are interleaved in each of ``--repeats`` rounds and the medians
are reported, as this machine's speed drifts by up to 2x from one minute to the next. Prints
ms per capture, the ratio to the floor and the speed-up over the serial export.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import cv2  # noqa: E402

from booth.dataset_sources import export_sources  # noqa: E402
from booth.session import SessionStore  # noqa: E402
from booth.tui.run import stderr_to  # noqa: E402
from learning import exporter as dataset_export  # noqa: E402
from learning import workers as export_workers  # noqa: E402
from photometric.render import SensorModel  # noqa: E402
from photometric.sim import synthetic  # noqa: E402


def build_store(root: Path, n: int, size: int) -> None:
    session = SessionStore(root).create_session("bench")
    cam = SensorModel(noise=0.003, bits=8)
    for i in range(n):
        subject = f"p{i:03d}"
        session.add_subject(subject, consent=True)
        w = session.begin_capture(subject)
        for ch, img in synthetic.capture(synthetic.face(i, size), camera=cam, seed=i).items():
            ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            w.add_shot(ch, f"{ch}.png", png.tobytes())
        w.commit()


def floor_ms(sources) -> float:
    """Median per capture of decoding its photos plus one landmark pass."""
    from learning.facemesh import detect
    from photometric.io import imageio

    times = []
    for s in sources:
        t = time.perf_counter()
        detect(imageio.read_capture(s.path)["center"])
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--captures", type=int, default=48)
    ap.add_argument("--size", type=int, default=512, help="photo side (pixels)")
    ap.add_argument("--crop", type=int, default=512, help="sample side (pixels)")
    ap.add_argument("--repeats", type=int, default=3, help="runs of each export (median)")
    ap.add_argument("--encoding", default="points", choices=("points", "dense", "none"))
    ap.add_argument("--compress", action="store_true", help="deflate the photo and normals")
    ap.add_argument("--cli-repeats", type=int, default=1,
                    help="runs of `booth export` in a fresh process each way (0: none)")
    args = ap.parse_args()
    cores = os.cpu_count() or 1
    n = args.captures
    with tempfile.TemporaryDirectory() as tmp, stderr_to(Path(tmp) / "bench.log"):
        root = Path(tmp) / "store"
        build_store(root, n, args.size)
        sources, _ = export_sources([root])
        settings = dataset_export.Settings(size=args.crop, encoding=args.encoding,
                                           compress=args.compress)
        export_workers.keep_freed_memory()  # as the export does: the same allocator for both
        floor_ms(sources[:2])  # warm up Face Mesh and the caches
        floors = []
        runs: dict[str, list[float]] = {"serial (peer)": [], f"{cores} workers": []}
        steady: dict[str, list[float]] = {k: [] for k in runs}
        for r in range(args.repeats):  # interleaved, so the machine's drift hits all alike
            floors.append(floor_ms(sources))
            for name, workers in [("serial (peer)", 1), (f"{cores} workers", cores)]:
                out = Path(tmp) / f"{name.split()[0]}-{r}"
                done: list[float] = []
                t = time.perf_counter()
                res = dataset_export.export(sources, out, settings, workers,
                                            lambda *_, d=done: d.append(time.perf_counter()))
                runs[name].append(time.perf_counter() - t)
                assert len(res.exported) == n, res.skipped
                # Once every worker is up: from the (workers)th result to the last.
                steady[name].append((done[-1] - done[workers - 1]) / (n - workers))
        sample_bytes = statistics.median(p.stat().st_size
                                         for p in (out / "samples").glob("*.npz"))
        t = time.perf_counter()
        res = dataset_export.export(sources, out, settings, 1)
        runs["re-run (all reused)"] = [time.perf_counter() - t]
        assert res.reused == n
        cold: dict[str, list[float]] = {"serial (peer)": [], f"{cores} workers": []}
        for r in range(args.cli_repeats):
            for name, workers in [("serial (peer)", 1), (f"{cores} workers", cores)]:
                cmd = [sys.executable, "-m", "booth", "export", str(root), "--out",
                       str(Path(tmp) / f"cli-{workers}-{r}"), "--workers", str(workers),
                       "--size", str(args.crop), "--encoding", args.encoding]
                t = time.perf_counter()
                subprocess.run(cmd + ["--compress"] * args.compress, check=True,
                               capture_output=True)
                cold[name].append(time.perf_counter() - t)
    print(f"export of {n} captures ({args.size}² photos -> {args.crop}² samples, "
          f"{args.encoding}{', compressed' if args.compress else ''}), {cores} cores, "
          f"median of {args.repeats} runs; sample file {sample_bytes / 1e6:.2f} MB")
    floor = statistics.median(floors)
    print(f"  {'floor (decode + landmarks)':<28} {floor:7.1f} ms/capture")
    serial = statistics.median(runs["serial (peer)"])
    for name, ts in runs.items():
        t = statistics.median(ts)
        ms = 1e3 * t / n
        print(f"  {name:<28} {ms:7.1f} ms/capture   {ms / floor:5.2f}× floor   "
              f"speed-up {serial / t:5.2f}×")
    serial = statistics.median(steady["serial (peer)"])
    print("  steady state (worker start-up excluded):")
    for name, ts in steady.items():
        ms = 1e3 * statistics.median(ts)
        print(f"  {'  ' + name:<28} {ms:7.1f} ms/capture   {ms / floor:5.2f}× floor   "
              f"speed-up {1e3 * serial / ms:5.2f}×")
    if args.cli_repeats:
        print(f"  `booth export` from a cold process (imports, checksums and start-up "
              f"included), median of {args.cli_repeats}:")
        serial = statistics.median(cold["serial (peer)"])
        for name, ts in cold.items():
            t = statistics.median(ts)
            print(f"  {'  ' + name:<28} {1e3 * t / n:7.1f} ms/capture   {t:7.2f} s in all   "
                  f"speed-up {serial / t:5.2f}×")


if __name__ == "__main__":
    main()
