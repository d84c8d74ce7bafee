"""How fast the operator's app answers a key while the booth works.

    .venv/bin/python benchmarks/tui.py [--parts capture,export,training,relight]
                                       [--size 512] [--captures 5] [--keys 20]

capture, export, training: keys while that work runs, against the same screen idle (the peer,
measured in the same run). relight: from an arrow key to the relit picture redrawn (the light
moved, the small copy rendered, the picture widget updated), and its idle key for reference.
Goals: a key within 100 ms median and 250 ms p95 during an export and a training; a relight
key redrawn within 100 ms median.

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


def _people(root: str, copies: int = 4) -> list[str]:
    """12 simulated portraits (256 px) in ``copies`` folders: an export of 48 captures."""
    import shutil

    from booth.cli import main as booth

    first = os.path.join(root, "people-0")
    assert booth(["simulate", "people", "12", "--lighting", "portrait", "--size", "256",
                  "--out", first, "--workers", "2"]) == 0
    for k in range(1, copies):
        shutil.copytree(first, os.path.join(root, f"people-{k}"))
    return [os.path.join(root, f"people-{k}") for k in range(copies)]


async def measure_jobs(keys: int) -> dict[str, list[float]]:
    """Keys on the dataset screen during an export and on the training screen during a
    training, each against the same screen idle."""
    from booth import jobs
    from booth.cli import main as booth

    out: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as root:
        stores = _people(root)
        small = os.path.join(root, "work", "datasets", "small")
        assert booth(["export", *stores[:1], "--out", small, "--size", "128",
                      "--workers", "2"]) == 0
        app = BoothApp(sessions=os.path.join(root, "sessions"), image_mode="cells",
                       poll_s=1.0, work=os.path.join(root, "work"), sim=SimOptions(size=128))
        async with app.run_test(size=(150, 50)) as pilot:
            await script.until(pilot, lambda: app.station is not None, what="the booth")
            await pilot.press("e")
            screen = app.screen
            out["export idle (peer)"] = await script.key_latencies(pilot, screen, "ctrl+r",
                                                                   "reload", keys)
            screen.query_one("#stores").value = " ".join(stores)
            screen.query_one("#size").value = "256"
            screen.start_export()
            busy: list[float] = []
            while screen.job.state() == "running" or not busy:
                busy += await script.key_latencies(pilot, screen, "ctrl+r", "reload", 5)
            out["during an export"] = busy
            await pilot.press("escape", "t")
            screen = app.screen
            out["training idle (peer)"] = await script.key_latencies(pilot, screen, "ctrl+r",
                                                                     "refresh", keys)
            screen.query_one("#train-dataset").value = small
            screen.query_one("#train-epochs").value = "50"
            screen.start_training()
            job = jobs.job(app.work, "train-run1")
            await script.until(pilot, lambda: any(e["event"] == "step" for e in job.events()),
                               timeout=120, what="the first training step")
            out["during a training"] = await script.key_latencies(pilot, screen, "ctrl+r",
                                                                  "refresh", keys * 2)
            job.stop()
            await app.action_quit()
    return out


async def measure_relight(keys: int) -> dict[str, list[float]]:
    """From an arrow key to the relit picture redrawn, on a 512 px simulated capture."""
    from booth.tui.screens.relight import RelightScreen

    with tempfile.TemporaryDirectory() as root:
        app = BoothApp(sessions=root, image_mode="cells", poll_s=1.0,
                       work=os.path.join(root, "work"), sim=SimOptions(size=512))
        async with app.run_test(size=(150, 50)) as pilot:
            await script.open_session(pilot, "bench")
            await script.add_subject(pilot, "p1")
            await script.capture(pilot)
            capture = next(iter(app.store.session("bench").captures())).path
            app.show_relight(str(capture))
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, RelightScreen)
            await script.until(pilot, lambda: screen.frame is not None, what="the portrait")
            moves = []
            for key in ("left", "right"):
                moves += await script.key_latencies(pilot, screen, key, "move", keys // 2,
                                                    done=True)
            await app.action_quit()
    return {"relight key to redraw": moves,
            "render alone": [ms / 1e3 for ms in screen.render_ms[1:]]}


def p95(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.95 * len(xs)))]


def describe(name: str, xs: list[float]) -> str:
    return (f"{name:<22} n={len(xs):<4} median {statistics.median(xs) * 1e3:6.2f} ms   "
            f"p95 {p95(xs) * 1e3:6.2f} ms   max {max(xs) * 1e3:6.2f} ms")


def ratio(busy: list[float], idle: list[float], what: str) -> str:
    return (f"{what} / idle peer: median {statistics.median(busy) / statistics.median(idle):.2f}×"
            f"   p95 {p95(busy) / p95(idle):.2f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--parts", default="capture,export,training,relight")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--captures", type=int, default=5)
    ap.add_argument("--keys", type=int, default=20)
    args = ap.parse_args()
    parts = args.parts.split(",")
    with stderr_to(os.path.join(tempfile.gettempdir(), "booth-bench-tui.log")):
        if "capture" in parts:
            busy, idle = asyncio.run(measure(args.size, args.captures, args.keys))
            print(f"key to action in the operator's app, {args.size}×{args.size} simulated "
                  "captures")
            print(describe("during a capture", busy))
            print(describe("idle (peer)", idle))
            print(ratio(busy, idle, "during a capture"))
        if "export" in parts or "training" in parts:
            got = asyncio.run(measure_jobs(args.keys))
            print("key to action while a job runs in its own process (export of 48 portraits "
                  "at 256 px on 2 workers; training the small preset at 128 px)")
            for name, xs in got.items():
                print(describe(name, xs))
            print(ratio(got["during an export"], got["export idle (peer)"], "during an export"))
            print(ratio(got["during a training"], got["training idle (peer)"],
                        "during a training"))
        if "relight" in parts:
            got = asyncio.run(measure_relight(args.keys))
            print("relight screen, 512 px capture, half-cell preview")
            for name, xs in got.items():
                print(describe(name, xs))


if __name__ == "__main__":
    main()
