"""Dataset: export session stores to a training set, watch it, cancel it, browse the result.

The export is ``booth export`` run as a job (:mod:`booth.jobs`): the same command, in its own
process, so the app never waits on it. Cancelling interrupts it as Ctrl-C would; what it
finished stays in the dataset and the next export reuses it. Leaving the screen leaves the
export running; coming back shows it again.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    Select,
)

from booth import jobs
from booth.tui.widgets.thumbs import Thumbnails
from photometric.errors import InputError

JOB = "export"


def export_argv(stores: list[str], out: str, encoding: str, framing: str, size: int,
                workers: int, augment: bool) -> list[str]:
    """The ``booth export`` command line the form stands for (shown to the operator)."""
    argv = ["export", *stores, "--out", out, "--encoding", encoding, "--framing", framing,
            "--size", str(size), "--workers", str(workers)]
    return argv + (["--augment"] if augment else [])


def _number(text: str, field: str, lo: int, hi: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{field}: expected a whole number, got {text!r}") from None
    if not lo <= value <= hi:
        raise InputError(f"{field}: expected {lo}..{hi}, got {value}")
    return value


class DatasetScreen(Screen):
    BINDINGS = [("escape", "app.pop_screen", "Back (the export goes on)"),
                ("ctrl+g", "cancel", "Cancel export"), ("ctrl+r", "reload", "Show dataset")]

    def __init__(self, work: Path, stores: list[str]) -> None:
        super().__init__()
        self.work = Path(work)
        self.job = jobs.job(self.work, JOB)
        self.stores = stores
        self.samples: dict[str, dict] = {}
        self.encoding = "points"
        self.dataset: Path | None = None
        self.seen_state = ""

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="dataset-form"):
            with Vertical():
                yield Label("Session stores (space between)")
                yield Input(" ".join(self.stores), id="stores")
                yield Label("Dataset folder")
                yield Input(str(self.work / "datasets" / "dataset"), id="out")
            with Vertical():
                yield Label("Landmarks / framing")
                with Horizontal(classes="row"):
                    yield Select([(e, e) for e in ("points", "dense", "none")],
                                 value="points", allow_blank=False, id="encoding")
                    yield Select([(f, f) for f in ("person", "face")], value="person",
                                 allow_blank=False, id="framing")
                yield Label("Size (px) / workers")
                with Horizontal(classes="row"):
                    yield Input("256", id="size")
                    yield Input(str(max(1, min(len(os.sched_getaffinity(0)), 64))),
                                id="workers")
            with Vertical():
                yield Checkbox("Augment (4x: flipped, darker, brighter)", id="augment")
                yield Button("Export", id="export", variant="primary")
                yield Button("Cancel export", id="cancel", variant="error")
        yield Label("", id="export-command")
        yield ProgressBar(total=1, id="export-progress", show_eta=True)
        yield Label("no export yet", id="export-status")
        with Horizontal(id="dataset-lists"):
            yield DataTable(id="samples", cursor_type="row", zebra_stripes=True)
            yield DataTable(id="skipped", cursor_type="row")
        with VerticalScroll(id="sample-view"):
            yield Label("", id="sample-detail")
            yield Thumbnails(self.app.image_mode, id="sample-pictures")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Dataset"
        self.query_one("#samples", DataTable).add_columns("sample", "subject", "split")
        self.query_one("#skipped", DataTable).add_columns("skipped", "why")
        meta = self.job.meta()
        if meta.get("argv"):  # the last export's folder, for the operator to see again
            argv = meta["argv"]
            self.query_one("#out", Input).value = argv[argv.index("--out") + 1]
        self.set_interval(0.25, self.poll)
        self.poll()
        self.action_reload()

    # -- start, follow, cancel ------------------------------------------------------------
    @on(Button.Pressed, "#export")
    @on(Input.Submitted)
    def start_export(self) -> None:
        try:
            argv = self.form_argv()
            self.job = jobs.start(self.work, JOB, argv)
        except (InputError, RuntimeError, OSError) as exc:
            self.app.report(str(exc), "error")
            return
        self.dataset = Path(argv[argv.index("--out") + 1])
        self.query_one("#export-command", Label).update("booth " + " ".join(argv))
        self.app.report(f"export started into {self.dataset}")
        self.poll()

    def form_argv(self) -> list[str]:
        stores = self.query_one("#stores", Input).value.split()
        if not stores:
            raise InputError("session stores: give at least one folder")
        out = self.query_one("#out", Input).value.strip()
        if not out:
            raise InputError("dataset folder: give a folder to export into")
        return export_argv(
            stores, out, str(self.query_one("#encoding", Select).value),
            str(self.query_one("#framing", Select).value),
            _number(self.query_one("#size", Input).value, "size", 32, 4096),
            _number(self.query_one("#workers", Input).value, "workers", 1, 64),
            self.query_one("#augment", Checkbox).value)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        if self.job.state() != "running":
            self.app.report("no export is running", "warning")
            return
        self.app.report("cancelling the export (what is done stays done)…", "warning")
        self._stop()

    @work(thread=True, exclusive=True, group="export-stop")
    def _stop(self) -> None:
        self.job.stop()

    def poll(self) -> None:
        state = self.job.state()
        events = [e for e in self.job.events() if e.get("event") == "export"]
        bar = self.query_one("#export-progress", ProgressBar)
        status = self.query_one("#export-status", Label)
        if events:
            last = events[-1]
            bar.update(total=max(1, last["total"]), progress=last["done"])
        if state == "running":
            done = f"{events[-1]['done']} of {events[-1]['total']}" if events else "starting"
            status.update(f"exporting: {done} captures")
        elif state != "none":
            tail = [ln for ln in self.job.log_tail(40) if ln.strip()]
            summary = next((ln for ln in reversed(tail) if ln.startswith(
                ("exported", "booth: error", "booth: interrupted"))), "")
            word = {"finished": "done", "failed": "failed", "stopped": "stopped"}[state]
            if summary == "booth: interrupted":
                word = "cancelled"
            status.update(f"export {word}: {summary or 'see ' + str(self.job.log)}   "
                          f"(log {self.job.log})")
        if state != self.seen_state:
            if self.seen_state == "running":
                self.app.report(f"export {state}")
                self.action_reload()
            self.seen_state = state

    # -- the dataset ----------------------------------------------------------------------
    def action_reload(self) -> None:
        from booth.dataset_view import samples

        out = Path(self.query_one("#out", Input).value.strip() or ".")
        table, skipped = self.query_one("#samples", DataTable), self.query_one("#skipped",
                                                                              DataTable)
        table.clear()
        skipped.clear()
        self.samples = {}
        if not (out / "manifest.json").is_file():
            return
        try:
            found, refused, settings = samples(out)
        except InputError as exc:
            self.app.report(str(exc), "error")
            return
        self.dataset, self.encoding = out, settings.get("encoding", "points")
        for s in found:
            self.samples[s["key"]] = s
            table.add_row(s["key"], s["subject"], s["split"], key=s["key"])
        for s in refused:
            skipped.add_row(s["key"], s.get("reason", ""))

    @on(DataTable.RowHighlighted, "#samples")
    def _sample_highlighted(self, event: DataTable.RowHighlighted) -> None:
        sample = self.samples.get(str(event.row_key.value))
        if sample is not None and self.dataset is not None:
            self._load_sample(self.dataset, sample, self.encoding)

    @work(thread=True, exclusive=True, group="sample")
    def _load_sample(self, dataset: Path, sample: dict, encoding: str) -> None:
        from booth.dataset_view import pictures

        try:
            pics = pictures(dataset, sample, encoding)
        except InputError as exc:
            self.app.call_from_thread(self.app.report, str(exc), "error")
            return
        self.app.call_from_thread(self._show_sample, dataset, sample, pics)

    async def _show_sample(self, dataset: Path, sample: dict, pics: dict) -> None:
        self.query_one("#sample-detail", Label).update(
            f"{sample['key']}: subject {sample['subject']}, {sample['split']} split   "
            f"file {dataset / 'samples' / sample['file']}")
        await self.query_one("#sample-pictures", Thumbnails).show(pics)
