"""Step-by-step progress of a capture's shots, fed with the sequencer's events."""

from __future__ import annotations

from rich.table import Table
from textual.widgets import Static

from booth.sequencer import CaptureEvent

MARKS = {"pending": ("·", "dim"), "shooting": ("▶", "yellow"), "retry": ("↻", "yellow"),
         "stored": ("✓", "green"), "failed": ("✗", "red")}


class ShotList(Static):
    DEFAULT_CSS = """
    ShotList { border: round $primary; padding: 0 1; width: 48; height: auto; }
    """

    def __init__(self, shots: list[str], **kw) -> None:
        super().__init__(**kw)
        self.shots = list(shots)
        self.state = {s: ("pending", "") for s in self.shots}
        self.preflight = "waiting"

    def on_mount(self) -> None:
        self.border_title = "Shots"
        self._redraw()

    def apply(self, ev: CaptureEvent) -> None:
        if ev.kind == "preflight":
            self.preflight = f"checking {ev.message}"
        elif ev.kind == "shot":
            self.preflight = "ok"
            self.state[ev.channel] = ("shooting", f"attempt {ev.attempt}")
        elif ev.kind == "retry":
            self.state[ev.channel] = ("retry", ev.message)
        elif ev.kind == "stored":
            self.state[ev.channel] = ("stored", f"attempt {ev.attempt}")
        elif ev.kind == "aborted" and ev.channel in self.state:
            self.state[ev.channel] = ("failed", ev.message)
        self._redraw()

    @property
    def done(self) -> int:
        return sum(s == "stored" for s, _ in self.state.values())

    def _redraw(self) -> None:
        t = Table.grid(padding=(0, 1))
        t.add_column(width=1)
        t.add_column(width=9)
        t.add_column(overflow="fold")
        t.add_row("", "preflight", self.preflight, style="dim")
        for s in self.shots:
            state, detail = self.state[s]
            mark, style = MARKS[state]
            t.add_row(mark, s, f"{state} {detail}".strip(), style=style)
        self.update(t)
