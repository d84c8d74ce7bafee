"""Test helpers: a user's own folder, and the command line run in-process. (What is on disk,
to show that a refused or failed command changed nothing, is ``tests.conftest.snapshot``.)"""

from __future__ import annotations

from pathlib import Path


def user_folder(path: Path) -> Path:
    """A folder holding a user's own files, which no command may touch."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "README.md").write_text("mine")
    (path / "manifest.json").write_text('{"a":1}')
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    """``booth ARGV`` in this process: its exit status, stdout and stderr."""
    from booth.cli import main

    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err
