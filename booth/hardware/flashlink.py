"""Host side of the flash-controller link: :class:`FlashController`.

One command in flight at a time (a lock), each with a fresh sequence number; a lost or
corrupted reply is handled by resending the *same* frame, which the controller answers from
its memory of the last command instead of acting again, so a retried FIRE never fires twice.
Whoever waits reads: a command reads the port until its reply (matched by seq), queueing
any event it meets (FIRED, READY, FAULT) for :meth:`wait_fired` and :meth:`events`, which
read the port themselves. No reader thread, so no thread hand-over on the round trip; a
heartbeat thread keeps the controller from disarming while the host is alive (and, reading
with each heartbeat, keeps the port's buffer drained). Errors are :class:`FlashError`, worded
to say what to do.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections import deque

import serial

from firmware_protocol import messages as m
from firmware_protocol.codec import VERSION, DecodeError, Frame, FrameReader

log = logging.getLogger(__name__)

NAK_ADVICE = {
    m.Nak.NOT_READY: "the flash is still recycling; wait and try again",
    m.Nak.RATE_LIMIT: "too many flashes this minute; let the flashes cool down",
    m.Nak.BAD_CHANNEL: "no such flash channel",
    m.Nak.BAD_VALUE: "value out of range",
    m.Nak.BAD_VERSION: "the controller does not speak this protocol version; update its "
                       "firmware",
    m.Nak.NO_HELLO: "the controller was reset; reconnect",
    m.Nak.FAULTED: "the controller is in a fault state; power-cycle it",
}
#: NAKs that mean the frame was damaged in transit: resend it.
TRANSIENT = {m.Nak.BAD_CRC, m.Nak.BAD_LENGTH}


class FlashError(RuntimeError):
    """A flash-controller failure, worded for the operator."""


class FlashController:
    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 0.1,
                 retries: int = 5, heartbeat: float | None = 0.25):
        self.port_name = port
        self.timeout = timeout
        self.retries = retries
        self.heartbeat_period = heartbeat
        self.info: m.HelloInfo | None = None
        self._serial = self._open(port, baudrate)
        self._reader = FrameReader()
        self._seq = 0
        self._cmd_lock = threading.Lock()
        self._cond = threading.Condition()
        self._io = threading.Lock()  # whoever holds it reads the port
        try:
            self._fd: int | None = self._serial.fileno()
        except (AttributeError, OSError, ValueError, NotImplementedError):
            self._fd = None  # a URL port without a descriptor: poll instead
        self._pending: int | None = None
        self._reply: Frame | None = None
        self._events: deque[Frame] = deque(maxlen=256)
        self._closed = threading.Event()
        self._last_tx = time.monotonic()
        self._threads: list[threading.Thread] = []
        if heartbeat:
            self._threads.append(threading.Thread(target=self._heartbeat_loop,
                                                  name="flash-heartbeat", daemon=True))
        for t in self._threads:
            t.start()
        try:
            self.hello()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _open(port: str, baudrate: int) -> serial.SerialBase:
        try:
            return serial.serial_for_url(port, baudrate=baudrate, timeout=0,
                                         write_timeout=1.0)
        except serial.SerialException as exc:
            cause = exc.__context__
            if "://" in port and cause is not None and (
                    isinstance(cause, serial.SerialException) or not isinstance(cause, OSError)):
                # pyserial wraps its URL parsing's errors ('<=' not supported ...) in this one
                raise FlashController._malformed(port, cause) from None
            if "://" in port and isinstance(cause, OSError):  # a network URL: nobody answers
                raise FlashError(f"cannot open {port}: {cause.strerror or cause}; is the "
                                 "controller's server running at that address?") from None
            err = exc.args[0] if exc.args and isinstance(exc.args[0], int) else exc.errno
            if err == 13 or "Permission denied" in str(exc):
                raise FlashError(f"permission denied on {port}: add your user to the "
                                 "'dialout' group (then log in again)") from None
            if err == 2 or "No such file" in str(exc) or "could not open" in str(exc):
                raise FlashError(f"no serial port {port}: is the flash controller plugged in "
                                 "and powered? (`booth doctor` lists ports)") from None
            raise FlashError(f"cannot open {port}: {exc}") from None
        except OSError as exc:
            raise FlashError(f"cannot open {port}: {exc.strerror or exc}") from None
        except Exception as exc:  # noqa: BLE001 - pyserial's URL parsing raises anything
            raise FlashController._malformed(port, exc) from None

    @staticmethod
    def _malformed(port: str, exc: BaseException) -> FlashError:
        """pyserial's complaint about a URL (ValueError for an unknown scheme; KeyError,
        TypeError, ... for a missing port number or bad options), worded with what was
        expected: by :func:`booth.options.port_problem` where that rule catches it."""
        from booth.options import port_problem

        problem = port_problem(port)
        if problem is not None:
            return FlashError(f"cannot open {port}: {problem}")
        scheme = port.split("://", 1)[0] if "://" in port else ""
        if "not known" in str(exc) and scheme:
            what = f"unknown URL scheme '{scheme}://'"
        elif isinstance(exc, ValueError | serial.SerialException) and str(exc):
            what = f"malformed port URL ({exc})"
        else:  # a TypeError or KeyError from inside pyserial says nothing useful
            what = "malformed port URL (pyserial cannot parse its address or options)"
        return FlashError(f"cannot open {port}: {what}; expected a serial device such as "
                          "/dev/ttyACM0 or a pyserial URL (loop://, socket://HOST:PORT, "
                          "rfc2217://HOST:PORT)")

    # -- public commands ------------------------------------------------------------------
    def hello(self) -> m.HelloInfo:
        reply = self._command(lambda seq: m.hello(seq, VERSION, VERSION), "HELLO")
        info = m.HelloInfo.parse(reply.payload[1:])
        if info.version != VERSION:
            raise FlashError(f"controller on {self.port_name} speaks protocol {info.version}, "
                             f"this host needs {VERSION}: update the firmware")
        self.info = info
        return info

    def status(self) -> m.Status:
        return m.Status.parse(self._command(m.status, "STATUS").payload[1:])

    def arm(self, channel: int | str, power: int = 255) -> None:
        ch = self._channel(channel)
        if not 0 <= power <= 255:
            raise FlashError(f"flash power must be 0..255, got {power}")
        self._command(lambda seq: m.arm(seq, ch, power), f"ARM {m.CHANNELS[ch]}")

    def disarm(self) -> None:
        self._command(m.disarm, "DISARM")

    def fire(self, channel: int | str) -> None:
        ch = self._channel(channel)
        self._command(lambda seq: m.fire(seq, ch), f"FIRE {m.CHANNELS[ch]}")

    def set_value(self, key: m.Key, value: int) -> None:
        self._command(lambda seq: m.set_value(seq, key, value), f"SET {key.name}")

    def clear_events(self) -> None:
        self.events()

    def wait_fired(self, channel: int | str, timeout: float = 1.0) -> m.Fired:
        """The next FIRED event for ``channel`` (events of other channels are kept)."""
        ch = self._channel(channel)
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                for ev in list(self._events):
                    if ev.type == m.T.FIRED:
                        fired = m.Fired.parse(ev.payload)
                        if fired.channel == ch:
                            self._events.remove(ev)
                            return fired
            left = deadline - time.monotonic()
            if left <= 0:
                raise FlashError(f"no FIRED event from the {m.CHANNELS[ch]} flash within "
                                 f"{timeout:.2f} s: check its cable and the camera's "
                                 "X-sync connection")
            with self._io:
                self._pump(min(left, 0.05))

    def events(self) -> list[Frame]:
        """Take every event received so far."""
        with self._io:
            self._pump(0)
        with self._cond:
            out = list(self._events)
            self._events.clear()
            return out

    def close(self) -> None:
        if self._closed.is_set():
            return
        try:
            if self.info is not None:
                self.disarm()
        except FlashError:
            pass
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout=1)
        self._serial.close()

    def __enter__(self) -> FlashController:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- machinery ------------------------------------------------------------------------
    @staticmethod
    def _channel(channel: int | str) -> int:
        if isinstance(channel, str):
            if channel not in m.CHANNELS:
                raise FlashError(f"unknown flash '{channel}'; expected one of "
                                 f"{', '.join(m.CHANNELS)}")
            return m.CHANNELS.index(channel)
        if not 0 <= channel < len(m.CHANNELS):
            raise FlashError(f"flash channel {channel} out of range 0..{len(m.CHANNELS) - 1}")
        return channel

    def _next_seq(self) -> int:
        self._seq = self._seq % 255 + 1  # 1..255: 0 is never used by the host
        return self._seq

    def _command(self, build, what: str) -> Frame:
        if self._closed.is_set():
            raise FlashError(f"flash controller on {self.port_name} is closed")
        with self._cmd_lock:
            frame = build(self._next_seq())
            wire = frame.encode()
            for _ in range(self.retries):
                with self._cond:
                    self._pending, self._reply = frame.seq, None
                self._write(wire)
                reply = self._await_reply(frame)
                if reply is None:
                    continue  # lost: resend the same frame (same seq: idempotent)
                if reply.type == m.T.ACK:
                    return reply
                code = reply.payload[1] if len(reply.payload) > 1 else 0
                if code in TRANSIENT:
                    continue
                try:
                    name = m.Nak(code).name
                except ValueError:
                    name = f"code {code}"
                advice = NAK_ADVICE.get(code, "")
                raise FlashError(f"{what} refused by the controller ({name})"
                                 + (f": {advice}" if advice else ""))
            raise FlashError(f"flash controller on {self.port_name} did not answer {what} "
                             f"({self.retries} tries, {self.timeout * 1e3:.0f} ms each): check "
                             "its USB cable and power")

    def _await_reply(self, frame: Frame) -> Frame | None:
        """Read the port in this thread until the reply to ``frame`` (or the timeout)."""
        deadline = time.monotonic() + self.timeout
        with self._io:
            while not self._closed.is_set():
                with self._cond:
                    if self._reply is not None:
                        break
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._pump(left)
        with self._cond:
            reply, self._pending = self._reply, None
        if reply is not None and reply.type == m.T.ACK and reply.payload[:1] != bytes(
                (frame.type,)):
            return None  # an ACK for another command (its seq was corrupted): not ours
        return reply

    def _write(self, data: bytes) -> None:
        try:
            if self._fd is None:
                self._serial.write(data)
            else:  # pyserial set the port up; plain syscalls keep its overhead off the trip
                view = memoryview(data)
                while view:
                    try:
                        view = view[os.write(self._fd, view):]
                    except BlockingIOError:
                        select.select([], [self._fd], [], 1.0)
            self._last_tx = time.monotonic()
        except (serial.SerialException, OSError) as exc:
            raise FlashError(f"lost the flash controller on {self.port_name} ({exc}): "
                             "reconnect its USB cable") from None

    def _wait_readable(self, timeout: float) -> bool:
        if self._fd is None:
            time.sleep(min(timeout, 0.002))
            return True
        return bool(select.select([self._fd], [], [], timeout)[0])

    def _pump(self, timeout: float) -> None:
        """With ``_io`` held: wait up to ``timeout`` for bytes, then read and dispatch them."""
        if not self._wait_readable(timeout):
            return
        try:
            if self._fd is None:
                data = self._serial.read(self._serial.in_waiting or 0)
            else:
                data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except (serial.SerialException, OSError, TypeError):
            if not self._closed.is_set():
                log.warning("flash controller on %s: read failed", self.port_name)
            time.sleep(0.01)
            return
        for item in self._reader.feed(data):
            if not isinstance(item, DecodeError):  # damaged: the command is resent
                self._dispatch(item)

    def _dispatch(self, frame: Frame) -> None:
        with self._cond:
            if frame.type in (m.T.ACK, m.T.NAK):
                if self._pending is not None and frame.seq == self._pending:
                    self._reply = frame
            elif frame.type in m.EVENTS:
                self._events.append(frame)
            self._cond.notify_all()

    def _heartbeat_loop(self) -> None:
        while not self._closed.wait(self.heartbeat_period / 2):
            if time.monotonic() - self._last_tx < self.heartbeat_period:
                continue
            try:
                self._command(m.heartbeat, "HEARTBEAT")
            except FlashError as exc:
                if not self._closed.is_set():
                    log.warning("heartbeat: %s", exc)
