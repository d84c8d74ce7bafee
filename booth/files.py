"""Writing files so that a failure never leaves a half-written file in place of a good one."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary name beside ``path``, fsync it, then rename it over.

    The temporary keeps ``path``'s suffix so that writers choosing a format by extension
    (OpenCV, numpy) still do the right thing.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


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
