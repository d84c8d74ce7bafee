"""Models: the runs and shipped models, scored side by side on a dataset's held-out people.

Space marks models; ``e`` scores the marked ones (or the highlighted one) with ``booth
evaluate`` as a job, into ``WORK/reports/``. The report's own tables (overall, per region of
the sitter, per facial region) and its figure (input, target, prediction and error per model)
are shown as the command wrote them, with the files' paths; the figure shows the subjects
typed in its field (``--show``), or the split's first samples. A shipped model's committed
held-out report is shown when it is highlighted.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Input, Label, Select

from booth import jobs
from booth.tui.widgets.thumbs import Thumbnails
from photometric.errors import InputError
from photometric.io.files import read_yaml

JOB = "evaluate"


def models(work: Path) -> list[tuple[str, str, Path]]:
    """(name, kind, checkpoint): the shipped models, then the runs under ``WORK/runs``."""
    from importlib import resources

    shipped = Path(str(resources.files("learning") / "models"))
    out = [(p.stem, "shipped", p) for p in sorted(shipped.glob("*.safetensors"))]
    out += [(p.parent.name, "run", p) for p in sorted((work / "runs").glob("*/best.safetensors"))]
    return out


def describe(checkpoint: Path) -> dict:
    """What a checkpoint's YAML says about it: encoding, size, epochs, its validation score."""
    try:
        meta = read_yaml(checkpoint.with_suffix(".yaml")) or {}
    except InputError:
        return {}
    data = meta.get("dataset") or {}
    metrics = meta.get("metrics") or {}
    return {"encoding": data.get("encoding", meta.get("encoding", "?")),
            "size": data.get("size", "?"), "epoch": meta.get("epoch", "?"),
            "val": metrics.get("val_mean_deg")}


def report_tables(report: Path) -> list[tuple[str, list[str], list[list[str]]]]:
    """The tables of a ``report.md`` that ``booth evaluate`` wrote: (title, head, rows)."""
    tables: list[tuple[str, list[str], list[list[str]]]] = []
    title = ""
    for line in report.read_text().splitlines():
        if line.startswith("## "):
            title = line[3:].strip()
        elif line.startswith("|") and not re.fullmatch(r"\|( --- \|)+", line.strip()):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if tables and tables[-1][0] == title:
                tables[-1][2].append(cells)
            else:
                tables.append((title, cells, []))
    return tables


