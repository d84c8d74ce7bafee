"""Snapshots (pytest-textual-snapshot) of the main screens on the simulated booth.

What changes from run to run is pinned: capture ids, the log's clock, free disk space and
the pseudo-terminal's path. Pictures are drawn as a stand-in of their size: the simulated
photos' pixels differ in their last bit from one CPU to another (numba's vector maths), and a
half-cell picture's colours are its pixels; the screens' pictures themselves are checked in
the flow tests. Update after a deliberate change of the UI with
``pytest tests/booth/tui/test_snapshots.py --snapshot-update`` and review the SVGs.
"""

import itertools

import numpy as np
import pytest
from PIL import Image
from textual.widgets import Input

import booth.session
import booth.station
import booth.tui.app
import booth.tui.screens.relight
import booth.tui.screens.review
import booth.tui.widgets.thumbs
from booth.station import SimOptions, Station
from booth.tui.app import BoothApp
from booth.tui.screens.capture import CaptureScreen
from booth.tui.script import add_subject, open_session, until
from booth.tui.widgets.thumbs import Thumbnail
from tests.booth.tui.conftest import until_thumbnails_shown

SIZE_TERM = (130, 44)


def _stand_in(picture):
    """A fixed picture of ``picture``'s size (a path or a PIL image)."""
    if picture is None:
        return None
    if not isinstance(picture, Image.Image):
        with Image.open(picture) as im:
            picture = im.copy()
    w, h = picture.size
    y, x = np.mgrid[:h, :w]
    quadrant = (2 * y // h) * 2 + (2 * x // w)  # four blocks: the picture's place and size
    colours = np.array([[40, 60, 110], [90, 120, 170], [150, 110, 90], [200, 180, 140]])
    return Image.fromarray(colours[quadrant].astype(np.uint8))


HalfcellImage = booth.tui.widgets.thumbs.HalfcellImage


class StandInImage(HalfcellImage, Renderable=HalfcellImage._Renderable):
    @HalfcellImage.image.setter
    def image(self, value):
        HalfcellImage.image.fset(self, _stand_in(value))


@pytest.fixture
def app(tmp_path, monkeypatch):
    for module in (booth.tui.widgets.thumbs, booth.tui.screens.relight):
        monkeypatch.setattr(module, "HalfcellImage", StandInImage)
    counter = itertools.count(1)
    monkeypatch.setattr(booth.session, "new_capture_id",
                        lambda: f"20260101T000000000-{next(counter):04d}")
    monkeypatch.setattr(booth.tui.app, "clock", lambda: "12:00:00")
    monkeypatch.setattr(booth.tui.screens.review, "shown_time", lambda iso: "12:00:01")
    monkeypatch.setattr(booth.station, "free_bytes", lambda root: 100 * 2**30)
    opened = Station.open

    def open_with_stable_port(self):
        opened(self)
        self.port = "/dev/pts/sim"
        return self

    monkeypatch.setattr(Station, "open", open_with_stable_port)
    monkeypatch.chdir(tmp_path)  # the hardware panel names the store by its relative path
    return BoothApp(sessions="sessions", sim=SimOptions(size=96), image_mode="cells", poll_s=0)


def steady(run_before):
    """Stop the text cursors blinking before the screenshot, so it does not depend on when
    it is taken."""

    async def wrapped(pilot):
        await run_before(pilot)
        await pilot.pause()
        for screen in pilot.app.screen_stack:
            for widget in screen.query(Input):
                widget.cursor_blink = False
        await pilot.pause()

    return wrapped


async def _session_with_capture(pilot):

    app = pilot.app
    await open_session(pilot)
    await add_subject(pilot)
    await pilot.press("c")
    screen = app.screen
    await until(pilot, lambda: isinstance(screen, CaptureScreen) and screen.finished
                is not None, what="the capture")
    await until_thumbnails_shown(pilot, screen)


def test_home_screen(app, snap_compare):
    async def run_before(pilot):
        await until(pilot, lambda: pilot.app.station is not None, what="the booth")
        pilot.app.poll_hardware()
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def test_sessions_screen(app, snap_compare):
    async def run_before(pilot):
        await until(pilot, lambda: pilot.app.station is not None, what="the booth")
        pilot.app.store.create_session("morning", "ana")
        await pilot.press("s")

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def test_add_subject_screen(app, snap_compare):
    async def run_before(pilot):
        await open_session(pilot)
        await pilot.press("a", *"p007")

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def test_capture_screen_done(app, snap_compare):
    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(_session_with_capture))


