"""Raw bytes to the compiled firmware (in simavr) and to the Python reference controller side
by side, and what each answers compared.

Both get the same bytes; the firmware's replies (ACK/NAK, in order) must be the reference's,
and its flash outputs must pulse exactly for the FIRED events it sends. Allowed to differ, as
they depend on time (the reference's clock jumps a second per reading, the AVR's runs as
clocks do): whether a FIRE finds its flash recycled or the minute's budget spent (ACK, NAK
NOT_READY and NAK RATE_LIMIT are interchangeable), and the time-dependent fields of STATUS
(ready mask, fires in the last minute, uptime). Events other than FIRED are not compared.
"""

from __future__ import annotations

import os
import select
import time
from dataclasses import dataclass, field

from firmware_protocol import codec
from firmware_protocol import messages as m
from firmware_protocol.controller import Controller
from firmware_protocol.simavr import FirmwareSim

FIRE_OUTCOMES = {(m.T.ACK,), (m.T.NAK, m.Nak.NOT_READY), (m.T.NAK, m.Nak.RATE_LIMIT)}
SYNC_SEQ = 0  # the host never uses seq 0; the fuzz may, which the reference predicts too


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0  # every call a second later: recycling never blocks a fire
        return self.t


def comparable(frame: codec.Frame) -> tuple:
    """A reply, less what depends on time."""
    p = frame.payload
    if frame.type == m.T.ACK and p[:1] == bytes((m.T.STATUS,)) and len(p) == 11:
        p = p[:4] + p[6:7]  # state, armed, power, last_fault
    return frame.type, frame.seq, frame.version, p


def outcome(frame: codec.Frame) -> tuple:
    if frame.type == m.T.ACK:
        return (frame.type,)
    return frame.type, frame.payload[1] if len(frame.payload) > 1 else None


def same_reply(fw: codec.Frame, ref: codec.Frame) -> bool:
    if comparable(fw) == comparable(ref):
        return True
    fire = bytes((m.T.FIRE,))
    return (fw.seq == ref.seq and fw.payload[:1] == ref.payload[:1] == fire
            and fw.type in (m.T.ACK, m.T.NAK) and ref.type in (m.T.ACK, m.T.NAK)
            and {outcome(fw), outcome(ref)} <= FIRE_OUTCOMES)


def has_fire_command(data: bytes) -> bool:
    """Whether the stream holds a well-formed FIRE (the only thing that may fire a flash:
    the fuzz never pulses X-sync)."""
    return any(isinstance(item, codec.Frame) and item.type == m.T.FIRE
               and len(item.payload) == 1 and item.payload[0] < len(m.CHANNELS)
               for item in codec.FrameReader().feed(data))


@dataclass
class Result:
    """What one stream did on both sides."""

    firmware: list[codec.Frame] = field(default_factory=list)  # its ACK/NAK replies
    reference: list[codec.Frame] = field(default_factory=list)
    fired_events: list[int] = field(default_factory=list)  # channels of its FIRED events
    reference_fired: list[int] = field(default_factory=list)
    pulses: list[int] = field(default_factory=list)  # channels whose output pulsed
    garbage: list[codec.DecodeError] = field(default_factory=list)  # undecodable output

    def check(self, data: bytes) -> None:
        assert not self.garbage, f"the firmware sent undecodable bytes: {self.garbage}"
        pairs = list(zip(self.firmware, self.reference, strict=False))
        bad = [(f, r) for f, r in pairs if not same_reply(f, r)]
        assert not bad and len(self.firmware) == len(self.reference), (
            f"firmware and reference differ on {data.hex()}:\n"
            f"  firmware:  {self.firmware}\n  reference: {self.reference}")
        assert self.pulses == self.fired_events, "flash outputs and FIRED events disagree"
        it = iter(self.reference_fired)  # the firmware fired a subsequence of the reference's
        assert all(ch in it for ch in self.fired_events)
        assert not self.pulses or has_fire_command(data), "a flash fired on a bad frame"


class Link:
    """The firmware's pty, opened raw (the harness set it up), beside a reference
    :class:`Controller`. :meth:`begin` resets the AVR for a fresh, negotiated controller."""

    def __init__(self, sim: FirmwareSim):
        self.sim = sim
        self.fd = os.open(sim.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.reader = codec.FrameReader()
        self.ref = Controller(clock=Clock())
        self.ref_reader = codec.FrameReader()
        self.result = Result()
        self._pulses = 0

    def close(self) -> None:
        os.close(self.fd)

    def begin(self) -> None:
        """Reset the AVR and negotiate with it (and with a fresh reference)."""
        self.sim.reset()
        self.ref = Controller(clock=Clock())
        self.ref_reader = codec.FrameReader()
        self.ref.receive(m.hello(1))
        hello = m.hello(1).encode()
        for _ in range(20):  # a reset mid-frame may cost the first answer
            self._write(hello)
            replies, _, _ = self._read(1, timeout=0.2)
            if replies and replies[-1].type == m.T.ACK and replies[-1].seq == 1:
                break
        else:
            raise AssertionError("the firmware did not answer HELLO after a reset")
        self._pulses = len(self.sim.pulses)
        self.result = Result()

    def send(self, data: bytes, timeout: float = 2.0) -> None:
        """Each 0x00-terminated piece of ``data``, followed by a HEARTBEAT, to both sides;
        waits (up to ``timeout`` each) for as many ACK/NAKs from the firmware as the
        reference gave: one command at a time, as a host does (the firmware's receive ring
        is 64 bytes)."""
        if not data.endswith(b"\x00"):
            data += b"\x00"
        for piece in data.split(b"\x00")[:-1]:
            wire = piece + b"\x00" + m.heartbeat(SYNC_SEQ).encode()
            expected = []
            for item in self.ref_reader.feed(wire):
                for f in self.ref.receive(item):
                    if f.type in (m.T.ACK, m.T.NAK):
                        expected.append(f)
                    elif f.type == m.T.FIRED:
                        self.result.reference_fired.append(f.payload[0])
            self.result.reference += expected
            self._write(wire)
            replies, fired, garbage = self._read(len(expected), timeout)
            self.result.firmware += replies
            self.result.fired_events += fired
            self.result.garbage += garbage

    def finish(self) -> Result:
        self.sim.sync()  # every edge reported
        self.result.pulses = [p.channel for p in self.sim.pulses[self._pulses:]]
        return self.result

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self.fd, view):]
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)

    def _read(self, replies: int, timeout: float):
        got: list[codec.Frame] = []
        fired: list[int] = []
        garbage: list[codec.DecodeError] = []
        deadline = time.monotonic() + timeout
        while len(got) < replies:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                break
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                continue
            for item in self.reader.feed(data):
                if isinstance(item, codec.DecodeError):
                    garbage.append(item)
                elif item.type in (m.T.ACK, m.T.NAK):
                    got.append(item)
                elif item.type == m.T.FIRED:
                    fired.append(item.payload[0])
        return got, fired, garbage
