"""The host client against the emulator over a real pseudo-terminal.

The controller runs on a :class:`FakeClock` the test advances: recycling, heartbeat loss and
delayed events happen when the test says so, however loaded the machine, and
:meth:`Emulator.poll` makes the controller look at the new time before the test goes on.
Wall-clock figures (round trips, the worst command under corruption) are measured in
``benchmarks/flash_link.py``, not asserted here.

The tests taking a ``target`` run twice: against the emulator and against the compiled
firmware in simavr (:class:`~firmware_protocol.simavr.FirmwareSim`), whose clock is the AVR's
own, paced to the wall clock: there "advancing" the clock waits until the AVR has run that
long, and the recycle interval is longer so the host's own latency cannot blur it.
"""


import pytest

from booth.hardware.flashlink import FlashController, FlashError
from firmware_protocol import messages as m
from firmware_protocol import simavr
from firmware_protocol.controller import Controller
from firmware_protocol.emulator import Emulator, Faults
from tests.conftest import wait_until


class FakeClock:
    """The controller's clock: it stands still until the test advances it."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class EmulatorTarget:
    """The emulator on a :class:`FakeClock`."""

    def __init__(self, recycle_ms: int = 50, faults: Faults | None = None,
                 seed: int | None = None):
        self.clock = FakeClock()
        self.recycle_ms = recycle_ms
        self.emu = Emulator(Controller(self.clock, recycle_ms=recycle_ms), faults, seed)
        self.path = self.emu.start()

    def connect(self, **kw) -> FlashController:
        return FlashController(self.path, **kw)

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def xsync(self) -> None:
        self.emu.xsync()

    def fires(self) -> list[int]:
        return [r.channel for r in self.emu.controller.fires]

    def check_interval(self, dt_us: int, seconds: float) -> None:
        assert abs(dt_us - seconds * 1e6) <= 1  # exactly the clock's steps

    def stop(self) -> None:
        self.emu.stop()


class FirmwareTarget:
    """The compiled firmware in simavr, in real time. Opening the port resets the AVR (as
    an Uno's DTR does), so :meth:`connect` sets the recycle interval each time."""

    def __init__(self, recycle_ms: int = 300, faults: Faults | None = None,
                 seed: int | None = None):
        faults = faults or Faults()
        self.recycle_ms = recycle_ms
        self.sim = simavr.FirmwareSim(drop=faults.drop, corrupt=faults.corrupt, seed=seed)
        self.path = self.sim.start()

    def connect(self, **kw) -> FlashController:
        fc = FlashController(self.path, **kw)
        try:
            fc.set_value(m.Key.RECYCLE_MS, self.recycle_ms)
        except BaseException:
            fc.close()
            raise
        return fc

    def advance(self, seconds: float) -> None:
        """Until the AVR has run ``seconds`` more (of its clock, which follows the wall's)."""
        start = self.sim.sync()
        wait_until(lambda: self.sim.sync() - start >= seconds * self.sim.frequency,
                   f"{seconds * 1e3:g} ms of the AVR's time", every=0.002)

    def xsync(self) -> None:
        self.sim.xsync()

    def fires(self) -> list[int]:
        self.sim.sync()  # every edge up to now reported
        return self.sim.fires

    def check_interval(self, dt_us: int, seconds: float) -> None:
        # At least the time advanced (the AVR's clock, measured by its own timer), plus
        # however long the host took between the two commands.
        assert seconds * 1e6 <= dt_us <= seconds * 1e6 + 500_000

    def stop(self) -> None:
        self.sim.stop()


TARGETS = {"emulator": EmulatorTarget, "firmware": FirmwareTarget}


@pytest.fixture(params=list(TARGETS))
def make_target(request):
    """Makes the controller under test: the emulator, or the firmware in simavr."""
    if request.param == "firmware":
        request.getfixturevalue("simavr_ready")
    made = []

    def make(**kw):
        made.append(TARGETS[request.param](**kw))
        return made[-1]

    yield make
    for t in made:
        t.stop()


@pytest.fixture
def target(make_target):
    return make_target()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def emu(clock):
    with Emulator(Controller(clock, recycle_ms=50)) as e:
        yield e


def test_handshake_status_arm_fire(target):
    recycle = target.recycle_ms / 1e3
    with target.connect() as fc:
        assert fc.info == m.HelloInfo(1, (1, 0, 0), 5)
        st = fc.status()
        assert st.state == m.State.IDLE and st.armed is None and st.ready_mask == 0b11111
        fc.arm("left", 200)
        st = fc.status()
        assert st.state == m.State.ARMED and st.armed == 1 and st.power == 200
        target.xsync()
        first = fc.wait_fired("left")
        assert fc.status().armed is None  # one arm, one flash
        target.advance(0.01)
        fc.fire("top")
        second = fc.wait_fired("top")
        target.advance(1.2 * recycle)  # past the recycle
        fc.fire("top")
        third = fc.wait_fired("top")
        assert first.t_us < second.t_us < third.t_us
        # Time stamps are the controller's clock, in µs.
        target.check_interval(second.t_us - first.t_us, 0.01)
        target.check_interval(third.t_us - second.t_us, 1.2 * recycle)
        assert target.fires() == [1, 3, 3]
        assert fc.status().fires_last_minute == 3


def test_recycle_interval_is_enforced(target):
    recycle = target.recycle_ms / 1e3
    with target.connect() as fc:
        fc.fire("right")
        with pytest.raises(FlashError, match="NOT_READY.*recycling"):
            fc.fire("right")
        target.advance(0.8 * recycle)  # 80 % of the recycle
        with pytest.raises(FlashError, match="NOT_READY.*recycling"):
            fc.fire("right")
        target.advance(0.4 * recycle)
        fc.fire("right")
    assert target.fires() == [2, 2]


def test_xsync_before_recycle_does_not_fire(target):
    with target.connect() as fc:
        fc.fire("center")
        fc.wait_fired("center")
        fc.arm("center")
        target.xsync()  # the flash is still recycling
        with pytest.raises(FlashError, match="no FIRED event"):
            fc.wait_fired("center", timeout=0.1)
        assert fc.status().armed is None  # the X-sync used up the arm all the same
    assert target.fires() == [0]


def test_rate_limit(target):
    with target.connect() as fc:
        fc.set_value(m.Key.MAX_FIRES_PER_MINUTE, 2)
        fc.fire("left")
        fc.fire("right")
        with pytest.raises(FlashError, match="RATE_LIMIT"):
            fc.fire("top")
        with pytest.raises(FlashError, match="BAD_VALUE"):
            fc.set_value(m.Key.RECYCLE_MS, 5)


def test_heartbeat_loss_disarms(emu, clock):
    bottom = m.CHANNELS.index("bottom")
    with FlashController(emu.path, heartbeat=None) as fc:  # a host that goes silent
        fc.set_value(m.Key.HEARTBEAT_TIMEOUT_MS, 200)
        fc.arm("bottom")
        clock.advance(0.15)
        emu.poll()
        assert emu.controller.armed == bottom  # 150 of the 200 ms: still armed
        clock.advance(0.1)
        emu.poll()
        assert emu.controller.armed is None
        # The FAULT went out before this reply, so reading up to the reply has queued it.
        st = fc.status()
        assert st.armed is None and st.last_fault == m.Fault.HEARTBEAT_LOST
        faults = [ev for ev in fc.events() if ev.type == m.T.FAULT]
        assert faults and faults[-1].payload[0] == m.Fault.HEARTBEAT_LOST
    # With heartbeats the arm survives the same 350 ms of the controller's time: each step
    # is shorter than the timeout, and the host's own heartbeat thread answers it.
    with FlashController(emu.path, heartbeat=0.02) as live:
        live.set_value(m.Key.HEARTBEAT_TIMEOUT_MS, 200)
        live.arm("bottom")
        for _ in range(7):
            clock.advance(0.05)
            emu.poll()
            assert emu.controller.armed == bottom
            wait_until(lambda: emu.controller.last_rx >= clock.now, "a heartbeat",
                       every=0.001)
        assert live.status().armed == bottom
        assert not [ev for ev in live.events() if ev.type == m.T.FAULT]


def test_bad_channel_and_unknown_flash(target):
    with target.connect() as fc:
        with pytest.raises(FlashError, match="unknown flash 'side'"):
            fc.fire("side")
        with pytest.raises(FlashError, match="out of range"):
            fc.arm(7)


def test_withheld_fired_event_is_a_clear_error():
    with Emulator(Controller(recycle_ms=50), Faults(withhold_fired=True)) as emu:
        with FlashController(emu.path) as fc:
            fc.fire("left")
            with pytest.raises(FlashError, match="no FIRED event from the left flash"):
                fc.wait_fired("left", timeout=0.1)


def test_delayed_fired_event_arrives():
    clock = FakeClock()
    with Emulator(Controller(clock, recycle_ms=50), Faults(fired_delay_ms=80)) as emu:
        with FlashController(emu.path) as fc:
            clock.advance(0.5)
            fc.fire("left")
            fired_at = clock.now
            clock.advance(0.07)  # 70 of the 80 ms delay
            emu.poll()
            fc.status()  # whatever was sent before this reply has been read
            with pytest.raises(FlashError, match="no FIRED event"):
                fc.wait_fired("left", timeout=0)  # held back, not lost
            clock.advance(0.02)
            emu.poll()
            fired = fc.wait_fired("left", timeout=10.0)
            assert fired.t_us == int((fired_at - emu.controller.start) * 1e6)  # fire time


def test_not_ready_flash():
    with Emulator(Controller(not_ready=frozenset({2}))) as emu:
        with FlashController(emu.path) as fc:
            assert not fc.status().ready_mask & 0b100
            with pytest.raises(FlashError, match="NOT_READY"):
                fc.fire("right")


def test_silent_controller_and_missing_port():
    with Emulator(faults=Faults(silent=True)) as emu:
        with pytest.raises(FlashError, match=r"did not answer HELLO \(3 tries, 50 ms each\)"
                                             r".*cable"):
            FlashController(emu.path, timeout=0.05, retries=3)
    with pytest.raises(FlashError, match="no serial port /dev/nonexistent-flash"):
        FlashController("/dev/nonexistent-flash")


def test_wrong_firmware_version(monkeypatch):
    monkeypatch.setattr("firmware_protocol.controller.VERSIONS", (2, 2))
    with Emulator() as emu:
        with pytest.raises(FlashError, match="BAD_VERSION.*update its firmware"):
            FlashController(emu.path)


def test_under_byte_corruption_no_command_fires_twice(make_target):
    """5 % of bytes corrupted both ways: each FIRE succeeds or fails with a clear message,
    most succeed, and the controller never fires twice for one command. (How long a command
    takes at worst is measured by ``benchmarks/flash_link.py``.)"""
    target = make_target(recycle_ms=50, faults=Faults(corrupt=0.05), seed=7)
    fc = None
    for _ in range(20):  # the handshake itself may need a few attempts
        try:
            fc = target.connect(timeout=0.05, retries=8)
            break
        except FlashError:
            continue
    assert fc is not None
    fc.set_value(m.Key.MAX_FIRES_PER_MINUTE, 600)
    ok = failed = 0
    before = len(target.fires())
    for i in range(120):
        try:
            fc.fire(i % 5)
            ok += 1
            expected = {1}
        except FlashError as exc:
            assert "did not answer" in str(exc) or "refused" in str(exc)
            failed += 1
            expected = {0, 1}  # its ACK lost on every try: the flash may have fired
        target.advance(0.02)  # each flash's turn comes every 100 ms: recycled
        now = len(target.fires())
        # Every success fired, and no command fired twice (however often it was resent).
        assert now - before in expected
        before = now
    fc.close()
    print(f"{ok} succeeded, {failed} failed, {len(target.fires())} fires")
    assert ok > 90
    if isinstance(target, EmulatorTarget):
        # The controller's log has no repeated seq within a window of 255 commands.
        causes = [r.cause for r in target.emu.controller.fires if r.cause.startswith("FIRE")]
        assert len(causes) == len(set(causes)) and len(causes) >= ok


def test_commands_from_several_threads(target):
    import threading

    errors = []
    with target.connect(heartbeat=0.01) as fc:

        def work(ch):
            try:
                for _ in range(25):
                    fc.arm(ch)
                    assert fc.status().state in (m.State.IDLE, m.State.ARMED)
            except Exception as exc:  # noqa: BLE001 - collected for the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(ch,)) for ch in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
