"""Helpers for driving the app with Textual's Pilot on the simulated booth."""

import pytest

from booth.station import SimOptions
from booth.tui.app import BoothApp

SIZE = 128


@pytest.fixture
def make_app(tmp_path):
    def make(**kw):
        sim = SimOptions(size=SIZE, **kw.pop("sim", {}))
        kw.setdefault("image_mode", "cells")
        return BoothApp(sessions=tmp_path / "sessions", sim=sim, **kw)

    return make
