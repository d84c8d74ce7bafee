"""Calibrate: photograph the sphere, show the fitted lights and residual, adopt it."""

from __future__ import annotations

import logging
import threading

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from booth.session import Session, SessionError
from booth.tui.events import CalibrationFinished, CaptureProgress
from booth.tui.screens.capture import shot_names
from booth.tui.widgets.log import LogPanel
from booth.tui.widgets.shots import ShotList
from booth.workflows import calibrate_session

log = logging.getLogger(__name__)


class CalibrateScreen(Screen):
    """Place the white sphere where the face goes; ``u`` makes the fit the session's."""

    BINDINGS = [
        ("enter", "start", "Photograph the sphere"),
        ("x", "abort", "Abort"),
        ("escape", "back", "Back / abort"),
        ("u", "use", "Use for session"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.cancel = threading.Event()
        self.running = False
        self.outcome = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="calibrate-body"):
            yield ShotList([s for s in shot_names(self.app.station) if s != "ambient"],
                           id="shots")
            with Vertical():
                yield Label("Put the white calibration sphere where the face goes, then press "
                            "Enter to photograph it under the five flashes.",
                            id="calibration-status")
                lights = DataTable(id="lights", cursor_type="none")
                lights.can_focus = False  # Enter belongs to the screen: it starts the shots
                yield lights
                yield Label("", id="residual")
        yield LogPanel(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"{self.session.name} · calibration"
        self.query_one("#lights", DataTable).add_columns(
            "flash", "direction x", "y", "z", "off axis°", "intensity")

    def action_start(self) -> None:
        if self.running or self.outcome is not None:
            return
        self.query_one("#calibration-status", Label).update(
            "photographing the calibration sphere…")
        self.running = True
        self.run_calibration()

    @work(thread=True, exclusive=True, group="hardware", exit_on_error=False)
    def run_calibration(self) -> None:
        """The calibration workflow (sphere photos, then the fit), off the UI thread."""
        try:
            outcome = calibrate_session(
                self.app.station, self.session,
                lambda ev: self.post_message(CaptureProgress(ev)), self.cancel)
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            log.exception("calibration failed")
            self.post_message(CalibrationFinished(None, str(exc) or type(exc).__name__))
            return
        if outcome.error is not None:
            log.error("calibration fit failed", exc_info=outcome.error)
        self.post_message(CalibrationFinished(outcome, outcome.error_text))

    def on_capture_progress(self, message: CaptureProgress) -> None:
        self.query_one("#shots", ShotList).apply(message.event)

    def on_calibration_finished(self, message: CalibrationFinished) -> None:
        import numpy as np

        self.running = False
        status = self.query_one("#calibration-status", Label)
        out = message.outcome
        if out is None or out.calibration is None:
            why = message.error or (out.capture.reason if out else "")
            status.update(f"calibration failed: {why}")
            self.app.report(f"calibration failed: {why}", "error")
            return
        self.outcome = out
        rig = out.calibration.rig
        table = self.query_one("#lights", DataTable)
        for ch in rig.directions:
            d = rig.direction(ch)
            elev = float(np.degrees(np.arccos(np.clip(d[2], -1, 1))))
            table.add_row(ch, f"{d[0]:+.4f}", f"{d[1]:+.4f}", f"{d[2]:+.4f}", f"{elev:.1f}",
                          f"{rig.intensity(ch):.3f}")
        r = out.calibration.residuals
        self.query_one("#residual", Label).update(
            f"residual on the sphere: lambertian {r['lambertian_mean_deg']:.2f}° mean, "
            f"simplified {r['simplified_mean_deg']:.2f}° mean\n"
            f"camera response: {out.calibration.response.summary()}"
            + ("" if out.calibration.response_fitted else " (not fitted)"))
        status.update(f"calibration {out.calibration_id} fitted: u makes it the session's, "
                      "escape leaves the session's as it is")
        self.app.report(f"calibration {out.calibration_id} fitted "
                        f"({r['lambertian_mean_deg']:.2f}° on the sphere)")

    def action_use(self) -> None:
        if self.outcome is None:
            self.app.report("no fitted calibration yet", "warning")
            return
        try:
            self.session.set_calibration(self.outcome.calibration_id)
        except SessionError as exc:
            self.app.report(str(exc), "error")
            return
        self.app.report(f"calibration {self.outcome.calibration_id} is now the session's")
        self.app.pop_screen()

    def action_abort(self) -> None:
        if self.running:
            self.cancel.set()
            self.app.report("abort requested: calibration stops after the shot under way",
                            "warning")

    def action_back(self) -> None:
        if self.running:
            self.action_abort()
        else:
            self.app.pop_screen()
