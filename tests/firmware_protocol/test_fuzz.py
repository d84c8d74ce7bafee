"""Fuzzing the decoder and the controller's input: 2 × 6,000 random and mutated frames.

Properties: nothing raises but DecodeError, nothing hangs (hypothesis' deadline), and no flash
fires unless the bytes decode, CRC intact, to a well-formed FIRE command.

The same streams (2 × 1,000) go to the compiled firmware in simavr beside the Python
controller, which it must answer alike (:mod:`tests.firmware_protocol.differential`), its
flash outputs pulsing only for the FIRED events it sends.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_protocol import codec
from firmware_protocol import messages as m
from firmware_protocol.controller import Controller
from tests.firmware_protocol.differential import Clock

VALID = [m.fire(5, 1), m.arm(6, 2, 100), m.hello(7), m.status(8), m.set_value(9, 1, 200),
         m.disarm(10), m.heartbeat(11), m.fire(12, 4)]
FUZZ = settings(max_examples=6000, deadline=500,
                suppress_health_check=[HealthCheck.too_slow], derandomize=True)
FIRMWARE_FUZZ = settings(FUZZ, max_examples=1000)


def check_stream(data: bytes) -> None:
    ctl = Controller(clock=Clock(), recycle_ms=50)
    ctl.receive(m.hello(1))  # negotiated, so FIRE would be acted on
    ctl.settings[m.Key.MAX_FIRES_PER_MINUTE] = 600
    reader = codec.FrameReader()
    for item in reader.feed(data):
        before = len(ctl.fires)
        replies = ctl.receive(item)
        assert all(isinstance(r, codec.Frame) for r in replies)
        for r in replies:
            assert codec.decode(r.encode()) == r  # the controller only emits valid frames
        if len(ctl.fires) > before:
            assert isinstance(item, codec.Frame), "a frame that failed to decode fired a flash"
            assert item.type == m.T.FIRE and len(item.payload) == 1 and item.payload[0] < 5
            assert codec.decode(item.encode()) == item
        ctl.poll()


@FUZZ
@given(st.binary(max_size=120))
def test_random_bytes(data):
    for wire in (data, data + b"\x00"):
        try:
            codec.decode(wire)
        except codec.DecodeError:
            pass
    check_stream(data + b"\x00")


@st.composite
def mutated(draw):
    frame = draw(st.sampled_from(VALID))
    wire = bytearray(frame.encode())
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "set", "insert", "delete"]))
        i = draw(st.integers(0, len(wire) - 1))
        if op == "flip":
            wire[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            wire[i] = draw(st.integers(0, 255))
        elif op == "insert":
            wire.insert(i, draw(st.integers(0, 255)))
        elif len(wire) > 1:
            del wire[i]
    return bytes(wire)


@FUZZ
@given(mutated())
def test_mutated_frames(data):
    check_stream(data + b"\x00")


def check_firmware(link, data: bytes) -> None:
    link.begin()  # a fresh, negotiated controller on both sides
    link.send(data)
    link.finish().check(data)


@FIRMWARE_FUZZ
@given(data=st.binary(max_size=120))
def test_firmware_random_bytes(link, data):
    check_firmware(link, data + b"\x00")


@FIRMWARE_FUZZ
@given(data=mutated())
def test_firmware_mutated_frames(link, data):
    check_firmware(link, data + b"\x00")
