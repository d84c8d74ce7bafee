"""Add a subject: pseudonymous id and recorded consent (a modal form)."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label

from booth.session import Session, SessionError


class ConsentBox(Checkbox, inherit_bindings=False):
    """Space ticks it; Enter submits the form (Textual's checkbox toggles on Enter too, which
    un-ticked the consent the operator had just given)."""

    BINDINGS = [Binding("space", "toggle_button", "Toggle", show=False)]


class AddSubjectScreen(ModalScreen[str | None]):
    """Dismisses with the subject id once it is recorded with consent, None on cancel.

    Tab moves through the fields and buttons, Space ticks consent, Enter submits from any
    field (on the Cancel button it cancels), Escape cancels."""

    BINDINGS = [("escape", "cancel", "Cancel"), ("enter", "submit", "Add")]
    DEFAULT_CSS = """
    AddSubjectScreen { align: center middle; }
    AddSubjectScreen > Vertical { width: 80; height: auto; border: thick $primary;
                                  padding: 1 2; background: $surface; }
    AddSubjectScreen Horizontal { height: auto; }
    AddSubjectScreen #subject-error { color: $error; width: 100%; }
    """

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"New subject in session {self.session.name}", classes="title")
            yield Input(placeholder="pseudonymous id, e.g. p017 (never a name)", id="subject-id")
            yield Input(placeholder="consent note (optional: form number, witness)",
                        id="consent-note")
            yield ConsentBox("Consent given (information sheet read and signed)",
                           id="consent")
            yield Label("", id="subject-error")
            with Horizontal():
                yield Button("Add", id="add", variant="primary")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Checkbox.Changed)
    @on(Input.Changed)
    def _clear_error(self) -> None:
        self.query_one("#subject-error", Label).update("")

    @on(Button.Pressed, "#add")
    @on(Input.Submitted)
    def action_submit(self) -> None:
        subject = self.query_one("#subject-id", Input).value.strip()
        consent = self.query_one("#consent", Checkbox).value
        note = self.query_one("#consent-note", Input).value.strip()
        error = self.query_one("#subject-error", Label)
        try:
            self.session.add_subject(subject, consent=consent, note=note)
        except SessionError as exc:
            error.update(str(exc))
            self.app.report(str(exc), "error")
            return
        self.dismiss(subject)
