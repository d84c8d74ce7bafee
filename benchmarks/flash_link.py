"""Command round trip of the flash link against a raw pyserial echo over the same kind of pty.

    .venv/bin/python benchmarks/flash_link.py [--n 2000] [--fires 120]

* ``raw echo``: pyserial writes an ACK-sized message to a pty whose other end (a process
  doing os.read/os.write) echoes it back, and reads it: the floor of any request/reply here.
* ``client``: :class:`booth.hardware.flashlink.FlashController` sends STATUS to the emulator (its
  own process, ``python -m firmware_protocol.emulator``) and waits for the ACK: encode, CRC,
  COBS, seq matching and the controller's logic on top of the same pty round trip.

* ``client vs canned replies``: the same client against a process that answers every frame
  at once with a prebuilt ACK: the client's own cost over the echo.

Prints median and p99 of each and the ratio of medians to the echo.

* ``FIRE under 5 % corruption``: the client (``timeout`` 50 ms, 8 ``retries``) fires the
  five flashes in turn at an emulator that bit-flips 5 % of the bytes both ways
  (``--corrupt 0.05``), paced so that each flash has recycled. Prints median, p99 and the
  worst command time (successes and clear failures alike) against the budget a command is
  allowed, retries × timeout: the timing claim ``tests/firmware_protocol/test_emulator.py``
  leaves to this benchmark (the test keeps the functional claims: clear errors, never a
  double fire).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

_here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]

import serial  # noqa: E402

from booth.hardware.flashlink import FlashController, FlashError  # noqa: E402
from firmware_protocol import messages as m  # noqa: E402

ECHO_SERVER = """
import os, tty
master, slave = os.openpty()
tty.setraw(master); tty.setraw(slave)
print(os.ttyname(slave), flush=True)
while True:
    os.write(master, os.read(master, 4096))
"""


# A controller that does nothing but answer every STATUS at once: what is left is the
# client's own cost (its frame building, CRC, COBS, seq matching).
CANNED_SERVER = """
import os, tty
from cobs import cobs
from firmware_protocol import messages as m
hello = m.HelloInfo(1, (1, 0, 0), 5).encode()
acks = {(t, seq): m.ack(seq, t, hello if t == m.T.HELLO else bytes(10)).encode()
        for t in (m.T.HELLO, m.T.STATUS, m.T.DISARM) for seq in range(256)}
master, slave = os.openpty()
tty.setraw(master); tty.setraw(slave)
print(os.ttyname(slave), flush=True)
buf = b""
while True:
    buf += os.read(master, 4096)
    *frames, buf = buf.split(b"\\0")
    for f in frames:
        if f:
            body = cobs.decode(f)
            os.write(master, acks[body[1], body[2]])
"""


def serve(argv: list[str]) -> tuple[subprocess.Popen, str]:
    """Start a server process that prints its pty path first; like hardware, it has a CPU
    (and a GIL) of its own."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def corrupted_fires(n: int, corrupt: float = 0.05, timeout: float = 0.05,
                    retries: int = 8) -> tuple[list[float], int, float]:
    """Seconds per FIRE (each a success or a FlashError), the failures, and the budget."""
    proc, path = serve([sys.executable, "-m", "firmware_protocol.emulator", "--recycle-ms",
                        "50", "--corrupt", str(corrupt), "--seed", "7"])
    try:
        fc = None
        for _ in range(20):  # the handshake itself may need a few attempts
            try:
                fc = FlashController(path, timeout=timeout, retries=retries, heartbeat=None)
                break
            except FlashError:
                continue
        if fc is None:
            raise RuntimeError("no handshake with the corrupting emulator in 20 attempts")
        for _ in range(retries):
            try:
                fc.set_value(m.Key.MAX_FIRES_PER_MINUTE, 600)
                break
            except FlashError:
                continue
        times, failed = [], 0
        for i in range(n):
            t = time.perf_counter()
            try:
                fc.fire(i % len(m.CHANNELS))
            except FlashError:
                failed += 1
            times.append(time.perf_counter() - t)
            time.sleep(0.015)  # each flash's turn comes every 75 ms or more: recycled
        fc.close()
    finally:
        proc.terminate()
        proc.wait()
    return times, failed, retries * timeout


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--fires", type=int, default=120,
                    help="FIRE commands under 5 %% byte corruption")
    args = ap.parse_args()

    servers = [serve([sys.executable, "-c", ECHO_SERVER]),
               serve([sys.executable, "-c", CANNED_SERVER]),
               serve([sys.executable, "-m", "firmware_protocol.emulator"])]
    frame = m.status(1).encode()
    reply_len = len(m.ack(1, m.T.STATUS, bytes(10)).encode())
    msg = frame + bytes(max(0, reply_len - len(frame)))  # echo as many bytes as an ACK
    rows: dict[str, list[float]] = {"raw echo": [], "client vs canned replies": [],
                                    "client vs emulator": []}
    port = serial.Serial(servers[0][1], 115200, timeout=1)
    canned = FlashController(servers[1][1], heartbeat=None)
    emulated = FlashController(servers[2][1], heartbeat=None)

    def echo() -> None:
        port.write(msg)
        if len(port.read(len(msg))) != len(msg):
            raise RuntimeError("echo lost bytes")

    trips = (("raw echo", echo), ("client vs canned replies", canned.status),
             ("client vs emulator", emulated.status))
    # Interleaved in rounds, so that all three see the same machine (it is a noisy one).
    for rnd in range(args.n // 100 + 1):
        for name, trip in trips:
            for _ in range(100):
                t = time.perf_counter()
                trip()
                if rnd:  # round 0 warms up
                    rows[name].append(time.perf_counter() - t)
    port.close()
    canned.close()
    emulated.close()
    for proc, _ in servers:
        proc.terminate()
    raw = rows["raw echo"]

    print(f"{'':<26}{'median':>10}{'p99':>10}{'× echo':>8}   ({args.n} round trips)")
    for name, xs in rows.items():
        print(f"{name:<26}{statistics.median(xs) * 1e6:>8.0f}us{pct(xs, 0.99) * 1e6:>8.0f}us"
              f"{statistics.median(xs) / statistics.median(raw):>7.2f}×")

    if args.fires > 0:
        times, failed, budget = corrupted_fires(args.fires)
        worst = max(times)
        print(f"\nFIRE under 5 % corruption ({len(times)} commands, {failed} failed clearly): "
              f"median {statistics.median(times) * 1e3:.1f} ms, "
              f"p99 {pct(times, 0.99) * 1e3:.1f} ms, worst {worst * 1e3:.1f} ms "
              f"against the budget retries × timeout = {budget * 1e3:.0f} ms "
              f"({worst / budget:.2f}× budget)")


if __name__ == "__main__":
    main()
