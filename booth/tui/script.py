"""A scripted operator: drives the app through Pilot as a person at the keyboard would.

``make demo`` runs a capture in the app with it (headless, saving a screenshot), and the
tests use the same steps, so the demo and the tests cannot drift apart.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable

from textual.pilot import Pilot


async def until(pilot: Pilot, cond: Callable[[], bool], timeout: float = 60.0,
                what: str = "condition") -> None:
    """Let the app run until ``cond()`` holds; a clear error naming ``what`` otherwise."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}; screen "
                               f"{type(pilot.app.screen).__name__}, log: "
                               f"{pilot.app.log_lines[-5:]}")
        await pilot.pause(0.05)
    await asyncio.sleep(0)


async def open_session(pilot: Pilot, name: str = "s1") -> None:
    """From the home screen (or the sessions screen), open or create session ``name``."""
    from booth.tui.screens.home import HomeScreen
    from booth.tui.screens.session_main import SessionScreen

    app = pilot.app
    await until(pilot, lambda: app.station is not None or app.station_error != "",
                what="the booth")
    if isinstance(app.screen, HomeScreen):
        await pilot.press("s")
    await pilot.click("#session-name")
    await pilot.press(*name, "enter")
    await until(pilot, lambda: isinstance(app.screen, SessionScreen), what="session screen")


async def add_subject(pilot: Pilot, subject: str = "p1", consent: bool = True) -> None:
    await pilot.press("a")
    await pilot.press(*subject)
    if consent:
        await pilot.click("#consent")
    await pilot.click("#add")


async def capture(pilot: Pilot):
    """Press c and wait for the capture (and its processing) to finish; the capture screen."""
    from booth.tui.screens.capture import CaptureScreen

    await pilot.press("c")
    screen = pilot.app.screen
    if not isinstance(screen, CaptureScreen):
        raise RuntimeError(f"capture did not start: {pilot.app.log_lines[-1:]}")
    await until(pilot, lambda: screen.finished is not None, timeout=120, what="the capture")
    await pilot.pause(0.3)
    return screen


async def key_latencies(pilot: Pilot, screen, key: str, action: str, n: int,
                        while_running: bool = False, done: bool = False) -> list[float]:
    """Send ``key`` ``n`` times through the app's driver, as from a terminal; seconds from
    each key entering the app to ``screen``'s ``action_<action>`` running (with ``done``: to
    its end, e.g. the relit picture redrawn). With ``while_running``, stops early when
    ``screen.running`` goes false."""
    from textual import events

    handled: list[float] = []
    original = getattr(screen, f"action_{action}")

    @functools.wraps(original)  # Textual passes an action the arguments its signature takes
    def timed(*args):
        if not done:
            handled.append(time.perf_counter())
        original(*args)
        if done:
            handled.append(time.perf_counter())

    setattr(screen, f"action_{action}", timed)
    out: list[float] = []
    try:
        for i in range(n):
            if while_running and not screen.running:
                break
            t = time.perf_counter()
            pilot.app._driver.send_message(events.Key(key, key if len(key) == 1 else None))
            await until(pilot, lambda i=i: len(handled) > i, what=f"key {key}")
            out.append(handled[i] - t)
            await asyncio.sleep(0.02)
    finally:
        setattr(screen, f"action_{action}", original)
    return out
