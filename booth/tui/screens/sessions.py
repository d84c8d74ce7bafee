"""Open or create a session: the app's first screen."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Header, Input, Label

from booth.session import SessionStore


class SessionsScreen(Screen):
    """Type a name (and operator) to create a session, or pick one from the table."""

    BINDINGS = [("ctrl+n", "focus_name", "New session"), ("ctrl+t", "focus_table", "Sessions"),
                ("escape", "app.pop_screen", "Home")]

    def __init__(self, store: SessionStore) -> None:
        super().__init__()
        self.store = store

    def compose(self) -> ComposeResult:
        yield Header()
        with Vertical(id="sessions-body"):
            yield Label("Open or create a session", classes="title")
            with Horizontal(id="new-session"):
                yield Input(placeholder="session name (letters, digits, . _ -)",
                            id="session-name")
                yield Input(placeholder="operator", id="operator")
                yield Button("Open", id="open", variant="primary")
            yield Label(f"Sessions in {self.store.root}", classes="subtitle")
            yield DataTable(id="sessions", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Photometric booth"
        table = self.query_one("#sessions", DataTable)
        table.add_columns("session", "operator", "subjects", "captures", "calibration")
        self.refresh_sessions()
        self.query_one("#session-name", Input).focus()

    def on_screen_resume(self) -> None:
        self.refresh_sessions()

    def refresh_sessions(self) -> None:
        table = self.query_one("#sessions", DataTable)
        table.clear()
        for s in self.app.sessions():
            infos = s.captures()
            table.add_row(s.name, s.meta.get("operator") or "", str(len(s.subjects())),
                          str(len(infos)), s.calibration_id or "nominal", key=s.name)

    def action_focus_name(self) -> None:
        self.query_one("#session-name", Input).focus()

    def action_focus_table(self) -> None:
        self.query_one("#sessions", DataTable).focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#open")
    def _open_typed(self) -> None:
        name = self.query_one("#session-name", Input).value.strip()
        if not name:
            self.app.report("type a session name, or pick one from the table", "warning")
            return
        operator = self.query_one("#operator", Input).value.strip()
        self.app.open_session(name, operator)

    @on(DataTable.RowSelected, "#sessions")
    def _open_selected(self, event: DataTable.RowSelected) -> None:
        self.app.open_session(str(event.row_key.value), None)
