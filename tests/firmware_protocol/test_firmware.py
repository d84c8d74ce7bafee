"""The C firmware: its host-built codec passes the shared vectors; the AVR image builds."""

import shutil
import subprocess
from pathlib import Path

import pytest

FIRMWARE = Path(__file__).parents[2] / "firmware_protocol" / "firmware"


def make(tmp_path, *target):
    return subprocess.run(["make", "-s", "-C", str(FIRMWARE), f"BUILD={tmp_path}", *target],
                          capture_output=True, text=True, timeout=300)


def test_host_codec_passes_the_vectors(tmp_path):
    proc = make(tmp_path, "check")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert "30 passed, 0 failed" in proc.stdout


def test_host_state_machine(tmp_path):
    proc = make(tmp_path, "check-controller")
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert " 0 failed" in proc.stdout


def test_firmware_builds_for_the_avr(tmp_path):
    if shutil.which("avr-gcc") is None:
        pytest.fail("avr-gcc missing: `make test` installs gcc-avr and avr-libc")
    proc = make(tmp_path)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    hex_lines = (tmp_path / "flash.hex").read_text().splitlines()
    assert hex_lines[0].startswith(":") and hex_lines[-1] == ":00000001FF"