def test_session_screen_after_capture(app, snap_compare):
    async def run_before(pilot):
        await _session_with_capture(pilot)
        await pilot.press("escape")

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def test_calibrate_screen(app, snap_compare):
    async def run_before(pilot):
        await open_session(pilot)
        await pilot.press("k")
        await pilot.press("enter")
        screen = pilot.app.screen
        await until(pilot, lambda: screen.outcome is not None, what="the calibration")

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def test_review_screen(app, snap_compare):
    async def run_before(pilot):
        await _session_with_capture(pilot)
        await pilot.press("escape", "escape", "escape", "v")
        screen = pilot.app.screen
        await until(pilot, lambda: len(screen.query(Thumbnail)) == 8, what="the pictures")

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


@pytest.fixture
def exported(tmp_path, monkeypatch):
    """A small dataset and a one-epoch run beside the app's work folder (relative paths, so
    the screens show the same text wherever the test runs)."""
    from booth.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "people", "4", "--lighting", "portrait", "--size", "96",
                 "--out", "people", "--workers", "1"]) == 0
    assert main(["export", "people", "--out", "work/datasets/dataset", "--size", "64",
                 "--workers", "1", "--split", "0.5,0.5,0"]) == 0
    return tmp_path


def test_dataset_screen(app, exported, snap_compare):
    async def run_before(pilot):
        await until(pilot, lambda: pilot.app.station is not None, what="the booth")
        await pilot.press("e")
        screen = pilot.app.screen
        await until(pilot, lambda: screen.query_one("#samples").row_count > 0, what="samples")
        screen.query_one("#samples").focus()
        await until(pilot, lambda: len(screen.query(Thumbnail)) == 3, what="the pictures")

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def _train(epochs: int) -> None:
    """A tiny run, work/runs/run1, trained from the command line (not a job of the app)."""
    from booth.cli import main

    assert main(["train", "work/datasets/dataset", "--out", "work/runs/run1", "--epochs",
                 str(epochs), "--batch", "2", "--workers", "0"]) == 0


def test_train_screen(app, exported, snap_compare):
    _train(2)

    async def run_before(pilot):
        await until(pilot, lambda: pilot.app.station is not None, what="the booth")
        await pilot.press("t")
        screen = pilot.app.screen
        await until(pilot, lambda: screen.query_one("#runs").row_count == 1, what="the run")
        screen.query_one("#runs").focus()
        await pilot.pause(0.7)

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def test_relight_screen(app, snap_compare):
    async def run_before(pilot):
        await _session_with_capture(pilot)
        await pilot.press("escape", "escape", "escape", "v")
        await until(pilot, lambda: pilot.app.screen.rows, what="the review")
        await pilot.press("l")
        screen = pilot.app.screen
        await until(pilot, lambda: screen.frame is not None, what="the relit portrait")
        await pilot.press("left", "up", "h")

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))


def test_models_screen(app, exported, snap_compare):
    _train(1)

    async def run_before(pilot):
        await until(pilot, lambda: pilot.app.station is not None, what="the booth")
        await pilot.press("m")
        screen = pilot.app.screen
        screen.query_one("#eval-split").value = "val"
        table = screen.query_one("#models")
        table.focus()
        table.move_cursor(row=table.row_count - 1)
        await pilot.press("space", "e")
        await until(pilot, lambda: screen.shown is not None, timeout=120, what="the report")
        await until(pilot, lambda: len(screen.query(Thumbnail)) == 1, what="the figure")
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=SIZE_TERM, run_before=steady(run_before))
