"""The Python codec against the shared vectors, and its stream reader."""

from pathlib import Path

import pytest
from cobs import cobs
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_protocol import codec
from firmware_protocol import messages as m

VECTORS = Path(__file__).parents[2] / "firmware_protocol" / "vectors" / "frames.txt"


def vectors(kind):
    for line in VECTORS.read_text().splitlines():
        if line.startswith(kind + " "):
            yield line.split()[1:]


def test_vector_file_has_every_kind():
    assert {k: len(list(vectors(k))) for k in ("crc", "cobs", "good", "bad")} == {
        "crc": 2, "cobs": 6, "good": 15, "bad": 7}


@pytest.mark.parametrize("data, crc", list(vectors("crc")))
def test_crc_vectors(data, crc):
    assert codec.crc16(bytes.fromhex(data)) == int(crc, 16)


@pytest.mark.parametrize("raw, enc", list(vectors("cobs")))
def test_cobs_vectors(raw, enc):
    assert cobs.encode(bytes.fromhex(raw)) == bytes.fromhex(enc)
    assert cobs.decode(bytes.fromhex(enc)) == bytes.fromhex(raw)


@pytest.mark.parametrize("wire, version, type_, seq, payload", list(vectors("good")))
def test_good_frames(wire, version, type_, seq, payload):
    frame = codec.decode(bytes.fromhex(wire))
    data = b"" if payload == "-" else bytes.fromhex(payload)
    assert frame == codec.Frame(int(type_), int(seq), data, int(version))
    assert frame.encode() == bytes.fromhex(wire)


@pytest.mark.parametrize("wire, code", list(vectors("bad")))
def test_bad_frames(wire, code):
    with pytest.raises(codec.DecodeError) as exc:
        codec.decode(bytes.fromhex(wire))
    assert exc.value.code == (int(code) or None)


def test_crc_check_value_is_the_standard_one():
    # CRC-16/CCITT-FALSE's published check value, independent of the vector file.
    assert codec.crc16(b"123456789") == 0x29B1


def test_reader_reassembles_split_frames_and_resyncs_after_garbage():
    frames = [m.arm(1, 2, 100), m.fire(2, 3), m.status(3)]
    stream = b"\x13\x37garbage\x00" + b"".join(f.encode() for f in frames)
    reader = codec.FrameReader()
    got = []
    for i in range(0, len(stream), 3):
        got += reader.feed(stream[i:i + 3])
    assert isinstance(got[0], codec.DecodeError)
    assert got[1:] == frames


def test_reader_bounds_its_buffer():
    reader = codec.FrameReader()
    assert reader.feed(b"\x01" * 10_000) == []
    out = reader.feed(b"\x00" + m.status(9).encode())
    assert isinstance(out[0], codec.DecodeError) and out[1] == m.status(9)


def test_encode_rejects_oversize():
    with pytest.raises(ValueError):
        codec.Frame(1, 1, bytes(33)).encode()
    with pytest.raises(ValueError):
        codec.Frame(1, 256).encode()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.integers(0, 255), st.binary(max_size=32))
def test_round_trip(type_, seq, payload):
    frame = codec.Frame(type_, seq, payload)
    wire = frame.encode()
    assert wire.count(0) == 1 and wire.endswith(b"\x00")
    assert len(wire) <= codec.MAX_WIRE
    assert codec.decode(wire) == frame
