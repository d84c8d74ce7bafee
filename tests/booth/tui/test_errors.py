"""Errors, abort, quit and responsiveness: the app never freezes, never ends on an error, and
leaves the flashes disarmed."""

from textual.worker import WorkerState

from booth.hardware.simulated import CameraFaults
from booth.session import SessionStore
from booth.tui.screens.doctor import DoctorScreen
from booth.tui.screens.session_main import SessionScreen
from booth.tui.script import add_subject, open_session, until
from booth.tui.widgets.log import LogPanel


async def capture_under_way(pilot, app):
    """Open a session, add p1, start a capture and wait for its first photo."""
    await open_session(pilot)
    await add_subject(pilot)
    await pilot.press("c")
    screen = app.screen
    await until(pilot, lambda: screen.query_one("#shots").state["center"][0] == "stored",
                what="the first shot")
    return screen


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_camera_error_notifies_and_leaves_capture_aborted(make_app, tmp_path):
    # The left shot fails on every attempt (3 = 1 + 2 retries): the capture is aborted.
    app = make_app(sim={"camera_faults": CameraFaults({1: -52, 2: -52, 3: -52})})
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await add_subject(pilot)
        await pilot.press("c")
        screen = app.screen
        await until(pilot, lambda: screen.finished is not None, what="the capture")
        result = screen.finished.result
        assert result.status == "aborted" and "simulated camera error -52" in result.reason
        assert any("capture aborted" in n for n in notifications(app))
        assert "ABORTED" in str(screen.query_one("#capture-status").render())
        assert app.station.sim.controller.armed is None
        # The app is still up: back to the session, which lists the aborted capture.
        await pilot.press("escape")
        assert isinstance(app.screen, SessionScreen)
    [info] = SessionStore(tmp_path / "sessions").session("s1").verify()
    assert info.status == "aborted"


def capture_worker_running(app) -> bool:
    return any(w.group == "hardware" and w.state == WorkerState.RUNNING
               for w in app.workers)


async def test_abort_key_mid_capture_and_responsiveness(make_app, tmp_path):
    # Keys are handled while the hardware works (a second per shot): the log panel toggles
    # off and on again before the capture's worker is done. How fast is measured by
    # benchmarks/tui.py, not asserted here.
    app = make_app(sim={"camera_faults": CameraFaults(latency_ms=1000)})
    async with app.run_test(size=(140, 48)) as pilot:
        screen = await capture_under_way(pilot, app)
        panel = screen.query_one("#log", LogPanel)
        assert panel.display
        for shown in (False, True):
            await pilot.press("l")
            await until(pilot, lambda shown=shown: panel.display == shown,
                        what=f"the log panel to {'show' if shown else 'hide'}")
            # Still running once the key has been handled: handled mid-capture.
            assert screen.running and screen.finished is None
            assert capture_worker_running(app)
        await pilot.press("x")
        await until(pilot, lambda: screen.finished is not None, what="the abort")
        result = screen.finished.result
        assert result.status == "aborted" and result.reason == "stopped by the operator"
        assert app.station.sim.controller.armed is None
        assert len(app.station.sim.fired_log) < 5
    [info] = SessionStore(tmp_path / "sessions").session("s1").verify()
    assert info.status == "aborted"


async def test_quit_mid_capture_aborts_and_closes(make_app, tmp_path):
    app = make_app(sim={"camera_faults": CameraFaults(latency_ms=1000)})
    async with app.run_test(size=(140, 48)) as pilot:
        await capture_under_way(pilot, app)
        sim = app.station.sim
        await pilot.press("q")
        await until(pilot, lambda: app.station is None, what="the station to close")
    assert sim.controller.armed is None
    [info] = SessionStore(tmp_path / "sessions").session("s1").verify()
    assert info.status == "aborted"


async def test_doctor_view(make_app):
    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await pilot.press("d")
        assert isinstance(app.screen, DoctorScreen)
        table = app.screen.query_one("#checks")
        await until(pilot, lambda: table.row_count == 4, what="the checks")
        names = [table.get_row_at(i)[1] for i in range(4)]
        assert names == ["serial port", "flash controller", "camera", "disk"]
        assert "all checks pass" in str(app.screen.query_one("#doctor-status").render())


async def test_booth_that_fails_to_open_leaves_the_app_up(tmp_path):
    from booth.tui.app import BoothApp

    app = BoothApp(backend="gphoto2", sessions=tmp_path / "sessions", image_mode="none")
    async with app.run_test(size=(140, 48)) as pilot:
        await until(pilot, lambda: app.station_error != "", what="the failure")
        assert "--port" in app.station_error
        assert any("booth not connected" in n for n in notifications(app))
        await open_session(pilot)
        await add_subject(pilot)
        await pilot.press("c")
        assert isinstance(app.screen, SessionScreen)
        assert any("not connected" in n for n in notifications(app)[-1:])
        await pilot.press("d")
        table = app.screen.query_one("#checks")
        await until(pilot, lambda: table.row_count == 2, what="the checks")
        assert "FAIL" in str(table.get_row_at(0)[0])
