"""The home screen: the booth day's tasks, one key each, and the booth's state."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, Static

from booth.tui.widgets.hardware_panel import HardwarePanel
from booth.tui.widgets.log import LogPanel

#: (key, action, title, what it is for), in the order of a booth day.
TASKS = (
    ("s", "sessions", "Sessions and capture",
     "open or create a session, add sitters with consent, calibrate, capture"),
    ("v", "review", "Review", "a session's captures: photos, normals, QC; mark retakes"),
    ("e", "dataset", "Dataset",
     "export session stores to a training set, with progress; browse its samples"),
    ("t", "training", "Training",
     "train the U-Net on a dataset, watch its curves, stop and resume it"),
    ("m", "models", "Models",
     "runs and shipped models scored side by side: per-region tables and pictures"),
    ("p", "relight", "Portrait and relighting",
     "a capture or any photo, its normals measured or predicted; move the light by keys"),
    ("d", "doctor", "Doctor", "check the serial port, controller, camera and disk"),
)


class HomeScreen(Screen):
    BINDINGS = [(key, f"app.open_task('{action}')", title) for key, action, title, _ in TASKS]

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="home-body"):
            with Vertical(id="tasks"):
                yield Label("The booth day", classes="title")
                for key, action, title, what in TASKS:
                    yield Static(f"[b reverse] {key} [/] [b]{title}[/]\n     {what}",
                                 id=f"task-{action}", classes="task")
            with Vertical(id="side-pane"):
                yield HardwarePanel(id="hardware")
                yield Label("", id="home-store", classes="subtitle")
        yield LogPanel(id="log")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Photometric booth"
        self.query_one("#home-store", Label).update(f"Sessions in {self.app.store.root}")
