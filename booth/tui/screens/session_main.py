"""A session's main screen: its subjects and captures, the hardware, the log."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Label

from booth.session import Session
from booth.tui.widgets.hardware_panel import HardwarePanel
from booth.tui.widgets.log import LogPanel

HELP = ("a add subject   c capture   r retake   k calibrate   d doctor   "
        "s sessions   l log   q quit")


class SessionScreen(Screen):
    BINDINGS = [
        ("a", "add_subject", "Add subject"),
        ("c", "capture", "Capture"),
        ("r", "retake", "Retake"),
        ("k", "calibrate", "Calibrate"),
        ("d", "doctor", "Doctor"),
        ("s", "sessions", "Sessions"),
        Binding("escape", "sessions", "Sessions", show=False),
        ("l", "toggle_log", "Log"),
    ]

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="session-body"):
            with Vertical(id="captures-pane"):
                yield Label("", id="session-info")
                yield DataTable(id="captures", cursor_type="row", zebra_stripes=True)
            with Vertical(id="side-pane"):
                yield HardwarePanel(id="hardware")
                yield Label(HELP, id="help")
        yield LogPanel(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.title = f"Session {self.session.name}"
        table = self.query_one("#captures", DataTable)
        table.add_columns("subject", "capture", "status", "note")
        self.refresh_captures()
        table.focus()

    def on_screen_resume(self) -> None:
        self.refresh_captures()

    def refresh_captures(self, select: str | None = None) -> None:
        s = self.session
        info = self.query_one("#session-info", Label)
        info.update(f"Session {s.name}   operator {s.meta.get('operator') or '-'}   "
                    f"config {self.app.config_source}   "
                    f"calibration {s.calibration_id or 'none (nominal lights)'}")
        table = self.query_one("#captures", DataTable)
        table.clear()
        infos = s.captures()
        with_captures = {i.subject for i in infos}
        for subject in s.subjects():
            if subject not in with_captures:
                table.add_row(subject, "-", "no capture yet", "", key=f"{subject}/")
        for i in infos:
            note = f"superseded by {i.superseded_by}" if i.superseded_by else ""
            if i.problems:
                note = "; ".join(i.problems)
            status = "superseded" if i.superseded_by else i.status
            table.add_row(i.subject, i.capture_id, status, note, key=f"{i.subject}/{i.capture_id}")
        if select is not None:
            try:
                table.move_cursor(row=table.get_row_index(select))
            except Exception:  # noqa: BLE001 - a row that is gone: keep the cursor where it is
                pass

    def selected(self) -> tuple[str, str | None] | None:
        """(subject, capture id or None) of the highlighted row."""
        table = self.query_one("#captures", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        subject, _, capture = str(key).partition("/")
        return subject, capture or None

    def action_add_subject(self) -> None:
        from booth.tui.screens.subject import AddSubjectScreen

        def added(subject: str | None) -> None:
            if subject:
                self.app.report(f"subject {subject} added with consent")
                self.refresh_captures(select=f"{subject}/")

        self.app.push_screen(AddSubjectScreen(self.session), added)

    def action_capture(self) -> None:
        sel = self.selected()
        if sel is None:
            self.app.report("add a subject first (a)", "warning")
            return
        self.app.start_capture(self.session, sel[0])

    def action_retake(self) -> None:
        sel = self.selected()
        if sel is None or sel[1] is None:
            self.app.report("select a capture to retake", "warning")
            return
        self.app.start_capture(self.session, sel[0], supersedes=sel[1])

    def action_calibrate(self) -> None:
        self.app.start_calibration(self.session)

    def action_doctor(self) -> None:
        self.app.show_doctor()

    def action_sessions(self) -> None:
        self.app.pop_screen()

    def action_toggle_log(self) -> None:
        log = self.query_one("#log", LogPanel)
        log.display = not log.display
