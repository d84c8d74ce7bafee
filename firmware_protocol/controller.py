"""The flash controller's state machine, in Python: the reference the C firmware mirrors.

Pure logic with an injectable clock: feed it decoded frames (or decode errors), call
:meth:`Controller.poll` as time passes and :meth:`Controller.xsync` when the camera's X-sync
fires; each returns the frames to send. ``fires`` logs every flash actually fired, with the
command seq that caused it, so tests can prove no command ever fires twice.
"""

from __future__ import annotations

import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from firmware_protocol import messages as m
from firmware_protocol.codec import DecodeError, Frame

FIRMWARE_VERSION = (1, 0, 0)
VERSIONS = (1, 1)  # protocol versions this firmware speaks


@dataclass(frozen=True)
class FireRecord:
    channel: int
    t: float
    cause: str  # "FIRE seq N" or "XSYNC"


class Controller:
    def __init__(self, clock: Callable[[], float] = time.monotonic, recycle_ms: int = 150,
                 not_ready: frozenset[int] = frozenset(),
                 on_fire: Callable[[int], None] | None = None):
        self.clock = clock
        self.start = clock()
        self.settings = {k: default for k, (_, _, default) in m.KEY_LIMITS.items()}
        self.settings[m.Key.RECYCLE_MS] = recycle_ms
        self.not_ready = set(not_ready)  # fault injection: these flashes never recycle
        self.on_fire = on_fire
        self.negotiated = False
        self.armed: int | None = None
        self.power = 0
        self.last_fault = 0
        self.last_fire: list[float | None] = [None] * len(m.CHANNELS)
        self.pending_ready: dict[int, float] = {}
        self.recent: deque[float] = deque()
        self.last_cmd: tuple[int, int, Frame] | None = None
        self.last_rx = self.start
        self.event_seq = 0
        self.fires: list[FireRecord] = []

    # -- inputs ---------------------------------------------------------------------------
    def receive(self, item: Frame | DecodeError) -> list[Frame]:
        if isinstance(item, DecodeError):
            return [] if item.code is None else [m.nak(item.seq, item.type, item.code)]
        self.last_rx = self.clock()
        try:
            kind = m.T(item.type)
        except ValueError:
            kind = None
        if kind not in m.COMMANDS:
            return [m.nak(item.seq, item.type, m.Nak.UNKNOWN_TYPE)]
        if len(item.payload) != m.COMMAND_PAYLOAD[kind]:
            return [m.nak(item.seq, item.type, m.Nak.BAD_LENGTH)]
        if self.last_cmd is not None and self.last_cmd[:2] == (item.seq, item.type):
            return [self.last_cmd[2]]  # a retry: answer again, do not act again
        events: list[Frame] = []
        if not self.negotiated and kind != m.T.HELLO:
            reply = m.nak(item.seq, kind, m.Nak.NO_HELLO)
        else:
            reply = self._execute(kind, item, events)
        self.last_cmd = (item.seq, item.type, reply)
        return [reply, *events]

    def poll(self) -> list[Frame]:
        """Time-driven behaviour: READY after recycling, disarm when heartbeats stop."""
        now = self.clock()
        out = []
        for ch, when in sorted(self.pending_ready.items()):
            if now >= when and ch not in self.not_ready:
                del self.pending_ready[ch]
                out.append(self._event(m.ready, ch))
        timeout = self.settings[m.Key.HEARTBEAT_TIMEOUT_MS] / 1e3
        if self.armed is not None and now - self.last_rx > timeout:
            self.armed = None
            self.last_fault = m.Fault.HEARTBEAT_LOST
            out.append(self._event(m.fault, m.Fault.HEARTBEAT_LOST))
        return out

    def xsync(self) -> list[Frame]:
        """The camera's X-sync: fire the armed flash once, then disarm."""
        if self.armed is None:
            self.last_fault = m.Fault.XSYNC_UNARMED
            return [self._event(m.fault, m.Fault.XSYNC_UNARMED)]
        ch, self.armed = self.armed, None
        refused, events = self._try_fire(ch, "XSYNC")
        return events if refused is None else []

    # -- commands -------------------------------------------------------------------------
    def _execute(self, kind: m.T, f: Frame, events: list[Frame]) -> Frame:
        p = f.payload
        if kind == m.T.HELLO:
            lo, hi = p[0], p[1]
            version = min(hi, VERSIONS[1])
            if version < max(lo, VERSIONS[0]):
                return m.nak(f.seq, kind, m.Nak.BAD_VERSION)
            self.negotiated = True
            self.armed = None
            self.last_fault = 0
            info = m.HelloInfo(version, FIRMWARE_VERSION, len(m.CHANNELS))
            return m.ack(f.seq, kind, info.encode())
        if kind == m.T.STATUS:
            return m.ack(f.seq, kind, self.status().encode())
        if kind == m.T.ARM:
            if p[0] >= len(m.CHANNELS):
                return m.nak(f.seq, kind, m.Nak.BAD_CHANNEL)
            self.armed, self.power = p[0], p[1]
            return m.ack(f.seq, kind)
        if kind == m.T.DISARM:
            self.armed = None
            return m.ack(f.seq, kind)
        if kind == m.T.FIRE:
            if p[0] >= len(m.CHANNELS):
                return m.nak(f.seq, kind, m.Nak.BAD_CHANNEL)
            refused, fired = self._try_fire(p[0], f"FIRE seq {f.seq}")
            if refused is not None:
                return m.nak(f.seq, kind, refused)
            events.extend(fired)
            return m.ack(f.seq, kind)
        if kind == m.T.SET:
            key, value = struct.unpack("<BH", p)
            try:
                lo, hi, _ = m.KEY_LIMITS[m.Key(key)]
            except ValueError:
                return m.nak(f.seq, kind, m.Nak.BAD_VALUE)
            if not lo <= value <= hi:
                return m.nak(f.seq, kind, m.Nak.BAD_VALUE)
            self.settings[m.Key(key)] = value
            return m.ack(f.seq, kind)
        return m.ack(f.seq, kind)  # HEARTBEAT

    def _try_fire(self, ch: int, cause: str) -> tuple[int | None, list[Frame]]:
        now = self.clock()
        last = self.last_fire[ch]
        recycle = self.settings[m.Key.RECYCLE_MS] / 1e3
        if ch in self.not_ready or (last is not None and now - last < recycle):
            return m.Nak.NOT_READY, []
        while self.recent and now - self.recent[0] >= 60.0:
            self.recent.popleft()
        if len(self.recent) >= self.settings[m.Key.MAX_FIRES_PER_MINUTE]:
            return m.Nak.RATE_LIMIT, []
        self.last_fire[ch] = now
        self.recent.append(now)
        self.pending_ready[ch] = now + recycle
        self.fires.append(FireRecord(ch, now, cause))
        if self.on_fire is not None:
            self.on_fire(ch)
        t_us = int((now - self.start) * 1e6)
        return None, [self._event(m.fired, ch, t_us)]

    def status(self) -> m.Status:
        now = self.clock()
        recycle = self.settings[m.Key.RECYCLE_MS] / 1e3
        ready = 0
        for ch, last in enumerate(self.last_fire):
            if ch not in self.not_ready and (last is None or now - last >= recycle):
                ready |= 1 << ch
        while self.recent and now - self.recent[0] >= 60.0:
            self.recent.popleft()
        state = m.State.ARMED if self.armed is not None else m.State.IDLE
        return m.Status(state, self.armed, self.power, ready, min(len(self.recent), 255),
                        int(self.last_fault), int((now - self.start) * 1e3))

    def _event(self, builder, *args) -> Frame:
        self.event_seq = (self.event_seq + 1) & 0xFF
        return builder(self.event_seq, *args)
