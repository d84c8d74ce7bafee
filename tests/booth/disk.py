"""Test helpers: what is on disk (to show that a refused or failed command changed
nothing), and the command line run in-process."""

from __future__ import annotations

import os
from pathlib import Path


def snapshot(root: str | Path) -> dict[str, tuple]:
    """Every entry under ``root`` (``root`` included): its kind, mode and, for files, bytes."""
    root = Path(root)
    out: dict[str, tuple] = {}
    if not os.path.lexists(root):
        return out
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", st.st_mode & 0o7777)
        else:
            out[rel] = ("file", st.st_mode & 0o7777, path.read_bytes())
    return out


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
