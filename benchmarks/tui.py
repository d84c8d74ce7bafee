"""How fast the operator's app answers a key while the booth works.

    .venv/bin/python benchmarks/tui.py [--size 512] [--captures 5] [--keys 20]

The app runs headless on the simulated booth (camera 250 ms per shot, so a capture lasts
about 1.5 s plus the normal map and QC, all in worker threads). Keys are sent through the
app's driver, as from a terminal, and timed from sending to the key's action running:
1. while captures run (shots, downloads, checksums, the normal map and Face Mesh QC all
   competing for the interpreter), and
2. the peer: the same app idle on its session screen.
Prints median, p95 and max of each and their ratio to the idle peer (median and p95).
This is the timing half of ``tests/booth/tui/test_errors.py``'s responsiveness test, which
only checks that a key is handled while a capture runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

from booth.hardware.simulated import CameraFaults  # noqa: E402
from booth.station import SimOptions  # noqa: E402
from booth.tui import script  # noqa: E402
from booth.tui.app import BoothApp  # noqa: E402
from booth.tui.run import stderr_to  # noqa: E402
from booth.tui.widgets.log import LogPanel  # noqa: E402


async def measure(size: int, captures: int, keys: int) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as root:
        app = BoothApp(sessions=root, image_mode="cells", poll_s=1.0,
                       sim=SimOptions(size=size, camera_faults=CameraFaults(latency_ms=250)))
        busy, idle = [], []
        async with app.run_test(size=(130, 44)) as pilot:
            await script.open_session(pilot, "bench")
            await script.add_subject(pilot, "p1")
            for _ in range(captures):
                idle += await script.key_latencies(pilot, app.screen, "l", "toggle_log", keys)
                await pilot.press("c")
                screen = app.screen
                await script.until(pilot, lambda s=screen: s.query_one("#shots").done >= 1,
                                   what="the first shot")
                busy += await script.key_latencies(pilot, screen, "l", "toggle_log", keys,
                                                   while_running=True)
                await script.until(pilot, lambda s=screen: s.finished is not None,
                                   timeout=120, what="the capture")
                await pilot.press("escape")
                assert app.screen.query(LogPanel)
            await app.action_quit()
    return busy, idle


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.95 * len(xs)))]


def describe(name: str, xs: list[float]) -> str:
    return (f"{name:<22} n={len(xs):<4} median {statistics.median(xs) * 1e3:6.2f} ms   "
            f"p95 {p95(xs) * 1e3:6.2f} ms   max {max(xs) * 1e3:6.2f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--captures", type=int, default=5)
    ap.add_argument("--keys", type=int, default=20)
    args = ap.parse_args()
    with stderr_to(os.path.join(tempfile.gettempdir(), "booth-bench-tui.log")):
        busy, idle = asyncio.run(measure(args.size, args.captures, args.keys))
    print(f"key to action in the operator's app, {args.size}×{args.size} simulated captures")
    print(describe("during a capture", busy))
    print(describe("idle (peer)", idle))
    print(f"during a capture / idle peer: median "
          f"{statistics.median(busy) / statistics.median(idle):.2f}×   "
          f"p95 {p95(busy) / p95(idle):.2f}×")


if __name__ == "__main__":
    main()
