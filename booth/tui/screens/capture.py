"""Capture one subject: step-by-step progress, thumbnails, normal map, QC, retake, abort."""

from __future__ import annotations

import logging
import threading

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Header, Label, ProgressBar, Static

from booth.session import Session
from booth.tui.events import CaptureFinished, CaptureProgress
from booth.tui.widgets.log import LogPanel
from booth.tui.widgets.shots import ShotList
from booth.tui.widgets.thumbs import Thumbnails
from booth.workflows import capture_subject
from photometric.io import imageio

log = logging.getLogger(__name__)


def shot_names(station) -> list[str]:
    cc = station.config.capture
    return list(cc.order) + (["ambient"] if cc.ambient else [])


class CaptureScreen(Screen):
    """Starts the capture when shown; ``x``/escape stops it, ``r`` retakes when done."""

    BINDINGS = [
        ("x", "abort", "Abort"),
        ("escape", "back", "Back / abort"),
        ("r", "retake", "Retake"),
        ("l", "toggle_log", "Log"),
    ]

    def __init__(self, session: Session, subject: str, supersedes: str | None = None) -> None:
        super().__init__()
        self.session = session
        self.subject = subject
        self.supersedes = supersedes
        self.cancel = threading.Event()
        self.running = False
        self.finished: CaptureFinished | None = None

    def compose(self) -> ComposeResult:
        self.shots = shot_names(self.app.station)
        yield Header()
        with Horizontal(id="capture-body"):
            with Vertical(id="capture-left"):
                yield ShotList(self.shots, id="shots")
                yield ProgressBar(total=len(self.shots), show_eta=False, id="progress")
            with VerticalScroll(id="capture-right"):
                yield Label("", id="capture-status")
                yield Static("", id="qc")
        yield Thumbnails(self.app.image_mode, id="thumbs")
        yield LogPanel(id="log")
        yield Footer()

    def on_mount(self) -> None:
        what = f"retake of {self.supersedes}" if self.supersedes else "capture"
        self.title = f"{self.session.name} · {self.subject} · {what}"
        self.query_one("#capture-status", Label).update("starting…")
        self.running = True
        self.app.report(f"{what} of {self.subject} started")
        self.run_capture()

    @work(thread=True, exclusive=True, group="hardware", exit_on_error=False)
    def run_capture(self) -> None:
        """The capture workflow (hardware, then normal map and QC), off the UI thread."""
        try:
            out = capture_subject(self.app.station, self.session, self.subject,
                                  self.supersedes, cancel=self.cancel,
                                  on_event=lambda ev: self.post_message(CaptureProgress(ev)))
        except Exception as exc:  # noqa: BLE001 - every failure is shown, none ends the app
            log.exception("capture failed")
            self.post_message(CaptureFinished(None, error=str(exc) or type(exc).__name__))
            return
        if out.error is not None:
            log.error("processing failed", exc_info=out.error)
        error = f"normal map failed: {out.error_text}" if out.error is not None else ""
        self.post_message(CaptureFinished(out.capture, out.processed, error))

    def on_capture_progress(self, message: CaptureProgress) -> None:
        ev = message.event
        status = self.query_one("#capture-status", Label)
        if ev.kind == "processing":
            status.update("computing the normal map and quality checks…")
            return
        shots = self.query_one("#shots", ShotList)
        shots.apply(ev)
        self.query_one("#progress", ProgressBar).update(progress=shots.done)
        if ev.kind == "shot":
            status.update(f"shooting {ev.channel} (attempt {ev.attempt})")
        elif ev.kind == "retry":
            self.app.report(f"{ev.channel}: retrying after: {ev.message}", "warning")
        elif ev.kind == "preflight":
            status.update(f"preflight: {ev.message}")

    async def on_capture_finished(self, message: CaptureFinished) -> None:
        self.running = False
        self.finished = message
        status = self.query_one("#capture-status", Label)
        qc = self.query_one("#qc", Static)
        result = message.result
        if result is None:
            status.update(f"capture failed: {message.error}")
            self.app.report(f"capture failed: {message.error}", "error")
            return
        if result.status != "complete":
            status.update(f"ABORTED: {result.reason}  ({result.path.name}, kept as aborted)")
            self.app.report(f"capture aborted: {result.reason}", "error")
        else:
            status.update(f"complete: {result.path.name}   r retake · escape back")
            self.app.report(f"capture {result.path.name} of {self.subject} complete")
        if message.error:
            self.app.report(message.error, "error")
        warnings = message.processed.warnings if message.processed else []
        if message.processed is not None:
            if warnings:
                qc.update("QC warnings (r to retake):\n" +
                          "\n".join(f"  ⚠ {w.message}" for w in warnings))
                for w in warnings:
                    self.app.report(f"QC: {w.message}", "warning")
            else:
                qc.update("QC: no warnings")
        paths = {}
        for ch in self.shots:
            p = imageio.find_image(result.path, ch)
            if p is not None:
                paths[ch] = p
        if message.processed is not None and message.processed.preview.is_file():
            paths["normals"] = message.processed.preview
        await self.query_one("#thumbs", Thumbnails).show(paths)

    def action_abort(self) -> None:
        if self.running:
            self.cancel.set()
            self.query_one("#capture-status", Label).update("stopping after this shot…")
            self.app.report("abort requested: the capture stops after the shot under way",
                            "warning")

    def action_back(self) -> None:
        if self.running:
            self.action_abort()
            return
        self.app.pop_screen()

    def action_retake(self) -> None:
        if self.running or self.finished is None:
            self.app.report("retake is possible once this capture has finished", "warning")
            return
        result = self.finished.result
        supersedes = result.path.name if result is not None else self.supersedes
        self.app.switch_screen(CaptureScreen(self.session, self.subject, supersedes))

    def action_toggle_log(self) -> None:
        panel = self.query_one("#log", LogPanel)
        panel.display = not panel.display
