"""Regenerate frames.txt: python -m firmware_protocol.vectors.make_vectors > frames.txt

The file, not this script, is the reference: both codecs are tested against it, and the
standard check values (CRC of "123456789", the COBS examples of Cheshire & Baker) pin the
building blocks independently of this project's code.
"""

from __future__ import annotations

from cobs import cobs

from firmware_protocol import codec
from firmware_protocol import messages as m


def main() -> None:
    print("# Test vectors for the flash-controller link (PROTOCOL.md), one per line:")
    print("#   crc  <data hex> <crc16 hex>                 CRC-16/CCITT-FALSE")
    print("#   cobs <data hex> <encoded hex>               COBS, without delimiter")
    print("#   good <wire hex> <version> <type> <seq> <payload hex or ->")
    print("#   bad  <wire hex> <nak code, 0 = dropped silently>")
    print(f"crc {b'123456789'.hex()} 29b1")
    print("crc 00 e1f0")
    for raw in (b"\x00", b"\x00\x00", b"\x11\x22\x00\x33", b"\x11\x22\x33\x44",
                b"\x11\x00\x00\x00", bytes(range(1, 255))):
        print(f"cobs {raw.hex()} {cobs.encode(raw).hex()}")
    good = [
        m.hello(1, 1, 1), m.status(2), m.arm(3, 1, 200), m.disarm(4), m.fire(5, 4),
        m.set_value(6, m.Key.RECYCLE_MS, 150), m.heartbeat(255),
        m.ack(3, m.T.ARM), m.ack(1, m.T.HELLO, m.HelloInfo(1, (1, 0, 0), 5).encode()),
        m.nak(9, m.T.FIRE, m.Nak.NOT_READY), m.fired(17, 2, 0x12345678),
        m.ready(18, 0), m.fault(19, m.Fault.HEARTBEAT_LOST),
        codec.Frame(0x42, 0, bytes(32)), codec.Frame(m.T.ACK, 0, bytes(range(32))),
    ]
    for f in good:
        payload = f.payload.hex() or "-"
        print(f"good {f.encode().hex()} {f.version} {f.type} {f.seq} {payload}")
    body = codec.encode_body(m.fire(5, 4))
    flipped = bytearray(body)
    flipped[4] ^= 0x01
    print(f"bad {cobs.encode(bytes(flipped)).hex()}00 {codec.BAD_CRC}")
    crc_flip = bytearray(body)
    crc_flip[-1] ^= 0x80
    print(f"bad {cobs.encode(bytes(crc_flip)).hex()}00 {codec.BAD_CRC}")
    wrong_len = bytearray(body[:-2])
    wrong_len[3] = 2
    wrong_len += codec.crc16(bytes(wrong_len)).to_bytes(2, "big")
    print(f"bad {cobs.encode(bytes(wrong_len)).hex()}00 {codec.BAD_LENGTH}")
    v2 = codec.encode(codec.Frame(m.T.STATUS, 7, b"", version=2))
    print(f"bad {v2.hex()} {codec.BAD_VERSION}")
    print(f"bad {cobs.encode(b'1234').hex()}00 0")  # too short
    print("bad 0511223300 0")  # COBS code points past the end
    print(f"bad {'01' * 60}00 0")  # longer than any legal frame


if __name__ == "__main__":
    main()
