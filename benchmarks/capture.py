"""Capture sequence timing on the simulated booth.

    .venv/bin/python benchmarks/capture.py [--size 512] [--runs 10]
        [--image-format jpeg|raw|raw+jpeg]

1. Software overhead: a five-shot sequence with zero simulated latency (camera and flash
   recycle as fast as the simulation goes); the whole sequence is overhead.
2. Realistic latencies: camera 250 ms per shot, flash recycle 150 ms; prints total sequence
   time over the sum of the simulated hardware latencies (5 × 250 ms: each flash fires once,
   so recycling never blocks a shot).
Medians over ``--runs`` captures, each into a fresh session store on the same disk. The
simulated camera saves ``--image-format`` (default jpeg): a RAW-only shot is verified from a
half-size LibRaw decode, a RAW+JPEG pair is two downloads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

from booth.hardware.flashlink import FlashController  # noqa: E402
from booth.hardware.simulated import CameraFaults, SimulatedBooth  # noqa: E402
from booth.sequencer import CaptureConfig, CaptureSequencer  # noqa: E402
from booth.session import SessionStore  # noqa: E402


def sequences(size: int, runs: int, camera_ms: float, recycle_ms: int,
              image_format: str = "jpeg") -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as root, SimulatedBooth(
            size=size, recycle_ms=recycle_ms, image_format=image_format,
            camera_faults=CameraFaults(latency_ms=camera_ms)) as sim:
        session = SessionStore(root).create_session("bench")
        session.add_subject("p1", consent=True)
        with FlashController(sim.flash_port) as flash:
            seq = CaptureSequencer(flash, sim.camera, session, CaptureConfig())
            seq.run("p1")  # warm-up: camera connection, first-touch costs
            for _ in range(runs):
                time.sleep(recycle_ms / 1e3)  # start each capture with recycled flashes
                t = time.perf_counter()
                result = seq.run("p1")
                times.append(time.perf_counter() - t)
                assert result.status == "complete", result.reason
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--image-format", choices=("jpeg", "raw", "raw+jpeg"), default="jpeg")
    args = ap.parse_args()
    fast = sequences(args.size, args.runs, 0.0, 50, args.image_format)
    print(f"{args.size}×{args.size} {args.image_format}, five shots, zero simulated latency: "
          "median "
          f"{statistics.median(fast) * 1e3:.1f} ms overhead per sequence "
          f"(min {min(fast) * 1e3:.1f}, max {max(fast) * 1e3:.1f})")
    slow = sequences(args.size, max(3, args.runs // 3), 250.0, 150, args.image_format)
    hardware = 5 * 0.250
    med = statistics.median(slow)
    print(f"camera 250 ms, recycle 150 ms: median {med * 1e3:.0f} ms per sequence, "
          f"{med / hardware:.3f}× the {hardware * 1e3:.0f} ms of simulated hardware latency")


if __name__ == "__main__":
    main()
