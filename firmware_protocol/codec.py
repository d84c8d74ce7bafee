"""Framing of the flash-controller link (PROTOCOL.md, "Framing").

wire = COBS(version type seq len payload crc16) 0x00. COBS comes from the ``cobs`` package,
the CRC (CRC-16/CCITT-FALSE) from the standard library's ``binascii.crc_hqx``: nothing hand
rolled here but the header.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

from cobs import cobs

VERSION = 1
HEADER = 4
CRC_BYTES = 2
MAX_PAYLOAD = 32
MIN_BODY = HEADER + CRC_BYTES
MAX_BODY = MIN_BODY + MAX_PAYLOAD
MAX_WIRE = MAX_BODY + MAX_BODY // 254 + 2  # COBS overhead + delimiter

# NAK codes for frames that fail to decode (the rest are in messages.Nak).
BAD_CRC = 1
BAD_LENGTH = 3
BAD_VERSION = 7


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True)
class Frame:
    """One decoded frame: message type, sequence number, payload bytes, protocol version."""

    type: int
    seq: int
    payload: bytes = b""
    version: int = VERSION

    def encode(self) -> bytes:
        return encode(self)


class DecodeError(ValueError):
    """A frame that must not be acted on. ``code`` is the NAK code to answer with (None: drop
    silently); ``type`` and ``seq`` are the header bytes as received, possibly corrupt."""

    def __init__(self, message: str, code: int | None, type_: int = 0, seq: int = 0):
        super().__init__(message)
        self.code = code
        self.type = type_
        self.seq = seq


def encode_body(frame: Frame) -> bytes:
    if not 0 <= len(frame.payload) <= MAX_PAYLOAD:
        raise ValueError(f"payload of {len(frame.payload)} bytes; at most {MAX_PAYLOAD}")
    for name in ("type", "seq", "version"):
        if not 0 <= getattr(frame, name) <= 255:
            raise ValueError(f"{name} {getattr(frame, name)} does not fit in a byte")
    head = bytes((frame.version, frame.type, frame.seq, len(frame.payload))) + frame.payload
    return head + crc16(head).to_bytes(2, "big")


def encode(frame: Frame) -> bytes:
    """The bytes on the wire for ``frame``, delimiter included."""
    return cobs.encode(encode_body(frame)) + b"\x00"


def decode_body(body: bytes, version: int = VERSION) -> Frame:
    """Check and split a COBS-decoded body; raises DecodeError."""
    if len(body) < MIN_BODY:
        raise DecodeError(f"frame of {len(body)} bytes is shorter than {MIN_BODY}", None)
    if len(body) > MAX_BODY:  # PROTOCOL.md: longer frames are discarded, as the firmware does
        raise DecodeError(f"frame body of {len(body)} bytes is longer than {MAX_BODY}", None)
    ver, type_, seq, length = body[0], body[1], body[2], body[3]
    if crc16(body[:-2]) != int.from_bytes(body[-2:], "big"):
        raise DecodeError("CRC mismatch", BAD_CRC, type_, seq)
    if length != len(body) - MIN_BODY or length > MAX_PAYLOAD:
        raise DecodeError(f"length field {length} but {len(body) - MIN_BODY} payload bytes",
                          BAD_LENGTH, type_, seq)
    if ver != version:
        raise DecodeError(f"protocol version {ver}, expected {version}", BAD_VERSION,
                          type_, seq)
    return Frame(type_, seq, bytes(body[HEADER:-CRC_BYTES]), ver)


def decode(wire: bytes, version: int = VERSION) -> Frame:
    """Decode one frame (with or without its trailing delimiter); raises DecodeError."""
    if wire.endswith(b"\x00"):
        wire = wire[:-1]
    if b"\x00" in wire:
        raise DecodeError("delimiter inside a frame", None)
    if len(wire) > MAX_WIRE:
        raise DecodeError(f"frame of {len(wire)} bytes is longer than {MAX_WIRE}", None)
    try:
        body = cobs.decode(wire)
    except cobs.DecodeError as exc:
        raise DecodeError(f"bad COBS encoding ({exc})", None) from None
    return decode_body(body, version)


class FrameReader:
    """Splits a byte stream at 0x00 delimiters into frames or DecodeErrors.

    Bytes beyond the longest legal frame are discarded up to the next delimiter, so garbage
    can never grow the buffer without bound.
    """

    def __init__(self, version: int = VERSION):
        self.version = version
        self._buf = bytearray()
        self._overflow = False

    def feed(self, data: bytes) -> list[Frame | DecodeError]:
        out: list[Frame | DecodeError] = []
        *complete, tail = data.split(b"\x00")
        for chunk in complete:
            result = self._finish(chunk)
            if result is not None:
                out.append(result)
        self._append(tail)
        return out

    def _append(self, data: bytes) -> None:
        if self._overflow:
            return
        self._buf += data
        if len(self._buf) > MAX_WIRE:
            self._buf.clear()
            self._overflow = True

    def _finish(self, chunk: bytes) -> Frame | DecodeError | None:
        if self._overflow:
            self._buf.clear()
            self._overflow = False
            return DecodeError("frame too long, discarded", None)
        wire = bytes(self._buf) + chunk
        self._buf.clear()
        if len(wire) > MAX_WIRE:
            return DecodeError("frame too long, discarded", None)
        if not wire:
            return None  # back-to-back delimiters: an idle line
        try:
            return decode(wire, self.version)
        except DecodeError as exc:
            return exc
