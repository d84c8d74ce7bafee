"""Start the app from the command line (``booth tui``), with the terminal kept clean.

Textual draws on file descriptor 2. MediaPipe, TensorFlow Lite and libgphoto2 also write
diagnostics straight to descriptor 2 from C, which would scribble over the screen. So while
the app runs, descriptor 2 goes to the log file and Textual draws on a duplicate of the
terminal's descriptor. Python's own logging goes to the same file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from pathlib import Path


def default_log_file() -> Path:
    state = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return state / "booth" / "tui.log"


@contextlib.contextmanager
def stderr_to(log_file: str | Path):
    log_file = Path(log_file)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    saved_fd = os.dup(2)
    saved_obj = sys.__stderr__
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(2), "w", encoding="utf-8", errors="replace")
    os.dup2(fd, 2)
    os.close(fd)
    sys.__stderr__ = terminal
    try:
        yield
    finally:
        sys.__stderr__ = saved_obj
        os.dup2(saved_fd, 2)
        os.close(saved_fd)
        terminal.close()


def run(config_file: str | None, backend: str, sessions: str | None, port: str | None,
        seed: int, size: int, images: str, log_file: str | None,
        image_format: str = "jpeg", controller: str = "emulator",
        work: str = "work") -> int:
    from booth.config import load_config
    from booth.station import SimOptions

    cfg = load_config(config_file)
    path = Path(log_file) if log_file else default_log_file()
    # Imported before the app starts: textual-image asks the terminal about itself on import.
    from booth.tui.app import BoothApp

    sim = SimOptions(seed=seed, size=size, image_format=image_format, controller=controller)
    app = BoothApp(cfg, backend, sessions, port, sim, images,
                   config_source=config_file or "defaults", work=work)
    with stderr_to(path):
        logging.basicConfig(filename=path, level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        app.run()
    return app.return_code or 0
