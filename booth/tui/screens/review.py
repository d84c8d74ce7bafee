"""Review: a session's captures after the sitters leave, their pictures and retake marks.

The rows and marks come from :mod:`booth.capture_review`, as ``booth sessions list`` and ``booth
sessions mark`` do; the pictures are the camera's originals and the capture's ``derived/``.
"""

from __future__ import annotations

import datetime as _dt

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Header, Input, Label

from booth.capture_review import DERIVED_PICTURES, Reviewed, mark_retake, pictures, review
from booth.session import Session, SessionError, SessionStore
from booth.tui.widgets.thumbs import Thumbnails
from photometric.errors import InputError


def shown_time(iso: str) -> str:
    """A capture's start (ISO, UTC) as the operator's local clock time; '-' when unknown."""
    try:
        return _dt.datetime.fromisoformat(iso).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return "-"


class RetakeNote(ModalScreen[str | None]):
    """Why the capture is marked: Enter marks (the note may be empty), Escape cancels."""

    BINDINGS = [("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    RetakeNote { align: center middle; }
    RetakeNote > Vertical { width: 70; height: auto; border: thick $warning; padding: 1 2;
                            background: $surface; }
    """

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Mark {self.what} for retake", classes="title")
            yield Input(placeholder="why (optional): eyes closed, moved, …", id="retake-note")
            yield Label("Enter marks it, Escape cancels", classes="subtitle")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ReviewScreen(Screen):
    BINDINGS = [
        ("escape", "back", "Back"),
        ("r", "mark", "Mark for retake"),
        ("u", "unmark", "Clear mark"),
        ("o", "folder", "Folder path"),
        ("l", "relight", "Relight"),
    ]

    def __init__(self, store: SessionStore, session: str | None = None) -> None:
        super().__init__()
        self.store = store
        self.session: Session | None = None
        self.first = session
        self.rows: dict[str, Reviewed] = {}
        self.shown: str | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="review-body"):
            with Vertical(id="review-sessions"):
                yield Label("Sessions", classes="subtitle")
                yield DataTable(id="review-session-table", cursor_type="row")
            with Vertical(id="review-captures"):
                yield Label("", id="review-info")
                yield DataTable(id="review-table", cursor_type="row", zebra_stripes=True)
        with VerticalScroll(id="review-pictures"):
            yield Label("", id="review-detail")
            yield Thumbnails(self.app.image_mode, id="review-photos")
            yield Thumbnails(self.app.image_mode, id="review-derived")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Review"
        sessions = self.query_one("#review-session-table", DataTable)
        sessions.add_columns("session", "captures")
        table = self.query_one("#review-table", DataTable)
        table.add_columns("subject", "capture", "started", "status", "QC warnings")
        found = self.app.sessions()
        for s in found:
            sessions.add_row(s.name, str(len(s.captures())), key=s.name)
        if not found:
            self.query_one("#review-info", Label).update(
                f"no sessions in {self.store.root} yet (s on the home screen: capture)")
            return
        names = [s.name for s in found]
        first = self.first if self.first in names else names[-1]
        sessions.move_cursor(row=names.index(first))
        self.open(first)
        table.focus()

    @on(DataTable.RowHighlighted, "#review-session-table")
    def _session_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name = str(event.row_key.value)
        if self.session is None or self.session.name != name:
            self.open(name)

    def open(self, name: str) -> None:
        try:
            self.session = self.store.session(name)
        except SessionError as exc:
            self.app.report(str(exc), "error")
            return
        self.refresh_rows()

    def refresh_rows(self, select: str | None = None) -> None:
        table = self.query_one("#review-table", DataTable)
        table.clear()
        self.rows = {}
        s = self.session
        if s is None:
            return
        for r in review(s):
            key = f"{r.info.subject}/{r.info.capture_id}"
            self.rows[key] = r
            warnings = "; ".join(r.warnings) or "-"
            if r.retake and r.retake.note:
                warnings = f"retake: {r.retake.note}; {warnings}"
            table.add_row(r.info.subject, r.info.capture_id, shown_time(r.info.started),
                          r.state, warnings,
                          key=key)
        marked = sum(bool(r.retake) for r in self.rows.values())
        self.query_one("#review-info", Label).update(
            f"Session {s.name}: {len(self.rows)} captures, {marked} marked for retake   "
            f"(r mark, u clear, o folder path)")
        if select in self.rows:
            table.move_cursor(row=list(self.rows).index(select))
        if not self.rows:
            self.shown = None
            self.query_one("#review-detail", Label).update("no captures in this session")

    @on(DataTable.RowHighlighted, "#review-table")
    async def _capture_highlighted(self, event: DataTable.RowHighlighted) -> None:
        key = str(event.row_key.value)
        if key == self.shown or key not in self.rows:
            return
        self.shown = key
        r = self.rows[key]
        found = pictures(r.info.path)
        detail = f"{key}: {r.state}   folder {r.info.path}"
        if r.info.problems:
            detail += "\nproblems: " + "; ".join(r.info.problems)
        if r.info.note:
            detail += f"\n{r.info.note}"
        self.query_one("#review-detail", Label).update(detail)
        await self.query_one("#review-photos", Thumbnails).show(
            {k: v for k, v in found.items() if k not in DERIVED_PICTURES})
        await self.query_one("#review-derived", Thumbnails).show(
            {k: v for k, v in found.items() if k in DERIVED_PICTURES})

    def selected(self) -> Reviewed | None:
        table = self.query_one("#review-table", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(str(key))

    def action_mark(self) -> None:
        r = self.selected()
        if r is None or self.session is None:
            self.app.report("no capture to mark", "warning")
            return
        key = f"{r.info.subject}/{r.info.capture_id}"

        def marked(note: str | None) -> None:
            if note is not None:
                self._mark(r, key, note, clear=False)

        self.app.push_screen(RetakeNote(key), marked)

    def action_unmark(self) -> None:
        r = self.selected()
        if r is not None and r.retake:
            self._mark(r, f"{r.info.subject}/{r.info.capture_id}", "", clear=True)

    def _mark(self, r: Reviewed, key: str, note: str, clear: bool) -> None:
        try:
            mark_retake(self.session, r.info.subject, r.info.capture_id, note, clear=clear)
        except (SessionError, InputError, OSError) as exc:
            self.app.report(str(exc), "error")
            return
        self.app.report(f"{key}: " + ("mark cleared" if clear else "marked for retake"))
        self.refresh_rows(select=key)

    def action_folder(self) -> None:
        r = self.selected()
        if r is not None:
            self.app.copy_to_clipboard(str(r.info.path))
            self.app.report(f"folder of {r.info.subject}/{r.info.capture_id}: {r.info.path} "
                            "(copied to the clipboard where the terminal allows)")

    def action_relight(self) -> None:
        r = self.selected()
        if r is not None:
            self.app.show_relight(str(r.info.path))

    def action_back(self) -> None:
        self.app.pop_screen()
