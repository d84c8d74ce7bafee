"""``booth tui``: the operator's app. Reading order: this file, then ``screens/``.

The app owns the :class:`~booth.station.Station` (opened in a worker thread at start) and
the session store; screens ask it to start work and it keeps the log. Every blocking call runs
in a thread worker; workers report with the typed messages of :mod:`booth.tui.events`. On
every exit the running capture is stopped and the station closed, which disarms the flashes.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import logging
from pathlib import Path

from textual import work

from booth.config import BoothConfig
from booth.session import Session, SessionError, SessionStore
from booth.station import HardwareStatus, SimOptions, Station
from booth.tui.events import HardwareUpdated, StationFailed, StationOpened
from booth.tui.keys import OrderedKeysApp
from booth.tui.screens.home import HomeScreen
from booth.tui.widgets.hardware_panel import HardwarePanel
from booth.tui.widgets.log import LogPanel
from booth.tui.widgets.thumbs import IMAGE_MODES
from booth.workflows import open_session

log = logging.getLogger("booth.tui")


def clock() -> str:
    """The log panel's time stamps (local time)."""
    return _dt.datetime.now().strftime("%H:%M:%S")


class BoothApp(OrderedKeysApp):
    CSS_PATH = "app.tcss"
    TITLE = "Photometric booth"
    BINDINGS = [("q", "quit", "Quit")]

    def __init__(self, config: BoothConfig | None = None, backend: str = "sim",
                 sessions: str | Path | None = None, port: str | None = None,
                 sim: SimOptions | None = None, image_mode: str = "auto",
                 poll_s: float = 1.0, config_source: str = "defaults",
                 work: str | Path = "work") -> None:
        super().__init__()
        self.work = Path(work)  # datasets, runs and the jobs that make them
        self.config_source = config_source
        if image_mode not in IMAGE_MODES:
            raise ValueError(f"image mode: expected one of {IMAGE_MODES}, got {image_mode!r}")
        self.config = config or BoothConfig()
        self.store = SessionStore(sessions or self.config.sessions)
        self.station_spec = (backend, port, sim)
        self.station: Station | None = None
        self.station_error = ""
        self.hardware: HardwareStatus | None = None
        self.image_mode = image_mode
        self.poll_s = poll_s
        self.log_lines: list[str] = []
        self._polling = False

    # -- start and stop -------------------------------------------------------------------
    def on_mount(self) -> None:
        self.push_screen(HomeScreen())
        self.open_station()
        if self.poll_s > 0:
            self.set_interval(self.poll_s, self.poll_hardware)

    @work(thread=True, exclusive=True, group="station", exit_on_error=False)
    def open_station(self) -> None:
        backend, port, sim = self.station_spec
        try:
            station = Station(self.config, backend, port, sim).open()
        except Exception as exc:  # noqa: BLE001 - shown in the app, which stays up
            log.exception("opening the booth failed")
            self.post_message(StationFailed(str(exc) or type(exc).__name__))
            return
        self.post_message(StationOpened(station))

    def on_station_opened(self, message: StationOpened) -> None:
        self.station = message.station
        self.station_error = ""
        self.report(f"booth connected ({message.station.backend}, flash controller on "
                    f"{message.station.port})")
        self.poll_hardware()

    def on_station_failed(self, message: StationFailed) -> None:
        self.station_error = message.error
        self.report(f"booth not connected: {message.error} (d: doctor)", "error")

    def stop_captures(self) -> bool:
        """Tell every running capture or calibration to stop; whether one was running."""
        running = False
        for screen in self.screen_stack:
            if getattr(screen, "running", False):
                screen.cancel.set()
                running = True
        return running

    async def action_quit(self) -> None:
        if self.stop_captures():
            self.report("stopping the capture before quitting…", "warning")
        await asyncio.to_thread(self.close_station)
        self.exit()

    def close_station(self) -> None:
        """Wait for a running capture to stop (it has been told to), then disarm and close."""
        station, self.station = self.station, None
        if station is None:
            return
        if not station.wait_idle(timeout=30):
            log.error("the capture did not stop within 30 s; closing the booth under it")
        station.close()

    def on_unmount(self) -> None:
        self.stop_captures()
        self.close_station()

    # -- hardware status ------------------------------------------------------------------
    def poll_hardware(self) -> None:
        if self.station is not None and not self._polling:
            self._polling = True
            self._poll()

    @work(thread=True, group="status", exit_on_error=False)
    def _poll(self) -> None:
        try:
            station = self.station
            if station is not None:
                self.post_message(HardwareUpdated(station.status(self.store.root)))
        finally:
            self._polling = False

    def on_hardware_updated(self, message: HardwareUpdated) -> None:
        self.hardware = message.status
        if not self.screen_stack:  # a status that arrives while the app shuts down
            return
        for panel in self.screen.query(HardwarePanel):
            panel.show(message.status)

    # -- what screens ask for -------------------------------------------------------------
    def report(self, text: str, severity: str = "information") -> None:
        """A line in the log panel; warnings and errors also as notifications."""
        line = f"{clock()} {severity[:4].upper() if severity != 'information' else 'info'} {text}"
        self.log_lines.append(line)
        getattr(log, {"information": "info"}.get(severity, severity), log.info)(text)
        for screen in self.screen_stack:  # screens underneath catch up too
            for panel in screen.query(LogPanel):
                panel.add(line)
        if severity in ("warning", "error"):
            self.notify(text, severity=severity, timeout=8)

    def sessions(self) -> list[Session]:
        """The store's sessions; an unreadable store is reported and reads as none."""
        try:
            return self.store.sessions() if self.store.root.is_dir() else []
        except SessionError as exc:
            self.report(str(exc), "error")
            return []

    def open_session(self, name: str, operator: str | None) -> None:
        from booth.tui.screens.session_main import SessionScreen

        try:
            if operator is None:
                session = self.store.session(name)
            else:
                session = open_session(self.store.root, name, operator, self.config)
        except (SessionError, OSError) as exc:
            self.report(str(exc), "error")
            return
        self.report(f"session {session.name} open ({session.path})")
        self.push_screen(SessionScreen(session))

    def _can_start(self) -> bool:
        if self.station is None:
            self.report("the booth is not connected" + (f": {self.station_error}"
                        if self.station_error else " yet"), "error")
            return False
        if self.station.busy:
            self.report("the booth is busy with another capture", "warning")
            return False
        return True

    def start_capture(self, session: Session, subject: str, supersedes: str | None = None):
        from booth.tui.screens.capture import CaptureScreen

        if self._can_start():
            self.push_screen(CaptureScreen(session, subject, supersedes))

    def start_calibration(self, session: Session) -> None:
        from booth.tui.screens.calibrate import CalibrateScreen

        if self._can_start():
            self.push_screen(CalibrateScreen(session))

    def action_open_task(self, task: str) -> None:
        """One of the home screen's tasks (:data:`booth.tui.screens.home.TASKS`)."""
        if task == "sessions":
            from booth.tui.screens.sessions import SessionsScreen

            self.push_screen(SessionsScreen(self.store))
        elif task == "review":
            from booth.tui.screens.review import ReviewScreen

            self.push_screen(ReviewScreen(self.store))
        elif task == "dataset":
            from booth.tui.screens.export import DatasetScreen

            self.push_screen(DatasetScreen(self.work, [str(self.store.root)]))
        elif task == "training":
            from booth.tui.screens.train import TrainScreen

            self.push_screen(TrainScreen(self.work))
        elif task == "models":
            from booth.tui.screens.evaluate import EvaluateScreen

            self.push_screen(EvaluateScreen(self.work))
        elif task == "relight":
            self.show_relight()
        elif task == "doctor":
            self.show_doctor()

    def show_relight(self, source: str = "", normals: str = "measured") -> None:
        from booth.tui.screens.relight import RelightScreen

        self.push_screen(RelightScreen(self.work, source, normals))

    def show_doctor(self) -> None:
        from booth.tui.screens.doctor import DoctorScreen

        self.push_screen(DoctorScreen())
