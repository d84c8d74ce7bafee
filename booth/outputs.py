"""The booth's rules for a command's outputs, on top of :mod:`photometric.files`.

* :func:`folder_of_names` recognises an output folder written before folders carried a marker
  file, by its file names alone, so upgrading the booth does not lock users out of their own
  earlier outputs.
* :func:`replace_files` replaces several single files together or not at all (``booth
  landmarks --out FILE.json --overlay FILE.png``): all are written first, then renamed in, and
  a failure part-way puts the earlier files back.
* :class:`OutputFolder` is :class:`~photometric.files.OutputDir` that also accepts, when it
  swaps the new outputs in, an earlier output recognised by ``also_ours`` (``OutputDir``
  re-checks the folder then by its marker alone).
* :func:`naming` re-raises an ``OSError`` naming the file the user asked for, not the
  temporary beside it where the write actually failed.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from photometric.files import MARKER, PRIVATE_FILE, OutputDir, fsync_dir, write_marker


def folder_of_names(folder: Path, names: Iterable[str],
                    required: Callable[[Path], bool] | None = None) -> bool:
    """Whether every entry of ``folder`` is one of ``names`` (the marker file too), and
    ``required(folder)`` holds: how a pre-marker output of a command is recognised."""
    allowed = {*names, MARKER}
    try:
        entries = [p.name for p in folder.iterdir()]
    except OSError:
        return False
    return all(n in allowed for n in entries) and (required is None or required(folder))


class OutputFolder(OutputDir):
    """An :class:`OutputDir` whose swap accepts a pre-marker output recognised at the start."""

    def __init__(self, path: str | Path, command: str,
                 also_ours: Callable[[Path], bool] | None = None):
        super().__init__(path, command, also_ours)
        self.also_ours = also_ours

    def _commit(self) -> None:
        final = self.final
        if (self.also_ours is not None and final.is_dir() and not (final / MARKER).exists()
                and self.also_ours(final)):
            # Everything is staged: the earlier output is about to go; mark it ours so that
            # the swap's re-check (by marker) knows it too.
            write_marker(final, self.command)
        super()._commit()


@contextlib.contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """Any ``OSError`` inside names ``path`` (an ENOSPC from a write names nothing at all)."""
    try:
        yield
    except OSError as exc:
        if exc.filename and str(exc.filename) == str(path):
            raise
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def _temp(path: Path, tag: str) -> Path:
    return path.with_name(f".{path.stem}.{tag}{path.suffix}")


def replace_files(items: Iterable[tuple[Path, Callable[[Path], None]]],
                  mode: int = PRIVATE_FILE) -> None:
    """Write each ``(path, write)`` and put them all in place, or none of them.

    Each ``write(tmp)`` fills a temporary beside its file (owner-only, fsynced); only when
    every one succeeded are they renamed over their files. Should a rename fail, the files
    already replaced get their earlier contents back (kept as hard links until the end)."""
    items = [(Path(p), w) for p, w in items]
    temps: list[Path] = []
    backups: list[tuple[Path, Path | None]] = []  # (final, backup or None if it was new)
    kept: set[Path] = set()  # backups that could not be put back: never deleted
    try:
        for path, write in items:
            tmp = _temp(path, "partial")
            with naming(path):
                tmp.unlink(missing_ok=True)
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
                temps.append(tmp)
                write(tmp)
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
        for (path, _), tmp in zip(items, temps, strict=True):
            with naming(path):
                backup = None
                if os.path.lexists(path):
                    backup = _temp(path, "previous")
                    backup.unlink(missing_ok=True)
                    os.link(path, backup)
                backups.append((path, backup))
                os.replace(tmp, path)
                fsync_dir(path.parent)
    except BaseException:
        for path, backup in reversed(backups):
            try:
                if backup is None:
                    path.unlink(missing_ok=True)
                else:
                    os.replace(backup, path)
            except OSError:
                if backup is not None:
                    kept.add(backup)
        raise
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        for _, backup in backups:
            if backup is not None and backup not in kept:
                backup.unlink(missing_ok=True)
