"""`booth flash hello|fire` against the emulator run as its own process, as a user would."""

import subprocess
import sys

import pytest

from booth.cli import main


@pytest.fixture
def emulator_port():
    proc = subprocess.Popen([sys.executable, "-m", "firmware_protocol.emulator",
                             "--recycle-ms", "50"], stdout=subprocess.PIPE, text=True)
    try:
        yield proc.stdout.readline().strip()
    finally:
        proc.terminate()
        proc.wait(timeout=5)


def test_hello_and_fire(emulator_port, capsys):
    assert main(["flash", "hello", "--port", emulator_port]) == 0
    out = capsys.readouterr().out
    assert "firmware 1.0.0, protocol 1, 5 channels" in out and "ready: center" in out
    assert main(["flash", "fire", "left", "--port", emulator_port]) == 0
    assert "FIRED left at t=" in capsys.readouterr().out


def test_missing_port(capsys):
    assert main(["flash", "hello", "--port", "/dev/no-such-tty"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("booth: error: no serial port /dev/no-such-tty") and err.count("\n") == 1