class EvaluateScreen(Screen):
    BINDINGS = [("escape", "app.pop_screen", "Back"), ("space", "mark", "Mark"),
                ("e", "evaluate", "Evaluate marked"), ("ctrl+g", "cancel", "Cancel")]

    def __init__(self, work: Path) -> None:
        super().__init__()
        self.work = Path(work)
        self.job = jobs.job(self.work, JOB)
        self.marked: set[str] = set()
        self.found: dict[str, tuple[str, str, Path]] = {}
        self.seen_state = ""
        self.shown: Path | None = None  # the report on screen, tables and figure mounted
        self._showing: Path | None = None  # the report being put on screen

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="models-form"):
            yield Input(str(self.work / "datasets" / "dataset"), id="eval-dataset")
            yield Select([("test split", "test"), ("val split", "val")], value="test",
                         allow_blank=False, id="eval-split")
            yield Input(placeholder="figure: subjects to show (default the first four)",
                        id="eval-show")
        with Horizontal(id="models-body"):
            with Vertical(id="models-left"):
                yield DataTable(id="models", cursor_type="row", zebra_stripes=True)
                yield Label("", id="eval-status")
            with VerticalScroll(id="report"):
                yield Label("space marks models, e scores them side by side", id="report-path")
                yield Vertical(id="report-tables")
                yield Thumbnails(self.app.image_mode, id="report-figure")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Models"
        table = self.query_one("#models", DataTable)
        table.add_columns("", "model", "kind", "encoding", "size", "epoch", "val °")
        self.refresh_models()
        table.focus()
        self.set_interval(0.5, self.poll)
        self.call_later(self.poll)

    def refresh_models(self) -> None:
        table = self.query_one("#models", DataTable)
        row = table.cursor_row
        table.clear()
        self.found = {}
        for name, kind, path in models(self.work):
            key = str(path)
            self.found[key] = (name, kind, path)
            d = describe(path)
            val = f"{d['val']:.2f}" if isinstance(d.get("val"), float) else "-"
            table.add_row("✓" if key in self.marked else "", name, kind,
                          str(d.get("encoding", "?")), str(d.get("size", "?")),
                          str(d.get("epoch", "?")), val, key=key)
        if table.row_count:
            table.move_cursor(row=min(row, table.row_count - 1))

    def highlighted(self) -> str | None:
        table = self.query_one("#models", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_mark(self) -> None:
        key = self.highlighted()
        if key is not None:
            self.marked ^= {key}
            self.refresh_models()

    @on(DataTable.RowHighlighted, "#models")
    async def _model_highlighted(self, event: DataTable.RowHighlighted) -> None:
        name, kind, path = self.found.get(str(event.row_key.value), ("", "", None))
        if kind == "shipped":  # its committed held-out report, where it has one
            report = path.with_name(f"{name}.report.md")
            if report.is_file():
                await self.show_report(report, path.with_name(f"{name}.figure.png"))

    # -- evaluating -----------------------------------------------------------------------
    def action_evaluate(self) -> None:
        keys = sorted(self.marked) or [k for k in [self.highlighted()] if k]
        if not keys:
            self.app.report("no model to evaluate", "warning")
            return
        dataset = self.query_one("#eval-dataset", Input).value.strip()
        names = [self.found[k][0] for k in keys if k in self.found]
        out = self.work / "reports" / "-".join(names)[:80]
        # a run by its folder (the report names it so), a shipped model by its file
        targets = [str(self.found[k][2].parent if self.found[k][1] == "run" else k)
                   for k in keys if k in self.found]
        argv = ["evaluate", *targets, "--dataset", dataset, "--out", str(out),
                "--split", str(self.query_one("#eval-split", Select).value)]
        for subject in self.query_one("#eval-show", Input).value.split():
            argv += ["--show", subject]
        try:
            self.job = jobs.start(self.work, JOB, argv)
        except (RuntimeError, OSError) as exc:
            self.app.report(str(exc), "error")
            return
        self.out = out
        self.app.report(f"evaluating {', '.join(names)} on {dataset} -> {out}")
        self.call_later(self.poll)

    def action_cancel(self) -> None:
        if self.job.stop(timeout=10):
            self.app.report("evaluation cancelled", "warning")

    async def poll(self) -> None:
        state = self.job.state()
        status = self.query_one("#eval-status", Label)
        if state == "running":
            status.update("evaluating…")
        elif state in ("failed", "stopped"):
            tail = [ln for ln in self.job.log_tail(10) if ln.strip()]
            status.update(f"evaluation {state}: {tail[-1] if tail else ''}\nlog {self.job.log}")
        if state != self.seen_state:
            if self.seen_state == "running" and state == "finished":
                argv = self.job.meta().get("argv", [])
                out = Path(argv[argv.index("--out") + 1])
                status.update(f"evaluated -> {out}")
                await self.show_report(out / "report.md", out / "figure.png")
            self.seen_state = state

    async def show_report(self, report: Path, figure: Path) -> None:
        if report in (self.shown, self._showing):
            return
        self._showing = report
        try:
            tables = report_tables(report)
        except OSError as exc:
            self.app.report(str(InputError(f"{report}: {exc.strerror}")), "error")
            self._showing = None
            return
        holder = self.query_one("#report-tables", Vertical)
        await holder.remove_children()
        widgets = []
        for title, head, rows in tables:
            widgets.append(Label(title, classes="subtitle"))
            t = DataTable(zebra_stripes=True, cursor_type="none", classes="report-table")
            t.add_columns(*head)
            for r in rows:
                t.add_row(*(r + [""] * (len(head) - len(r)))[: len(head)])
            widgets.append(t)
        await holder.mount_all(widgets)
        self.query_one("#report-path", Label).update(
            f"report {report}" + (f"\nfigure {figure}" if figure.is_file() else ""))
        await self.query_one("#report-figure", Thumbnails).show(
            {"input, target, prediction and error per model": figure} if figure.is_file()
            else {})
        # "shown" once all of it is there (the tables and the figure are mounted in turns)
        if self._showing == report:
            self.shown, self._showing = report, None
