"""Writing files so that a failure never leaves a half-written file in place of a good one."""

from __future__ import annotations

import shutil
from pathlib import Path

from photometric.imageio import atomic_write  # the one atomic writer; booth imports it from here

__all__ = ["atomic_write", "existing_parent", "free_bytes", "make_dir", "write_text"]


def write_text(path: str | Path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text))


def make_dir(path: str | Path) -> Path:
    """Create an output folder (and parents); a clear error if a file is in the way."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(f"{p}: exists and is not a folder")
    p.mkdir(parents=True, exist_ok=True)
    return p


def existing_parent(path: str | Path) -> Path:
    """``path`` or its nearest ancestor that exists (where its files would go)."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    return probe


def free_bytes(path: str | Path) -> int:
    """Free space on the file system that ``path`` is (or would be) on."""
    return shutil.disk_usage(existing_parent(path)).free
