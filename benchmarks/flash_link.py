"""Command round trip of the flash link against a raw pyserial echo over the same kind of pty.

    .venv/bin/python benchmarks/flash_link.py [--n 2000]

* ``raw echo``: pyserial writes an ACK-sized message to a pty whose other end (a process
  doing os.read/os.write) echoes it back, and reads it: the floor of any request/reply here.
* ``client``: :class:`booth.hardware.flash.FlashController` sends STATUS to the emulator (its
  own process, ``python -m firmware_protocol.emulator``) and waits for the ACK: encode, CRC,
  COBS, seq matching and the controller's logic on top of the same pty round trip.

Prints median and p99 of each and the client's overhead over the echo.
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

from booth.hardware.flash import FlashController  # noqa: E402
from firmware_protocol import messages as m  # noqa: E402

ECHO_SERVER = """
import os, tty
master, slave = os.openpty()
tty.setraw(master); tty.setraw(slave)
print(os.ttyname(slave), flush=True)
while True:
    os.write(master, os.read(master, 4096))
"""


def serve(argv: list[str]) -> tuple[subprocess.Popen, str]:
    """Start a server process that prints its pty path first; like hardware, it has a CPU
    (and a GIL) of its own."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()

    echo, path = serve([sys.executable, "-c", ECHO_SERVER])
    frame = m.status(1).encode()
    reply_len = len(m.ack(1, m.T.STATUS, bytes(10)).encode())
    msg = frame + bytes(max(0, reply_len - len(frame)))  # echo as many bytes as an ACK
    raw = []
    with serial.Serial(path, 115200, timeout=1) as port:
        for _ in range(args.n + 50):
            t = time.perf_counter()
            port.write(msg)
            got = port.read(len(msg))
            raw.append(time.perf_counter() - t)
            assert len(got) == len(msg)
    echo.terminate()
    raw = raw[50:]

    client = []
    emu, emu_path = serve([sys.executable, "-m", "firmware_protocol.emulator"])
    with FlashController(emu_path, heartbeat=None) as fc:
        for _ in range(args.n + 50):
            t = time.perf_counter()
            fc.status()
            client.append(time.perf_counter() - t)
    emu.terminate()
    client = client[50:]

    print(f"{'':<10}{'median':>10}{'p99':>10}   ({args.n} round trips, {len(msg)}-byte echo)")
    for name, xs in (("raw echo", raw), ("client", client)):
        print(f"{name:<10}{statistics.median(xs) * 1e6:>8.0f}us{pct(xs, 0.99) * 1e6:>8.0f}us")
    ratio = statistics.median(client) / statistics.median(raw)
    print(f"client / raw echo: {ratio:.2f}× median, {pct(client, .99) / pct(raw, .99):.2f}× p99")


if __name__ == "__main__":
    main()
