"""Message types and payloads of the flash-controller link (PROTOCOL.md, tables).

Builders return :class:`~firmware_protocol.codec.Frame`; parsers turn reply payloads into
small typed records. Integers in payloads are little-endian.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from firmware_protocol.codec import Frame

CHANNELS = ("center", "left", "right", "top", "bottom")
NO_CHANNEL = 0xFF


class T(IntEnum):
    """Message types."""

    HELLO = 0x01
    STATUS = 0x02
    ARM = 0x03
    DISARM = 0x04
    FIRE = 0x05
    SET = 0x06
    HEARTBEAT = 0x07
    ACK = 0x80
    NAK = 0x81
    FIRED = 0x90
    READY = 0x91
    FAULT = 0x92


COMMANDS = frozenset({T.HELLO, T.STATUS, T.ARM, T.DISARM, T.FIRE, T.SET, T.HEARTBEAT})
EVENTS = frozenset({T.FIRED, T.READY, T.FAULT})


class Nak(IntEnum):
    BAD_CRC = 1
    UNKNOWN_TYPE = 2
    BAD_LENGTH = 3
    BAD_CHANNEL = 4
    NOT_READY = 5
    RATE_LIMIT = 6
    BAD_VERSION = 7
    BAD_VALUE = 8
    NO_HELLO = 9
    FAULTED = 10


class Fault(IntEnum):
    HEARTBEAT_LOST = 1
    XSYNC_UNARMED = 2
    OVERHEAT = 3


class State(IntEnum):
    IDLE = 0
    ARMED = 1
    FAULT = 2


class Key(IntEnum):
    """SET keys, with their (minimum, maximum, default)."""

    RECYCLE_MS = 1
    MAX_FIRES_PER_MINUTE = 2
    HEARTBEAT_TIMEOUT_MS = 3


KEY_LIMITS = {
    Key.RECYCLE_MS: (50, 10000, 150),
    Key.MAX_FIRES_PER_MINUTE: (1, 600, 120),
    Key.HEARTBEAT_TIMEOUT_MS: (200, 10000, 1000),
}

#: Payload sizes of commands (the controller NAKs BAD_LENGTH on any other).
COMMAND_PAYLOAD = {T.HELLO: 2, T.STATUS: 0, T.ARM: 2, T.DISARM: 0, T.FIRE: 1, T.SET: 3,
                   T.HEARTBEAT: 0}


def hello(seq: int, min_version: int = 1, max_version: int = 1) -> Frame:
    return Frame(T.HELLO, seq, bytes((min_version, max_version)))


def status(seq: int) -> Frame:
    return Frame(T.STATUS, seq)


def arm(seq: int, channel: int, power: int = 255) -> Frame:
    return Frame(T.ARM, seq, bytes((channel, power)))


def disarm(seq: int) -> Frame:
    return Frame(T.DISARM, seq)


def fire(seq: int, channel: int) -> Frame:
    return Frame(T.FIRE, seq, bytes((channel,)))


def set_value(seq: int, key: int, value: int) -> Frame:
    return Frame(T.SET, seq, struct.pack("<BH", key, value))


def heartbeat(seq: int) -> Frame:
    return Frame(T.HEARTBEAT, seq)


def ack(seq: int, acked: int, data: bytes = b"") -> Frame:
    return Frame(T.ACK, seq, bytes((acked,)) + data)


def nak(seq: int, acked: int, code: int) -> Frame:
    return Frame(T.NAK, seq, bytes((acked & 0xFF, code)))


def fired(seq: int, channel: int, t_us: int) -> Frame:
    return Frame(T.FIRED, seq, struct.pack("<BI", channel, t_us & 0xFFFFFFFF))


def ready(seq: int, channel: int) -> Frame:
    return Frame(T.READY, seq, bytes((channel,)))


def fault(seq: int, code: int) -> Frame:
    return Frame(T.FAULT, seq, bytes((code,)))


@dataclass(frozen=True)
class HelloInfo:
    version: int
    firmware: tuple[int, int, int]
    channels: int

    @classmethod
    def parse(cls, data: bytes) -> HelloInfo:
        v, a, b, c, n = struct.unpack("<5B", data)
        return cls(v, (a, b, c), n)

    def encode(self) -> bytes:
        return bytes((self.version, *self.firmware, self.channels))


@dataclass(frozen=True)
class Status:
    state: State
    armed: int | None
    power: int
    ready_mask: int
    fires_last_minute: int
    last_fault: int
    uptime_ms: int

    _FMT = "<6BI"

    @classmethod
    def parse(cls, data: bytes) -> Status:
        st, armed, power, ready_mask, fires, last_fault, up = struct.unpack(cls._FMT, data)
        return cls(State(st), None if armed == NO_CHANNEL else armed, power, ready_mask, fires,
                   last_fault, up)

    def encode(self) -> bytes:
        armed = NO_CHANNEL if self.armed is None else self.armed
        return struct.pack(self._FMT, self.state, armed, self.power, self.ready_mask,
                           self.fires_last_minute, self.last_fault, self.uptime_ms & 0xFFFFFFFF)


@dataclass(frozen=True)
class Fired:
    channel: int
    t_us: int

    @classmethod
    def parse(cls, data: bytes) -> Fired:
        ch, t = struct.unpack("<BI", data)
        return cls(ch, t)
