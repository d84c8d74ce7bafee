"""Helpers for driving the app with Textual's Pilot on the simulated booth."""

import asyncio
import time

import pytest

from booth.station import SimOptions
from booth.tui.app import BoothApp

SIZE = 128


async def until(pilot, cond, timeout: float = 60.0, what: str = "condition"):
    """Let the app run until ``cond()`` holds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; screen "
                                 f"{type(pilot.app.screen).__name__}, log: "
                                 f"{pilot.app.log_lines[-5:]}")
        await pilot.pause(0.05)
    await asyncio.sleep(0)


@pytest.fixture
def make_app(tmp_path):
    def make(**kw):
        sim = SimOptions(size=SIZE, **kw.pop("sim", {}))
        kw.setdefault("image_mode", "cells")
        return BoothApp(sessions=tmp_path / "sessions", sim=sim, **kw)

    return make
