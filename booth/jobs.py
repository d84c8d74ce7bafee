"""Long booth commands (export, train) run as child processes that outlive whoever started them.

The app starts ``booth export`` or ``booth train`` as its own process group, so the app stays
responsive, a crash of the command never takes the app down, and quitting the app leaves a
training running. Everything about a job is in files under ``WORK/jobs/``:

- ``NAME.yaml``: the command, its process id and start time (to tell it from a later process
  that reuses the id), when it began;
- ``NAME.log``: what it printed;
- ``NAME.progress.jsonl``: its progress as JSON lines (:mod:`booth.progress`);
- ``NAME.exit``: its exit status, written by ``booth`` as it ends.

So an app opened later finds a job still running (and reattaches), finished (with its exit
status) or *stopped*: gone without an exit status, which is what a kill (SIGKILL, a power
cut) leaves. Export and training both resume from what they finished.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from photometric.errors import InputError
from photometric.io.files import PRIVATE_FILE, make_dir, read_yaml, write_text

#: The environment variables through which ``booth`` reports to the job's files.
PROGRESS_ENV = "BOOTH_PROGRESS"
EXIT_ENV = "BOOTH_EXIT_FILE"


def _process_start(pid: int) -> str | None:
    """The kernel's start time of process ``pid`` (clock ticks since boot), None when there is
    no such process. With the id it names one process for good."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22; the name in () may hold spaces


def _zombie(pid: int) -> bool:
    """Ended, not yet reaped by its parent (a job started by another app still open)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@dataclass
class Job:
    folder: Path
    name: str
    # events read so far, and where the file was read up to: a long training writes thousands
    # of lines, and the app reads only what is new on each poll
    _events: list[dict] = field(default_factory=list, repr=False)
    _offset: int = field(default=0, repr=False)
    _run: tuple = field(default=(), repr=False)  # the (pid, start) the events are of

    @property
    def record(self) -> Path:
        return self.folder / f"{self.name}.yaml"

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def progress(self) -> Path:
        return self.folder / f"{self.name}.progress.jsonl"

    @property
    def exit_file(self) -> Path:
        return self.folder / f"{self.name}.exit"

    def meta(self) -> dict:
        try:
            return read_yaml(self.record) or {}
        except InputError:
            return {}

    def state(self) -> str:
        """``running``, ``finished`` (exit 0), ``failed`` (another exit status), ``stopped``
        (gone without one: killed) or ``none`` (never started)."""
        meta = self.meta()
        if not isinstance(meta, dict) or not isinstance(meta.get("pid"), int):
            return "none"
        pid, began = meta["pid"], meta.get("start")
        if began is not None and _process_start(pid) == began:
            try:
                os.waitpid(pid, os.WNOHANG)  # reaps it if it is our child and has ended
            except ChildProcessError:
                pass
            if _process_start(pid) == began and not _zombie(pid):
                return "running"
        code = self.exit_code()
        if code is None:
            return "stopped"
        return "finished" if code == 0 else "failed"

    def exit_code(self) -> int | None:
        try:
            return int(self.exit_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def events(self) -> list[dict]:
        """Every progress line the command wrote so far (a torn last line is left for the next
        call); read from where the last call stopped."""
        try:
            meta = self.meta()
            run = (meta.get("pid"), meta.get("start")) if isinstance(meta, dict) else ()
            with open(self.progress, "rb") as fh:
                size = fh.seek(0, os.SEEK_END)
                if run != self._run or size < self._offset:  # the job started again
                    self._events, self._offset, self._run = [], 0, run
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            self._events, self._offset = [], 0
            return []
        end = data.rfind(b"\n") + 1
        for line in data[:end].splitlines():
            try:
                self._events.append(json.loads(line))
            except ValueError:
                continue
        self._offset += end
        return self._events

    def log_tail(self, lines: int = 20) -> list[str]:
        try:
            return self.log.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return []

    def stop(self, timeout: float = 10.0) -> bool:
        """Interrupt the job's process group (Ctrl-C: the command stops where it can resume),
        then kill it if it has not ended within ``timeout`` seconds. Whether it was running."""
        meta = self.meta()
        if self.state() != "running":
            return False
        pid = int(meta["pid"])
        try:
            os.killpg(pid, signal.SIGINT)
        except ProcessLookupError:
            return False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.state() != "running":
                return True
            time.sleep(0.05)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return True


def jobs_folder(work: str | Path) -> Path:
    return Path(work) / "jobs"


def job(work: str | Path, name: str) -> Job:
    return Job(jobs_folder(work), name)


def start(work: str | Path, name: str, argv: list[str]) -> Job:
    """Start ``booth ARGV`` as job ``name``; refused while a job of that name runs. The
    previous run's log and progress are replaced (its outputs, not these, are the record)."""
    j = job(work, name)
    if j.state() == "running":
        raise RuntimeError(f"{name} is running already (process {j.meta()['pid']})")
    make_dir(j.folder)
    for f in (j.exit_file, j.progress):
        f.unlink(missing_ok=True)
    fd = os.open(j.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    env = dict(os.environ, **{PROGRESS_ENV: str(j.progress), EXIT_ENV: str(j.exit_file)})
    env.setdefault("PYTHONUNBUFFERED", "1")
    try:
        proc = subprocess.Popen([sys.executable, "-m", "booth", *argv], stdout=fd,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                start_new_session=True)
    finally:
        os.close(fd)
    began = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    write_text(j.record, yaml.safe_dump({"name": name, "argv": argv, "pid": proc.pid,
                                         "start": _process_start(proc.pid), "began": began},
                                        sort_keys=False))
    return j


def write_exit(code: int) -> None:
    """``booth``'s exit status into the job's exit file, when it runs as a job."""
    path = os.environ.get(EXIT_ENV)
    if path:
        try:
            write_text(path, f"{code}\n")
        except OSError:
            pass
