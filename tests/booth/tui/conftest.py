"""Helpers for driving the app with Textual's Pilot on the simulated booth."""

import pytest
from textual.pilot import Pilot
from textual.widgets import Label

from booth.station import SimOptions
from booth.tui.app import BoothApp
from booth.tui.script import until
from booth.tui.widgets.thumbs import Thumbnail, Thumbnails

SIZE = 128


async def until_thumbnails_shown(pilot, screen) -> list[str]:
    """Until the capture screen shows its finished capture's thumbnails: ``finished`` is set
    as the finish handler starts, the thumbnails are mounted at its end. Their titles."""
    def shown() -> bool:
        if screen.finished is None:
            return False
        thumbs = list(screen.query(Thumbnail))
        wanted = screen.query_one("#thumbs", Thumbnails).paths
        return bool(wanted) and len(thumbs) == len(wanted) and all(
            t.query(Label) for t in thumbs)

    await until(pilot, shown, what="the capture's thumbnails")
    return [t.title for t in screen.query(Thumbnail)]


@pytest.fixture(autouse=True)
def keys_settle(monkeypatch):
    """Pilot's ``press`` returns once the event loop looks idle, which on a busy machine can
    be before the app has handled the keys (they are held in order, booth/tui/keys.py) and
    before the screen they opened is composed: wait for both, as a person would see."""
    press = Pilot.press

    async def settled_press(self, *keys):
        await press(self, *keys)
        await until(self, lambda: getattr(self.app, "keys_settled", True), timeout=30,
                    what=f"the keys {keys} to be handled")

    monkeypatch.setattr(Pilot, "press", settled_press)


@pytest.fixture
def make_app(tmp_path):
    def make(**kw):
        sim = SimOptions(size=SIZE, **kw.pop("sim", {}))
        kw.setdefault("image_mode", "cells")
        return BoothApp(sessions=tmp_path / "sessions", sim=sim, **kw)

    return make
