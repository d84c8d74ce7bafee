"""The log panel: every notice and error of the session, newest last."""

from __future__ import annotations

from textual.widgets import RichLog


class LogPanel(RichLog):
    """Replays the app's log when mounted, then follows it (the app calls :meth:`add`)."""

    DEFAULT_CSS = """
    LogPanel { border: round $primary; height: 8; }
    """

    def __init__(self, **kw) -> None:
        super().__init__(wrap=True, markup=False, highlight=False, **kw)

    def on_mount(self) -> None:
        self.border_title = "Log"
        for line in getattr(self.app, "log_lines", []):
            self.write(line)

    def add(self, line: str) -> None:
        self.write(line)
