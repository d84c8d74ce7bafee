"""The doctor view: each check of the booth, pass or fail, with what to do."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from booth import diagnostics as doctor
from booth.tui.events import DoctorFinished


class DoctorScreen(Screen):
    BINDINGS = [("escape", "app.pop_screen", "Back"), ("r", "rerun", "Run again")]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Label("checking…", id="doctor-status")
        yield DataTable(id="checks", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Doctor"
        self.query_one("#checks", DataTable).add_columns("", "check", "result / what to do")
        self.action_rerun()

    def action_rerun(self) -> None:
        self.query_one("#doctor-status", Label).update("checking…")
        self.run_checks()

    @work(thread=True, exclusive=True, group="doctor", exit_on_error=False)
    def run_checks(self) -> None:
        app = self.app
        sessions = Path(app.store.root)
        if app.station is None:
            checks = [("booth", False, app.station_error or "still connecting"),
                      doctor.check_disk(sessions)]
        else:
            checks = doctor.station_checks(app.station, sessions)
        self.post_message(DoctorFinished(checks))

    def on_doctor_finished(self, message: DoctorFinished) -> None:
        table = self.query_one("#checks", DataTable)
        table.clear()
        for name, ok, msg in message.checks:
            mark = Text("PASS", style="green") if ok else Text("FAIL", style="bold red")
            table.add_row(mark, name, msg)
        bad = sum(not ok for _, ok, _ in message.checks)
        self.query_one("#doctor-status", Label).update(
            "all checks pass" if not bad else f"{bad} check(s) fail: see what to do")
