"""``booth tui --backend sim`` in a real terminal: tmux runs it, keys go in with
``send-keys``, the screen comes back with ``capture-pane``."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from booth.session import SessionStore
from tests.conftest import wait_until

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"),
    reason="tmux is not installed (make test installs it)")


#: Seconds between keys: a quick typist's pace.
TYPING_PACE_S = 0.15


class Tmux:
    def __init__(self, tmp: Path):
        self.socket = f"booth-test-{os.getpid()}"
        self.env = dict(os.environ, TERM="xterm-256color", XDG_STATE_HOME=str(tmp / "state"))

    def run(self, *args: str, check: bool = True) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], env=self.env, check=check,
                              capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "booth", check=False)

    def alive(self) -> bool:
        return subprocess.run(["tmux", "-L", self.socket, "has-session", "-t", "booth"],
                              env=self.env, capture_output=True).returncode == 0

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        """The screen, once ``text`` is on it."""
        def showing() -> str:
            screen = self.screen()
            return screen if text in screen else ""

        try:
            return wait_until(showing, f"{text!r} on the screen", timeout, every=0.05)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the screen:\n{self.screen()}") from None

    def keys(self, *keys: str) -> None:
        """One key at a time, at a person's typing pace."""
        for k in keys:
            self.run("send-keys", "-t", "booth", k)
            time.sleep(TYPING_PACE_S)

    def burst(self, *keys: str) -> None:
        """All the keys in one write, faster than the app redraws: each must still land where
        the screen before it sent it (the app handles keys one at a time)."""
        self.run("send-keys", "-t", "booth", *keys)


def booth_command() -> list[str]:
    script = Path(sys.executable).with_name("booth")
    return [str(script)] if script.exists() else [sys.executable, "-m", "booth"]


def test_capture_in_a_real_terminal(tmp_path):
    root, log = tmp_path / "sessions", tmp_path / "tui.log"
    tmux = Tmux(tmp_path)
    cmd = booth_command() + ["tui", "--backend", "sim", "--sessions", str(root),
                             "--size", "128", "--log", str(log)]
    tmux.run("new-session", "-d", "-s", "booth", "-x", "132", "-y", "44", *cmd)
    try:
        tmux.wait_for("The booth day")
        tmux.keys("s")
        tmux.wait_for("Open or create a session")
        tmux.burst("s", "1", "Tab", "o", "p", "Enter")
        tmux.wait_for("operator op")
        tmux.wait_for("● connected")
        tmux.keys("a")
        tmux.wait_for("New subject in session s1")
        tmux.keys("p", "1", "Tab", "Tab", "Space")
        tmux.wait_for("▐X▌ Consent given")
        tmux.keys("Enter")  # Enter on the ticked box submits the form
        tmux.wait_for("subject p1 added with consent")
        tmux.burst("a", "p", "2", "Tab", "Tab", "Space", "Enter")
        tmux.wait_for("subject p2 added with consent")
        tmux.keys("Up")
        tmux.keys("c")
        screen = tmux.wait_for("complete: ", timeout=120)
        screen = tmux.wait_for("normals")
        assert "QC: no warnings" in screen
        assert "✓ bottom" in screen
        tmux.keys("Escape")
        tmux.wait_for("a add subject")
        tmux.keys("q")
        wait_until(lambda: not tmux.alive(), "booth tui to exit on q", 30, every=0.05)
    finally:
        tmux.run("kill-server", check=False)
    [info] = SessionStore(root).session("s1").verify()
    assert info.status == "complete"
    assert (info.path / "derived" / "normals.png").is_file()
    text = log.read_text()
    assert "Traceback" not in text
    assert "capture of p1 started" in text


def test_a_booth_day_by_keys_alone(tmp_path):
    """Capture three sitters, review, export, train one epoch and relight, in a real terminal,
    by keys alone."""
    root, work, log = tmp_path / "sessions", tmp_path / "work", tmp_path / "tui.log"
    tmux = Tmux(tmp_path)
    cmd = booth_command() + ["tui", "--backend", "sim", "--sessions", str(root), "--work",
                             str(work), "--size", "128", "--log", str(log)]
    tmux.run("new-session", "-d", "-s", "booth", "-x", "150", "-y", "48", *cmd)
    try:
        tmux.wait_for("The booth day")
        tmux.burst("s", "d", "a", "y", "1", "Enter")
        tmux.wait_for("Session day1")
        tmux.wait_for("● connected")
        for i, who in enumerate(("p1", "p2", "p3")):
            tmux.burst("a", *who, "Tab", "Tab", "Space", "Enter")
            tmux.wait_for(f"subject {who} added with consent")
            tmux.keys("c")
            tmux.wait_for("QC:", timeout=120)
            tmux.keys("Escape")
            wait_until(lambda n=i + 1: len(SessionStore(root).session("day1").captures()) == n,
                       "the capture recorded", 30)
            tmux.wait_for("a add subject")
        # Escape then a letter at once reads as Alt+letter in any terminal: after an Escape,
        # the next key once the screen it leads to shows
        tmux.keys("Escape")
        tmux.wait_for("Open or create a session")
        tmux.keys("Escape")
        tmux.wait_for("The booth day")
        tmux.keys("v")
        tmux.wait_for("3 captures, 0 marked for retake")
        tmux.keys("Escape")
        tmux.wait_for("The booth day")
        tmux.keys("e")
        tmux.wait_for("Session stores")
        tmux.keys("Enter")  # the form's defaults: this store, work/datasets/dataset, 256 px
        tmux.wait_for("export done", timeout=180)
        tmux.keys("Escape")
        tmux.wait_for("The booth day")
        tmux.keys("t")
        tmux.wait_for("Learning rate")
        tmux.keys("Enter")  # one epoch of the small preset on that dataset
        tmux.wait_for("finished", timeout=240)
        assert (work / "runs" / "run1" / "best.safetensors").is_file()
        tmux.keys("Escape")
        tmux.wait_for("The booth day")
        tmux.keys("v")
        tmux.wait_for("3 captures")
        tmux.keys("l")
        screen = tmux.wait_for("arrows move it", timeout=60)
        assert "az -35°" in screen
        tmux.keys("Left", "Left", "Up")
        tmux.wait_for("az -55° el +35°")
        tmux.keys("w")
        tmux.wait_for("saved", timeout=60)
        tmux.keys("Escape")
        tmux.wait_for("3 captures")
        tmux.keys("Escape")
        tmux.wait_for("The booth day")
        tmux.keys("q")
        wait_until(lambda: not tmux.alive(), "booth tui to exit on q", 30, every=0.05)
    finally:
        tmux.run("kill-server", check=False)
    assert list((work / "relit").glob("*/relit.png"))
    text = log.read_text()
    assert "Traceback" not in text
