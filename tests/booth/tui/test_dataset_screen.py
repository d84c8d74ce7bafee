"""The dataset screen: an export as a job with progress, cancelled and run again (reusing what
was done), the report of what was skipped, and a sample's pictures."""

import os
import shutil
import signal
from pathlib import Path

import pytest
from textual.widgets import Input

from booth.cli import main
from booth.tui.screens.export import DatasetScreen
from booth.tui.script import until
from booth.tui.widgets.thumbs import Thumbnail


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    """48 portraits: 6 simulated people, in eight folders (each folder's keys are its own)."""
    root = tmp_path_factory.mktemp("people")
    first = root / "a"
    assert main(["simulate", "people", "6", "--lighting", "portrait", "--size", "128",
                 "--out", str(first), "--workers", "1"]) == 0
    for name in "bcdefgh":
        shutil.copytree(first, root / name)
    return [str(root / n) for n in "abcdefgh"]


async def _open(pilot, stores, out):
    app = pilot.app
    await pilot.press("e")
    screen = app.screen
    assert isinstance(screen, DatasetScreen)
    screen.query_one("#stores", Input).value = " ".join(stores)
    screen.query_one("#out", Input).value = str(out)
    screen.query_one("#size", Input).value = "128"
    screen.query_one("#workers", Input).value = "1"
    return screen


def _signal(screen, sig: int) -> None:
    os.killpg(int(screen.job.meta()["pid"]), sig)


def _pending_interrupt(screen) -> bool:
    """Whether the job's (stopped) process has a Ctrl-C waiting (Linux: /proc)."""
    status = Path(f"/proc/{screen.job.meta()['pid']}/status").read_text()
    pending = next(ln.split()[1] for ln in status.splitlines() if ln.startswith("ShdPnd:"))
    return bool(int(pending, 16) & (1 << (signal.SIGINT - 1)))


async def _export_a_few(pilot, screen, events) -> None:
    """Let the export run in short slices (SIGCONT, SIGSTOP) until three captures are done,
    and leave it stopped: a whole export of these small photos takes about a second, faster
    than a poll of the screen, so a cancel must land on a paused job to land mid-export."""
    await until(pilot, lambda: screen.job.state() == "running", what="the export starting")
    _signal(screen, signal.SIGSTOP)
    for _ in range(200):
        if any(e["done"] >= 3 for e in events()):
            return
        _signal(screen, signal.SIGCONT)
        await pilot.pause(0.15)
        _signal(screen, signal.SIGSTOP)
        await pilot.pause(0.1)
    raise AssertionError("the export did not reach three captures")


def _log_summary(screen) -> str:
    return next(ln for ln in screen.job.log_tail(60) if ln.startswith("exported"))


async def test_export_cancel_rerun_and_browse(make_app, tmp_path, people):
    app = make_app(work=tmp_path / "work")
    out = tmp_path / "ds"
    async with app.run_test(size=(150, 50)) as pilot:
        screen = await _open(pilot, people, out)
        screen.query_one("#size", Input).focus()
        await pilot.press("enter")  # Enter in the form starts the export
        events = lambda: [e for e in screen.job.events() if e["event"] == "export"]  # noqa: E731
        await _export_a_few(pilot, screen, events)
        await pilot.press("ctrl+g")  # Ctrl-C to the paused job, then let it go on
        await until(pilot, lambda: _pending_interrupt(screen), what="the Ctrl-C sent")
        _signal(screen, signal.SIGCONT)
        await until(pilot, lambda: screen.job.state() != "running", what="the cancel")
        await until(pilot, lambda: "cancelled" in str(screen.query_one("#export-status")
                                                        .render()), what="cancelled shown")
        done_before = events()[-1]["done"]
        assert 3 <= done_before < 48
        assert not (out / "manifest.json").exists()  # a cut export has no manifest yet
        # again: it finishes, reusing what the cancelled run did
        screen.query_one("#out", Input).focus()
        await pilot.press("enter")
        await until(pilot, lambda: screen.job.state() == "finished", timeout=180,
                    what="the second export")
        summary = _log_summary(screen)
        reused = int(summary.split("(")[1].split()[0])
        assert reused >= 3, summary
        bar = screen.query_one("#export-progress")
        assert bar.total == 48 and bar.progress == 48
        await until(pilot, lambda: screen.query_one("#samples").row_count > 0,
                    what="the samples")
        samples = screen.query_one("#samples").row_count
        skipped = screen.query_one("#skipped").row_count
        assert samples + skipped == 48 and samples >= 32
        assert f"exported {samples} captures" in summary
        # browse: the highlighted sample's photo, landmark channels and normals
        screen.query_one("#samples").focus()
        await pilot.press("down")
        await until(pilot, lambda: len(screen.query(Thumbnail)) == 3, what="the pictures")
        assert [t.title for t in screen.query(Thumbnail)] == ["photo", "landmarks", "normals"]
        assert str(out / "samples") in str(screen.query_one("#sample-detail").render())


async def test_a_bad_form_is_refused_naming_the_field(make_app, tmp_path):
    app = make_app(work=tmp_path / "work")
    async with app.run_test(size=(150, 50)) as pilot:
        screen = await _open(pilot, ["nowhere"], tmp_path / "ds")
        screen.query_one("#size", Input).value = "12"
        screen.query_one("#size", Input).focus()
        await pilot.press("enter")
        assert "size: expected 32..4096, got 12" in app.log_lines[-1]
        assert screen.job.state() == "none"
        screen.query_one("#size", Input).value = "128"
        await pilot.press("enter")  # the command itself refuses a store that is not there
        await until(pilot, lambda: screen.job.state() == "failed", what="the refusal")
        await until(pilot, lambda: "failed" in str(screen.query_one("#export-status")
                                                     .render()), what="failure shown")
        assert "nowhere" in str(screen.query_one("#export-status").render())
    assert not (tmp_path / "ds").exists()
