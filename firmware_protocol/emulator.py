"""The flash controller emulated on a pseudo-terminal, so the host's real pyserial path runs.

    python -m firmware_protocol.emulator [--recycle-ms 150] [--drop 0.01] [--corrupt 0.01]
        [--fired-delay-ms 20] [--withhold-fired] [--not-ready left] [--silent] [--seed 1]

prints the pty's path as its first line and serves until killed. Faults: ``--drop`` and
``--corrupt`` lose or flip that fraction of bytes in both directions; ``--fired-delay-ms``
delays FIRED events; ``--withhold-fired`` never sends them (the flash still fires);
``--not-ready`` names flashes that never recycle; ``--silent`` reads but never answers.
In-process, :class:`Emulator` also offers :meth:`Emulator.xsync` (the camera's X-sync) and
:meth:`Emulator.poll` (run the time-driven behaviour now, for a controller on a test's clock).
"""

from __future__ import annotations

import argparse
import os
import random
import select
import signal
import sys
import threading
import tty
from dataclasses import dataclass

from firmware_protocol import messages as m
from firmware_protocol.codec import Frame, FrameReader
from firmware_protocol.controller import Controller


@dataclass
class Faults:
    drop: float = 0.0
    corrupt: float = 0.0
    fired_delay_ms: float = 0.0
    withhold_fired: bool = False
    silent: bool = False


class Emulator:
    """Serves a :class:`Controller` on a pty from a background thread."""

    def __init__(self, controller: Controller | None = None, faults: Faults | None = None,
                 seed: int | None = None):
        self.controller = controller or Controller()
        self.faults = faults or Faults()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self._reader = FrameReader()
        self._delayed: list[tuple[float, bytes]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.master = self.slave = -1
        self.path = ""

    def start(self) -> str:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        self.path = os.ttyname(self.slave)
        self._thread = threading.Thread(target=self._serve, name="flash-emulator", daemon=True)
        self._thread.start()
        return self.path

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def xsync(self) -> None:
        """The camera's X-sync pulse."""
        with self.lock:
            self._send(self.controller.xsync())

    def poll(self) -> None:
        """Run the time-driven behaviour now, as the serving loop does every few ms: the
        controller's :meth:`~Controller.poll` (READY, heartbeat loss) and the release of
        delayed FIRED events. With an injected clock, a test advances it and calls this to
        know the controller has seen the new time when it returns."""
        with self.lock:
            self._tick()

    # -- the serving loop -----------------------------------------------------------------
    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.master], [], [], 0.002)
            data = b""
            if ready:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
            with self.lock:
                if data:
                    for item in self._reader.feed(self._noisy(data)):
                        self._send(self.controller.receive(item))
                self._tick()

    def _tick(self) -> None:
        self._send(self.controller.poll())
        self._flush_delayed()

    def _noisy(self, data: bytes) -> bytes:
        f = self.faults
        if not (f.drop or f.corrupt):
            return data
        out = bytearray()
        for b in data:
            r = self.rng.random()
            if r < f.drop:
                continue
            if r < f.drop + f.corrupt:
                b ^= 1 << self.rng.randrange(8)
            out.append(b)
        return bytes(out)

    def _send(self, frames: list[Frame]) -> None:
        if self.faults.silent:
            return
        now = self.controller.clock()  # delays run on the controller's clock, as on the MCU
        for frame in frames:
            wire = frame.encode()
            if frame.type == m.T.FIRED:
                if self.faults.withhold_fired:
                    continue
                if self.faults.fired_delay_ms:
                    self._delayed.append((now + self.faults.fired_delay_ms / 1e3, wire))
                    continue
            self._write(self._noisy(wire))

    def _flush_delayed(self) -> None:
        now = self.controller.clock()
        due = [w for t, w in self._delayed if t <= now]
        self._delayed = [(t, w) for t, w in self._delayed if t > now]
        for wire in due:
            self._write(self._noisy(wire))

    def _write(self, data: bytes) -> None:
        try:
            os.write(self.master, data)
        except OSError:
            pass  # nobody listening; a real UART drops bytes too


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware_protocol.emulator",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--recycle-ms", type=int, default=150)
    ap.add_argument("--drop", type=float, default=0.0, help="fraction of bytes lost")
    ap.add_argument("--corrupt", type=float, default=0.0, help="fraction of bytes bit-flipped")
    ap.add_argument("--fired-delay-ms", type=float, default=0.0)
    ap.add_argument("--withhold-fired", action="store_true")
    ap.add_argument("--not-ready", action="append", default=[], choices=m.CHANNELS)
    ap.add_argument("--silent", action="store_true", help="never answer")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args(argv)
    controller = Controller(recycle_ms=args.recycle_ms,
                            not_ready=frozenset(m.CHANNELS.index(c) for c in args.not_ready))
    faults = Faults(args.drop, args.corrupt, args.fired_delay_ms, args.withhold_fired,
                    args.silent)
    emu = Emulator(controller, faults, args.seed)
    print(emu.start(), flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
