"""The flash controller's real firmware, run in the simavr AVR emulator, its UART on a pty.

    python -m firmware_protocol.simavr [--elf FILE | --hex FILE] [--free] [--drop F]
        [--corrupt F] [--seed N] [--no-reset-on-open] [-v]

builds the firmware and the harness when needed (``make``), prints the pty's path as its first
line, exactly as :mod:`firmware_protocol.emulator` does, and serves until stopped (Ctrl-C,
SIGTERM). ``booth flash hello --port PATH`` then talks to the compiled firmware. Lines typed on
its stdin: ``xsync`` pulses the camera's X-sync, ``reset`` resets the AVR.

The harness (``firmware/sim/flash_sim.c``, linked against libsimavr) runs the AVR paced to the
wall clock, so the firmware's recycle interval and heartbeat watchdog behave as on the board
(``--free``: as fast as the host allows). Opening the pty resets the AVR, as an Uno's DTR
does. It reports every edge of the flash outputs (PB0..PB4), the LED (PB5) and X-sync (PD2)
with its AVR cycle, so :class:`FirmwareSim` knows which flash fired, when, and for how long.
Needs libsimavr2 and avr-gcc: ``sh firmware_protocol/firmware/sim/install-simavr.sh``.
"""

from __future__ import annotations

import argparse
import ctypes.util
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from firmware_protocol import messages as m

FIRMWARE_DIR = Path(__file__).resolve().parent / "firmware"
SIM_DIR = FIRMWARE_DIR / "sim"
HARNESS = SIM_DIR / "build" / "flash-sim"
ELF = FIRMWARE_DIR / "build" / "flash.elf"
INSTALL = SIM_DIR / "install-simavr.sh"
#: The flash outputs, in channel order (PROTOCOL.md, "The board").
FLASH_PINS = ("PB0", "PB1", "PB2", "PB3", "PB4")
LED_PIN = "PB5"
XSYNC_PIN = "PD2"
#: The firmware's flash trigger pulse (main_avr.c: ``_delay_us(20)``).
PULSE_US = 20.0


class SimavrError(RuntimeError):
    """The harness could not be built or started, or stopped answering."""


@dataclass(frozen=True)
class Edge:
    """A pin changed level at an AVR cycle (cycles count from the harness's start)."""

    pin: str
    level: int
    cycle: int


@dataclass(frozen=True)
class Pulse:
    """One flash trigger pulse: rising and falling edge of a flash output, in AVR cycles."""

    channel: int
    start: int
    end: int
    frequency: int

    @property
    def width_us(self) -> float:
        return (self.end - self.start) * 1e6 / self.frequency

    @property
    def t(self) -> float:
        """When it fired, seconds of AVR time since the harness started."""
        return self.start / self.frequency


def missing(firmware: bool = True) -> str | None:
    """Why the firmware cannot run in simavr on this machine, or None when it can. What is
    built already is not built again, so only what building the rest needs is checked;
    ``firmware``: the default firmware ELF is wanted (not one given by the caller)."""
    fix = "run `sh firmware_protocol/firmware/sim/install-simavr.sh`"
    if ctypes.util.find_library("simavr") is None:
        return f"simavr is not installed (libsimavr.so.2, Debian's libsimavr2): {fix}"
    source = SIM_DIR / "flash_sim.c"
    if not HARNESS.exists() or HARNESS.stat().st_mtime < source.stat().st_mtime:
        headers = [SIM_DIR / "build/simavr-dev/usr/include/simavr/sim_avr.h",
                   Path("/usr/include/simavr/sim_avr.h")]
        if not any(h.exists() for h in headers):
            return f"simavr's headers (from libsimavr-dev) are missing: {fix}"
        if shutil.which("make") is None or shutil.which("cc") is None:
            return f"make and a C compiler are needed to build the simavr harness: {fix}"
    if firmware and not ELF.exists() and shutil.which("avr-gcc") is None:
        return f"avr-gcc is needed to build the firmware: {fix}"
    return None


_build_lock = threading.Lock()


