"""Progress of a long command as JSON lines, for whoever started it as a job (:mod:`booth.jobs`).

``booth export`` and ``booth train`` report here besides their progress bars; nothing is
written unless ``BOOTH_PROGRESS`` names a file, so a command run by hand is unchanged. Each
line is one event: ``{"event": "export", "done": 12, "total": 40, ...}``, appended and
flushed whole, so a reader never sees half an event (it skips a torn last line).
"""

from __future__ import annotations

import json
import os
import time

from booth.jobs import PROGRESS_ENV


class Reporter:
    """``reporter(event, **fields)`` appends one line; ``every`` seconds at most between
    lines of one event unless ``force`` (the last step of an epoch, say)."""

    def __init__(self, every: float = 0.5) -> None:
        self.path = os.environ.get(PROGRESS_ENV)
        self.every = every
        self.last: dict[str, float] = {}

    def __call__(self, event: str, force: bool = False, **fields) -> None:
        if not self.path:
            return
        now = time.time()
        if not force and now - self.last.get(event, 0.0) < self.every:
            return
        self.last[event] = now
        line = json.dumps({"event": event, "time": round(now, 3), **fields}) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
