"""``booth export``: session stores -> a training dataset. The export itself is
:func:`learning.export.export` (which also refuses an output folder that is neither new, empty
nor a dataset it made); this module gathers its sources and makes a run that exports nothing
leave no trace.

* :func:`export_sources` offers the captures a dataset can use: complete, not superseded,
  checksums intact, each with its session's calibration (so the export's normals are the
  capture's own ``derived/`` ones, by the same default method).
* :func:`run_export`: an export with nothing exported leaves the folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from photometric.files import check_output_dir

COMMAND = "export"
_TOP = ("manifest.json", "README.md", "report.txt", "index.jsonl")


def export_sources(roots) -> tuple[list, list]:
    """The captures of session stores that a dataset can use: complete, not superseded,
    checksums intact (``Source``), and those refused with the reason (``Outcome``)."""
    from booth.session import CALIBRATION_SUBJECT, SessionStore
    from learning.export import Outcome, Source

    sources, rejected = [], []
    for root in roots:
        for session in SessionStore(root).sessions():
            cal = session.calibration_file()
            for info in session.verify():
                if info.subject == CALIBRATION_SUBJECT or info.superseded_by:
                    continue
                key = f"{session.name}/{info.subject}/{info.capture_id}"
                if info.status != "complete":
                    why = "; ".join(info.problems) or f"capture is {info.status}"
                    rejected.append(Outcome(key, info.subject, "", "", reason=why))
                    continue
                digest = hashlib.sha256((info.path / "capture.yaml").read_bytes()).hexdigest()
                sources.append(Source(key, info.subject, str(info.path), digest,
                                      str(cal) if cal and cal.is_file() else None))
    return sources, rejected


def check_out(out: str | Path) -> Path:
    """Refuse, before the slow checksums, what the export itself would refuse."""
    from learning.export import is_old_dataset

    return check_output_dir(out, COMMAND, also_ours=is_old_dataset)


class _Undo:
    """What :func:`run_export` puts back when nothing was exported: the top-level files as
    they were, or no folder at all when it was new (or nothing, when it was empty)."""

    def __init__(self, out: Path):
        self.out = out
        self.existed = out.exists()
        self.entries = {p.name for p in out.iterdir()} if self.existed else set()
        self.files = {n: ((out / n).read_bytes(), (out / n).stat().st_mode & 0o7777)
                      for n in _TOP if (out / n).is_file()}

    def restore(self) -> None:
        from photometric.files import write_bytes

        if not self.existed:
            shutil.rmtree(self.out, ignore_errors=True)
            return
        for p in self.out.iterdir():
            if p.name in self.entries:
                continue
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        for name, (data, mode) in self.files.items():
            p = self.out / name
            if not p.is_file() or p.read_bytes() != data:
                write_bytes(p, data, mode)


def run_export(sources: Sequence, out: str | Path, settings, workers: int = 1,
               progress: Callable | None = None, rejected: Sequence = ()):
    """:func:`learning.export.export`; when nothing at all was exported, the folder is put
    back as it was (no new folder, marker or resume-log lines left behind)."""
    from learning.export import ExportResult, export

    out = check_out(out)
    undo = _Undo(out)
    if not sources:  # every capture refused before the export: nothing to write
        return ExportResult(None, [], list(rejected), 0)
    result = export(sources, out, settings, workers, progress, rejected)  # resumable if cut
    if not result.exported:
        undo.restore()
    return result


def cpu_workers() -> int:
    """The default number of worker processes: one per core, at most 64."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, 64))