def build(firmware: bool = True) -> Path:
    """``make`` the harness (and, with ``firmware``, the firmware's ELF); returns the harness.
    Serialised across processes by a lock file, so parallel test runs do not race."""
    reason = missing(firmware)
    if reason is not None:
        raise SimavrError(reason)
    targets = ["all"] if firmware else ["build/flash-sim"]
    lock_path = SIM_DIR / "build" / ".make.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock, open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        proc = subprocess.run(["make", "-s", "-C", str(SIM_DIR), *targets],
                              capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise SimavrError(f"building the firmware in simavr failed:\n{proc.stderr}{proc.stdout}")
    return HARNESS


class FirmwareSim:
    """The compiled firmware in simavr behind a pty, shaped like
    :class:`~firmware_protocol.emulator.Emulator`: :meth:`start` returns the pty's path
    (also :attr:`path`), :meth:`xsync` is the camera's X-sync, :meth:`stop` ends it.

    ``speed`` 1 paces the AVR to the wall clock; 0 runs it free (as fast as it goes, some 5×
    real time: the firmware's clock then outruns the host's, and its heartbeat watchdog
    trips that much sooner). ``frequency`` must be the F_CPU the firmware was built for.
    Opening the pty resets the AVR unless ``reset_on_open`` is false. ``drop``/``corrupt``
    lose or bit-flip that fraction of the bytes on the wire, both ways.

    ``on_fire(channel)`` is called, from a reader thread, when a flash output rises;
    :meth:`xsync` returns after it has been called for the flash the X-sync fired.
    :attr:`edges` and :attr:`pulses` keep everything seen; call :meth:`sync` first to be
    sure events up to now have arrived (the pty's bytes and the harness's reports travel
    apart).
    """

    def __init__(self, elf: str | os.PathLike | None = None, *,
                 hex: str | os.PathLike | None = None, speed: float = 1.0,
                 reset_on_open: bool = True, drop: float = 0.0, corrupt: float = 0.0,
                 seed: int | None = None, on_fire: Callable[[int], None] | None = None,
                 on_pulse: Callable[[Pulse], None] | None = None,
                 mcu: str = "atmega328p", frequency: int = 16_000_000):
        if elf is not None and hex is not None:
            raise ValueError("give the firmware as an ELF or as a HEX file, not both")
        self.elf, self.hex = elf, hex
        self.speed = speed
        self.reset_on_open = reset_on_open
        self.drop, self.corrupt, self.seed = drop, corrupt, seed
        self.on_fire = on_fire
        self.on_pulse = on_pulse
        self.mcu = mcu
        self.frequency = frequency
        self.path = ""
        self.edges: list[Edge] = []
        self.pulses: list[Pulse] = []
        self.resets = 0  # resets seen (commands, opens of the pty, signals)
        self.opens = 0  # times a client opened the pty
        self._rising: dict[int, int] = {}
        self._levels: dict[str, int] = {}
        self._proc: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._stderr: deque[str] = deque(maxlen=40)
        self._cond = threading.Condition()
        self._cmd_lock = threading.Lock()
        self._expect: str | None = None
        self._answer: list[str] | None = None
        self._xsync_start: int | None = None
        self._eof = False

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> str:
        harness = build(firmware=self.elf is None and self.hex is None)
        args = [str(harness), "--mcu", self.mcu, "--freq", str(self.frequency),
                "--speed", repr(float(self.speed))]
        if self.hex is not None:
            args += ["--hex", str(self.hex)]
        else:
            args += ["--elf", str(self.elf if self.elf is not None else ELF)]
        if not self.reset_on_open:
            args.append("--no-reset-on-open")
        if self.drop:
            args += ["--drop", repr(float(self.drop))]
        if self.corrupt:
            args += ["--corrupt", repr(float(self.corrupt))]
        if self.seed is not None:
            args += ["--seed", str(self.seed)]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, bufsize=1)
        threading.Thread(target=self._drain_stderr, name="flash-sim-stderr",
                         daemon=True).start()
        first = self._proc.stdout.readline().split()
        second = self._proc.stdout.readline().split()
        if first[:1] != ["sim"] or len(first) < 3 or second[:1] != ["pty"]:
            proc, self._proc = self._proc, None
            proc.kill()
            proc.wait(timeout=5)
            raise SimavrError("the simavr harness did not start: " + self._stderr_text())
        self.frequency = int(first[2])
        self.path = second[1]
        self._reader = threading.Thread(target=self._read, name="flash-sim", daemon=True)
        self._reader.start()
        return self.path

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.write("quit\n")
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=3)
        if self._reader is not None:
            self._reader.join(timeout=3)
        proc.stdout.close()

    def __enter__(self) -> FirmwareSim:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the board's other wires ----------------------------------------------------------
    def xsync(self, low_us: float = 10.0, window_us: float = 100.0,
              timeout: float = 5.0) -> int | None:
        """The camera's X-sync: PD2 shorted to ground for ``low_us`` of AVR time. Returns
        the channel whose flash rose within ``window_us`` of the falling edge (the firmware
        must fire within 10 µs and pulses 20 µs), or None; its ``on_fire`` has run by then."""
        done = int(self._request(f"xsync {low_us:g} {window_us:g}", "xsync done",
                                 timeout)[2])
        start = self._xsync_start
        with self._cond:
            fired = [e for e in self.edges if start is not None and start <= e.cycle <= done
                     and e.level == 1 and e.pin in FLASH_PINS]
        return FLASH_PINS.index(fired[0].pin) if fired else None

    def reset(self, timeout: float = 5.0) -> None:
        """Reset the AVR (its reset pin): the firmware starts over, un-negotiated."""
        self._request("reset", "reset cmd", timeout)

    def sync(self, timeout: float = 5.0) -> int:
        """Wait until the harness has reported everything up to now; returns its AVR cycle."""
        return int(self._request("sync", "sync", timeout)[1])

    def set_speed(self, speed: float) -> None:
        """1: the wall clock's pace; 2: twice as fast; 0: free-running."""
        self._request(f"speed {speed:g}", "speed", 5.0)
        self.speed = speed

    def stats(self) -> dict[str, float]:
        words = self._request("stats", "stats", 5.0)[1:]
        return {k: float(v) for k, v in (w.split("=", 1) for w in words)}

    @property
    def fires(self) -> list[int]:
        """The channels of every flash pulse so far, in order."""
        with self._cond:
            return [p.channel for p in self.pulses]

    @property
    def led(self) -> bool:
        """The status LED (PB5): lit while a flash is armed."""
        with self._cond:
            return bool(self._levels.get(LED_PIN, 0))

    @property
    def running(self) -> bool:
        """Whether the harness is up (False before :meth:`start`, after :meth:`stop`, or
        when it died)."""
        return self._proc is not None and not self._eof

    def us(self, cycles: int) -> float:
        """AVR cycles in microseconds."""
        return cycles * 1e6 / self.frequency

    # -- machinery ------------------------------------------------------------------------
    def _request(self, command: str, expect: str, timeout: float) -> list[str]:
        with self._cmd_lock:
            with self._cond:
                if self._proc is None or self._eof:
                    raise SimavrError("the simavr harness is not running"
                                      + self._stderr_suffix())
                self._expect, self._answer = expect, None
            try:
                self._proc.stdin.write(command + "\n")
                self._proc.stdin.flush()
            except (OSError, ValueError) as exc:
                raise SimavrError(f"the simavr harness is gone ({exc})"
                                  + self._stderr_suffix()) from None
            deadline = time.monotonic() + timeout
            with self._cond:
                while self._answer is None and not self._eof:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                answer, self._expect = self._answer, None
            if answer is None:
                raise SimavrError(f"the simavr harness did not answer {command!r} within "
                                  f"{timeout:g} s" + self._stderr_suffix())
            if answer[:1] == ["error"]:
                raise SimavrError(f"the simavr harness refused {command!r}: "
                                  + " ".join(answer[1:]))
            return answer

    def _read(self) -> None:
        assert self._proc is not None
        for line in self._proc.stdout:
            words = line.split()
            if not words:
                continue
            kind = words[0]
            if kind == "edge":
                self._edge(Edge(words[1], int(words[2]), int(words[3])))
                continue
            if kind == "xsync" and len(words) == 2:
                with self._cond:
                    self._xsync_start = int(words[1])
                continue
            if kind == "reset":
                self.resets += 1
            elif kind == "open":
                self.opens += 1
            with self._cond:
                if self._expect is not None and (line.startswith(self._expect + " ")
                                                 or kind == "error"):
                    self._answer = words
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _edge(self, edge: Edge) -> None:
        pulse = None
        with self._cond:
            self.edges.append(edge)
            self._levels[edge.pin] = edge.level
            if edge.pin in FLASH_PINS:
                ch = FLASH_PINS.index(edge.pin)
                if edge.level:
                    self._rising[ch] = edge.cycle
                elif ch in self._rising:
                    pulse = Pulse(ch, self._rising.pop(ch), edge.cycle, self.frequency)
                    self.pulses.append(pulse)
            self._cond.notify_all()
        if edge.pin in FLASH_PINS and edge.level and self.on_fire is not None:
            self.on_fire(FLASH_PINS.index(edge.pin))
        if pulse is not None and self.on_pulse is not None:
            self.on_pulse(pulse)

    def _drain_stderr(self) -> None:
        proc = self._proc
        if proc is None:
            return
        for line in proc.stderr:
            self._stderr.append(line.rstrip("\n"))
        proc.stderr.close()

    def _stderr_text(self) -> str:
        time.sleep(0.05)  # let the stderr thread catch the last words
        return "\n".join(self._stderr) or "(nothing on stderr)"

    def _stderr_suffix(self) -> str:
        return (": " + " | ".join(self._stderr)) if self._stderr else ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m firmware_protocol.simavr",
                                 description=__doc__.splitlines()[0])
    fw = ap.add_mutually_exclusive_group()
    fw.add_argument("--elf", help=f"firmware ELF (default: {ELF}, built by make)")
    fw.add_argument("--hex", help="firmware as Intel HEX, as avrdude would flash it")
    ap.add_argument("--free", action="store_true",
                    help="run the AVR as fast as it goes instead of in real time")
    ap.add_argument("--drop", type=float, default=0.0, help="fraction of bytes lost")
    ap.add_argument("--corrupt", type=float, default=0.0, help="fraction of bytes bit-flipped")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--no-reset-on-open", action="store_true",
                    help="do not reset the AVR when a client opens the pty")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="report each flash pulse on stderr")
    args = ap.parse_args(argv)

    def report(pulse: Pulse) -> None:
        print(f"flash {m.CHANNELS[pulse.channel]} fired at t={pulse.t:.6f} s, "
              f"{pulse.width_us:.1f} µs", file=sys.stderr, flush=True)

    sim = FirmwareSim(args.elf, hex=args.hex, speed=0.0 if args.free else 1.0,
                      reset_on_open=not args.no_reset_on_open, drop=args.drop,
                      corrupt=args.corrupt, seed=args.seed,
                      on_pulse=report if args.verbose else None)
    try:
        print(sim.start(), flush=True)
    except SimavrError as exc:
        print(f"{ap.prog}: error: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())

    def commands() -> None:  # typed on stdin: xsync, reset
        try:
            for line in sys.stdin:
                word = line.strip()
                if word in ("x", "xsync"):
                    fired = sim.xsync()
                    print("X-sync: " + (f"{m.CHANNELS[fired]} fired" if fired is not None
                                        else "no flash fired"), file=sys.stderr, flush=True)
                elif word == "reset":
                    sim.reset()
        except OSError:
            pass  # run in the background of a shell: its terminal is not ours to read
        except SimavrError as exc:
            print(exc, file=sys.stderr, flush=True)
            done.set()

    # In the background, reading the terminal fails (EIO) instead of stopping the process.
    signal.signal(signal.SIGTTIN, signal.SIG_IGN)
    threading.Thread(target=commands, name="stdin", daemon=True).start()
    while not done.wait(0.5):
        if not sim.running:  # the harness died
            print(f"{ap.prog}: error: the simavr harness stopped" + sim._stderr_suffix(),
                  file=sys.stderr)
            sim.stop()
            return 1
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
