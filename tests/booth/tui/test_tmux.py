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

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None and not os.environ.get("CI"),
    reason="tmux is not installed (make test installs it)")


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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        """One key at a time, as a person types (a burst of keys reads as a paste)."""
        for k in keys:
            self.run("send-keys", "-t", "booth", k)
            time.sleep(0.15)


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
        tmux.wait_for("Open or create a session")
        tmux.keys("s", "1", "Enter")
        tmux.wait_for("● connected")
        tmux.keys("a")
        tmux.wait_for("New subject in session s1")
        tmux.keys("p", "1", "Tab", "Tab", "Space", "Tab", "Enter")
        tmux.wait_for("subject p1 added with consent")
        tmux.keys("c")
        screen = tmux.wait_for("complete: ", timeout=120)
        screen = tmux.wait_for("normals")
        assert "QC: no warnings" in screen
        assert "✓ bottom" in screen
        tmux.keys("Escape")
        tmux.wait_for("a add subject")
        tmux.keys("q")
        deadline = time.monotonic() + 30
        while tmux.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not tmux.alive(), "booth tui did not exit on q"
    finally:
        tmux.run("kill-server", check=False)
    [info] = SessionStore(root).session("s1").verify()
    assert info.status == "complete"
    assert (info.path / "derived" / "normals.png").is_file()
    text = log.read_text()
    assert "Traceback" not in text
    assert "capture of p1 started" in text
