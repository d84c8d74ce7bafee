"""Training: start a run on a dataset, watch it live, stop it and resume it.

Each run trains as ``booth train`` in its own process (a job of :mod:`booth.jobs`, named for
the run), so the app stays responsive, a crash of the run never takes the app down, and a run
goes on when the app closes: opening the screen again shows every run under ``WORK/runs``
with its state, reattached. Stopping interrupts the run; it resumes from its last epoch's
checkpoint. The curves are the run's ``metrics.csv`` (an epoch a point), the progress its
step events.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    ProgressBar,
    Select,
)
from textual_plotext import PlotextPlot

from booth import jobs
from photometric.errors import InputError
from photometric.io.files import read_yaml


def job_name(run: Path) -> str:
    return f"train-{run.name}"


def read_metrics(run: Path) -> list[dict[str, float]]:
    """The run's finished epochs (``metrics.csv``), numbers as floats; none when unreadable."""
    try:
        with open(run / "metrics.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return []
    out = []
    for row in rows:
        try:
            out.append({k: float(v) for k, v in row.items() if v not in (None, "")})
        except ValueError:
            continue
    return out


def planned_epochs(run: Path) -> int | None:
    """The epochs the run was started for (its ``run.yaml``)."""
    try:
        return int(read_yaml(run / "run.yaml")["training"]["epochs"])
    except (InputError, KeyError, TypeError, ValueError):
        return None


def live(events: list[dict]) -> dict:
    """Where a run is from its job's events: epoch, step, steps, device, img/s, seconds left
    (from this stretch's pace), and whether anything has come yet."""
    start = next((e for e in events if e.get("event") == "start"), None)  # one per job run
    # the pace of the last few hundred steps: current, and cheap however long the run
    steps = [e for e in events[-400:] if e.get("event") == "step"]
    out: dict = {"device": start["device"] if start else "?", "epoch": 0, "step": 0,
                 "steps": start["steps_per_epoch"] if start else 0,
                 "epochs": start["epochs"] if start else 0, "rate": None, "left_s": None}
    if not steps:
        return out
    last = steps[-1]
    out.update(epoch=last["epoch"], step=last["step"], steps=last["steps"])
    if start and len(steps) > 1:
        done = [(e["time"], (e["epoch"] - start["first_epoch"]) * e["steps"] + e["step"])
                for e in steps if e["time"] >= start["time"]]
        if len(done) > 1 and done[-1][0] > done[0][0]:
            per_s = (done[-1][1] - done[0][1]) / (done[-1][0] - done[0][0])
            out["rate"] = per_s * start["batch"]
            remaining = (start["epochs"] - last["epoch"]) * last["steps"] + (
                last["steps"] - last["step"])
            out["left_s"] = remaining / per_s if per_s > 0 else None
    return out


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"


class TrainScreen(Screen):
    BINDINGS = [("escape", "app.pop_screen", "Back (runs go on)"),
                ("ctrl+g", "stop", "Stop run"), ("ctrl+o", "resume", "Resume run"),
                ("ctrl+r", "refresh", "Refresh")]

    def __init__(self, work: Path, dataset: str = "") -> None:
        super().__init__()
        self.work = Path(work)
        self.dataset = dataset or str(self.work / "datasets" / "dataset")
        self.run: Path | None = None
        self.states: dict[str, str] = {}
        self.followed: dict[str, jobs.Job] = {}  # each run's job, its events read as they come

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="train-form"):
            with Vertical():
                yield Label("Dataset")
                yield Input(self.dataset, id="train-dataset")
                yield Label("Run folder")
                yield Input(str(self.work / "runs" / "run1"), id="train-out")
            with Vertical():
                yield Label("Preset / epochs / batch")
                with Horizontal(classes="row"):
                    yield Select([("small", "small"), ("paper", "paper")], value="small",
                                 allow_blank=False, id="train-preset")
                    yield Input("1", id="train-epochs")
                    yield Input("8", id="train-batch")
                yield Label("Learning rate / loader workers / device")
                with Horizontal(classes="row"):
                    yield Input("0.001", id="train-lr")
                    yield Input("1", id="train-workers")
                    yield Select([(d, d) for d in ("auto", "cpu", "cuda")], value="auto",
                                 allow_blank=False, id="train-device")
            with Vertical(classes="buttons"):
                yield Button("Train", id="train-start", variant="primary")
                yield Button("Stop", id="train-stop", variant="error")
                yield Button("Resume", id="train-resume")
        with Horizontal(id="train-body"):
            yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
            with Vertical(id="train-live"):
                yield Label("no run selected", id="train-status")
                yield ProgressBar(total=1, id="train-progress", show_eta=False)
                with Horizontal(id="train-plots"):
                    yield PlotextPlot(id="loss-plot")
                    yield PlotextPlot(id="error-plot")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Training"
        self.query_one("#runs", DataTable).add_columns("run", "state", "epochs", "val °")
        self.refresh_runs()
        self.set_interval(0.5, self.poll)

    # -- the runs -------------------------------------------------------------------------
    def runs(self) -> list[Path]:
        folder = self.work / "runs"
        found = {p for p in folder.glob("*") if (p / "run.yaml").is_file()} if folder.is_dir() \
            else set()
        for f in jobs.jobs_folder(self.work).glob("train-*.yaml"):  # started, no run.yaml yet
            argv = jobs.Job(f.parent, f.stem).meta().get("argv") or []
            if "--out" in argv:
                found.add(Path(argv[argv.index("--out") + 1]))
        return sorted(found)

    def refresh_runs(self) -> None:
        table = self.query_one("#runs", DataTable)
        keep = self.run
        table.clear()
        for run in self.runs():
            state = jobs.job(self.work, job_name(run)).state()
            rows = read_metrics(run)
            val = f"{rows[-1]['val_mean_deg']:.2f}" if rows and "val_mean_deg" in rows[-1] else "-"
            table.add_row(run.name, "done" if state == "none" else state, str(len(rows)), val,
                          key=str(run))
            self.states[str(run)] = state
        if keep is not None and str(keep) in self.states:
            table.move_cursor(row=list(self.states).index(str(keep)))

    @on(DataTable.RowHighlighted, "#runs")
    def _run_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.run = Path(str(event.row_key.value))
        self.query_one("#train-out", Input).value = str(self.run)
        self.poll()

    def action_refresh(self) -> None:
        self.refresh_runs()
        self.poll()

    # -- start, stop, resume ---------------------------------------------------------------
    def argv(self, resume: bool) -> list[str]:
        out = self.query_one("#train-out", Input).value.strip()
        dataset = self.query_one("#train-dataset", Input).value.strip()
        if not out or not dataset:
            raise InputError("give a dataset and a run folder")
        argv = ["train", dataset, "--out", out]
        if resume:
            return [*argv, "--resume"]
        fields = {"epochs": "train-epochs", "batch": "train-batch", "lr": "train-lr",
                  "workers": "train-workers"}
        for name, wid in fields.items():
            text = self.query_one(f"#{wid}", Input).value.strip()
            try:
                value = float(text) if name == "lr" else int(text)
            except ValueError:
                raise InputError(f"{name}: expected a number, got {text!r}") from None
            if value < (0 if name == "workers" else 1e-9):
                raise InputError(f"{name}: expected a positive number, got {text}")
            argv += [f"--{name}", text]
        return argv + ["--preset", str(self.query_one("#train-preset", Select).value),
                       "--device", str(self.query_one("#train-device", Select).value)]

    @on(Button.Pressed, "#train-start")
    @on(Input.Submitted)
    def start_training(self) -> None:
        self._start(resume=False)

    @on(Button.Pressed, "#train-resume")
    def action_resume(self) -> None:
        self._start(resume=True)

    def _start(self, resume: bool) -> None:
        try:
            argv = self.argv(resume)
            run = Path(argv[argv.index("--out") + 1])
            self.followed[job_name(run)] = jobs.start(self.work, job_name(run), argv)
        except (InputError, RuntimeError, OSError) as exc:
            self.app.report(str(exc), "error")
            return
        self.run = run
        self.app.report(f"training {'resumed' if resume else 'started'}: {run} "
                        f"(booth {' '.join(argv)})")
        self.refresh_runs()
        self.poll()

    @on(Button.Pressed, "#train-stop")
    def action_stop(self) -> None:
        if self.run is None or jobs.job(self.work, job_name(self.run)).state() != "running":
            self.app.report("no run of these is training", "warning")
            return
        self.app.report(f"stopping {self.run.name}; it resumes from its last epoch", "warning")
        self._stop(self.run)

    @work(thread=True, group="train-stop")
    def _stop(self, run: Path) -> None:
        jobs.job(self.work, job_name(run)).stop(timeout=30)

    # -- live view ------------------------------------------------------------------------
    def poll(self) -> None:
        runs = self.runs()
        states = {str(r): jobs.job(self.work, job_name(r)).state() for r in runs}
        if states != self.states:
            self.refresh_runs()
        if self.run is None:
            return
        key = job_name(self.run)
        if key not in self.followed:
            self.followed[key] = jobs.job(self.work, key)
        j = self.followed[key]
        state = j.state()
        now = live(j.events())
        rows = read_metrics(self.run)
        if not now["steps"]:  # no job events (trained from the command line): its files
            now.update(epoch=len(rows), epochs=planned_epochs(self.run) or "?")
        bar = self.query_one("#train-progress", ProgressBar)
        if now["steps"]:
            total = now["epochs"] * now["steps"]
            bar.update(total=total, progress=(now["epoch"] - 1) * now["steps"] + now["step"])
            where = f"epoch {now['epoch']}/{now['epochs']}, step {now['step']}/{now['steps']}"
        else:
            if isinstance(now["epochs"], int):
                bar.update(total=now["epochs"], progress=now["epoch"])
            where = f"{now['epoch']} of {now['epochs']} epochs trained"
        rate = f"{now['rate']:.1f} img/s" if now["rate"] else "? img/s"
        text = (f"{self.run.name}: {state if state != 'none' else 'not training'}   "
                f"{where}   {now['device']}   {rate}   left {_clock(now['left_s'])}")
        if state in ("stopped", "failed"):
            last = [ln for ln in j.log_tail(20) if ln.strip()]
            text += f"\n{last[-1] if last else ''}  (ctrl+o resumes from the last epoch)"
        text += f"\nlog {j.log}"
        self.query_one("#train-status", Label).update(text)
        self.plot(rows)

    def plot(self, rows: list[dict[str, float]]) -> None:
        epochs = [r["epoch"] for r in rows]
        for wid, series, title in (
                ("#loss-plot", (("train_loss", "train loss"),), "loss"),
                ("#error-plot", (("train_mean_deg", "train"), ("val_mean_deg", "held-out")),
                 "mean angular error (°)")):
            widget = self.query_one(wid, PlotextPlot)
            plt = widget.plt
            plt.clear_data()
            plt.title(title)
            plt.xlabel("epoch")
            for key, label in series:
                # only finished numbers: a run without a val split has NaN there, and
                # plotext fails on a series with no point
                pts = [(x, r[key]) for x, r in zip(epochs, rows, strict=True)
                       if math.isfinite(r.get(key, math.nan))]
                if pts:
                    plt.plot([p[0] for p in pts], [p[1] for p in pts], label=label,
                             marker="braille")
            widget.refresh()
