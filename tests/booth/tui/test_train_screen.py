"""The training screen: a run trains in its own process with live progress and curves; it is
stopped and resumed, killed with SIGKILL (shown as stopped, and resumed), and an app opened
later reattaches to a run that is still going."""

import os
import signal

import pytest
from textual.widgets import Input

from booth.cli import main
from booth.jobs import job
from booth.tui.screens.train import TrainScreen, job_name, read_metrics
from booth.tui.script import until


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("train-data")
    assert main(["simulate", "people", "6", "--lighting", "portrait", "--size", "96",
                 "--out", str(root / "people"), "--workers", "1"]) == 0
    assert main(["export", str(root / "people"), "--out", str(root / "ds"), "--size", "64",
                 "--workers", "1", "--split", "0.5,0.5,0"]) == 0
    return root / "ds"


async def _open(pilot, dataset, run, epochs: int):
    await pilot.press("t")
    screen = pilot.app.screen
    assert isinstance(screen, TrainScreen)
    screen.query_one("#train-dataset", Input).value = str(dataset)
    screen.query_one("#train-out", Input).value = str(run)
    screen.query_one("#train-epochs", Input).value = str(epochs)
    screen.query_one("#train-batch", Input).value = "2"
    screen.query_one("#train-workers", Input).value = "0"
    return screen


async def test_one_epoch_with_curves_and_checkpoint(make_app, tmp_path, dataset):
    app = make_app(work=tmp_path / "work")
    run = tmp_path / "work" / "runs" / "tiny"
    async with app.run_test(size=(150, 50)) as pilot:
        screen = await _open(pilot, dataset, run, epochs=1)
        screen.query_one("#train-epochs", Input).focus()
        await pilot.press("enter")
        j = job(app.work, job_name(run))
        await until(pilot, lambda: j.state() == "finished", timeout=180, what="the epoch")
        await pilot.pause(0.8)  # a poll of the screen
        assert (run / "best.safetensors").is_file() and len(read_metrics(run)) == 1
        status = str(screen.query_one("#train-status").render())
        assert "finished" in status and "epoch 1/1" in status and "cpu" in status, status
        bar = screen.query_one("#train-progress")
        assert bar.total and bar.progress == bar.total
        # the curves: one epoch's point each, the held-out error beside the train error
        assert "held-out" in screen.query_one("#error-plot").plt.build()
        assert "train loss" in screen.query_one("#loss-plot").plt.build()
        table = screen.query_one("#runs")
        assert table.row_count == 1 and table.get_row_at(0)[:3] == ["tiny", "finished", "1"]


async def test_stop_resume_sigkill_and_reattach(make_app, tmp_path, dataset):
    run = tmp_path / "work" / "runs" / "long"
    app = make_app(work=tmp_path / "work")
    async with app.run_test(size=(150, 50)) as pilot:
        screen = await _open(pilot, dataset, run, epochs=400)
        screen.query_one("#train-epochs", Input).focus()
        await pilot.press("enter")
        j = job(app.work, job_name(run))
        await until(pilot, lambda: len(read_metrics(run)) >= 1, timeout=180, what="epoch 1")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: j.state() != "running", timeout=60, what="the stop")
        stopped_at = len(read_metrics(run))
        await pilot.press("ctrl+o")  # resume
        await until(pilot, lambda: len(read_metrics(run)) > stopped_at, timeout=180,
                    what="an epoch after the resume")
        epochs = [int(r["epoch"]) for r in read_metrics(run)]
        assert epochs == list(range(1, len(epochs) + 1))  # exactly from where it stopped
        # killed outright: no exit status, shown as stopped, and it resumes
        os.killpg(j.meta()["pid"], signal.SIGKILL)
        await until(pilot, lambda: "stopped" in str(screen.query_one("#train-status")
                                                      .render()), what="stopped shown")
        killed_at = len(read_metrics(run))
        await pilot.press("ctrl+o")
        await until(pilot, lambda: j.state() == "running", what="the second resume")
    # the app is closed; the run goes on, and a new app finds it running
    assert j.state() == "running"
    app2 = make_app(work=tmp_path / "work")
    async with app2.run_test(size=(150, 50)) as pilot:
        await pilot.press("t")
        table = pilot.app.screen.query_one("#runs")
        await until(pilot, lambda: table.row_count == 1, what="the run listed")
        assert table.get_row_at(0)[1] == "running"
        await until(pilot, lambda: len(read_metrics(run)) > killed_at, timeout=180,
                    what="an epoch after the kill")
        await pilot.press("ctrl+g")
        await until(pilot, lambda: j.state() != "running", timeout=60, what="the last stop")
    epochs = [int(r["epoch"]) for r in read_metrics(run)]
    assert epochs == list(range(1, len(epochs) + 1))


async def test_curves_of_a_run_without_a_val_split(make_app, tmp_path):
    """NaN held-out errors (no val split) are left out of the curves, not drawn into a crash."""
    run = tmp_path / "work" / "runs" / "noval"
    run.mkdir(parents=True)
    (run / "run.yaml").write_text("training: {epochs: 3}\n")
    (run / "metrics.csv").write_text("epoch,train_loss,train_mean_deg,val_mean_deg\n"
                                     "1,0.9,70.0,nan\n2,0.8,60.0,nan\n")
    app = make_app(work=tmp_path / "work")
    async with app.run_test(size=(150, 50)) as pilot:
        await pilot.press("t")
        screen = pilot.app.screen
        await until(pilot, lambda: screen.query_one("#runs").row_count == 1, what="the run")
        screen.query_one("#runs").focus()
        await pilot.pause(0.7)
        text = screen.query_one("#error-plot").plt.build()
        assert "train" in text and "held-out" not in text
        assert "2 of 3 epochs trained" in str(screen.query_one("#train-status").render())
