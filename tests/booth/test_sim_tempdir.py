"""The simulated booth's VCAMERADIR holds a photo of the sitter: it must be owner-only and gone
when the process ends, however it ends (exit, exception, signals, SIGKILL of its group).

Each test runs a child Python that starts a SimulatedBooth and prints its folder; the tests
synchronise on that line, never on fixed sleeps. TMPDIR points into tmp_path, so the real
/tmp is never touched.
"""

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import env_without, wait_until

ROOT = Path(__file__).resolve().parents[2]

CHILD = """\
import os, select, signal, sys
os.umask(0)  # the modes must not depend on the caller's umask
from booth.hardware.simulated import SimulatedBooth
mode = sys.argv[1]
# Ctrl-C and SIGTERM as a terminal's process gets them, whatever this one inherited: a run
# started in the background by a non-interactive shell (nohup, `make test &`, some CI
# runners) ignores SIGINT, and Python then leaves it ignored.
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
# A signal that comes before the wait below has begun must still end it: a blocking read
# entered just after the signal's handler was queued would wait for stdin regardless. The
# handler's byte on this pipe wakes the select; Python then runs the handler.
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
with SimulatedBooth(size=64) as sim:
    print(os.environ["VCAMERADIR"], flush=True)
    if mode == "raise":
        raise RuntimeError("boom")
    if mode == "wait":
        select.select([sys.stdin, wake_r], [], [])
        sys.stdin.readline()
if mode == "exit":  # a second booth in the process keeps the folder libgphoto2 reads
    with SimulatedBooth(size=64) as again:
        assert again.vcam == sim.vcam and again.vcam.is_dir()
        [photo] = again.camera.capture()
        assert photo.data
"""


def _start(tmp_path: Path, mode: str, env_extra: dict | None = None, **kw):
    """Start the child; return it and the folder it printed once the booth is running."""
    env = env_without("VCAMERADIR")
    env["TMPDIR"] = str(_tmpdir(tmp_path))
    env.update(env_extra or {})
    with open(tmp_path / "stderr.txt", "w") as err:  # the child keeps its own copy
        proc = subprocess.Popen([sys.executable, "-c", CHILD, mode], cwd=ROOT, env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                                text=True, **kw)
    watchdog = threading.Timer(120, proc.kill)  # a hung child fails the test, not the run
    watchdog.daemon = True
    watchdog.start()
    line = proc.stdout.readline().strip()
    watchdog.cancel()
    assert line, (tmp_path / "stderr.txt").read_text()
    return proc, Path(line)


def _tmpdir(tmp_path: Path) -> Path:
    path = tmp_path / "tmp"
    path.mkdir(exist_ok=True)
    return path


def _finish(proc: subprocess.Popen) -> int:
    proc.stdin.close()
    rc = proc.wait(timeout=120)
    proc.stdout.close()
    return rc


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_normal_exit_removes_the_folder(tmp_path):
    proc, vcam = _start(tmp_path, "exit")
    assert vcam.parent == _tmpdir(tmp_path) and vcam.name.startswith(f"booth-vcam-{proc.pid}-")
    assert _finish(proc) == 0, (tmp_path / "stderr.txt").read_text()
    assert not vcam.exists()  # removed by the process itself, before it ended


def test_exception_exit_removes_the_folder(tmp_path):
    proc, vcam = _start(tmp_path, "raise")
    assert _finish(proc) == 1
    assert "RuntimeError: boom" in (tmp_path / "stderr.txt").read_text()
    assert not vcam.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_removes_the_folder(tmp_path, sig):
    """The child waits on its stdin, which stays open until it has ended: it can end only by
    the signal. (It closed at once before: a child that ignored the SIGINT, as one started
    from a background job does, or had not yet run its handler, saw EOF and exited 0.) The
    child handles SIGINT as a terminal's process does, and its wait wakes for the signal
    however early it comes (``CHILD``)."""
    proc, vcam = _start(tmp_path, "wait")
    assert vcam.is_dir()
    proc.send_signal(sig)
    try:
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:  # the signal did nothing: fail, and leave no child behind
            proc.kill()
    assert _finish(proc) == rc == -sig, (tmp_path / "stderr.txt").read_text()
    if sig == signal.SIGINT:  # Ctrl-C: Python's handler, then the process's own clean-up
        assert "KeyboardInterrupt" in (tmp_path / "stderr.txt").read_text()
        assert not vcam.exists()
    else:  # SIGTERM ends it without clean-up: the reaper removes the folder
        wait_until(lambda: not vcam.exists(), "the reaper to remove the folder")


def test_sigkill_of_the_process_group_removes_the_folder(tmp_path):
    """What a terminal's Ctrl-C or a CI timeout does, without a chance to clean up: the
    reaper, in its own session, outlives the group and removes the folder."""
    proc, vcam = _start(tmp_path, "wait", start_new_session=True)
    assert vcam.is_dir()
    os.killpg(proc.pid, signal.SIGKILL)
    assert _finish(proc) == -signal.SIGKILL
    wait_until(lambda: not vcam.exists(), "the reaper to remove the folder")


def test_folder_and_served_frame_are_owner_only(tmp_path):
    proc, vcam = _start(tmp_path, "wait")  # the child runs with umask 0
    try:
        assert stat.S_IMODE(vcam.stat().st_mode) == 0o700
        files = list(vcam.iterdir())
        assert vcam / "shot.jpg" in files
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files), files
    finally:
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert _finish(proc) == 0
    assert not vcam.exists()


def test_stale_folders_of_dead_processes_are_swept_at_start(tmp_path):
    tmp = _tmpdir(tmp_path)
    dead = tmp / f"booth-vcam-{_dead_pid()}-x"
    live = tmp / f"booth-vcam-{os.getpid()}-x"  # this test's process is alive
    old_stale = tmp / "booth-vcam-abcd1234"  # before the fix: no pid, untouched for hours
    old_fresh = tmp / "booth-vcam-efgh5678"  # maybe a running booth of the old version
    not_ours = tmp / "booth-vcam-x"
    for path in (dead, live, old_stale, old_fresh, not_ours):
        path.mkdir()
        (path / "shot.jpg").write_bytes(b"old photo")
    two_hours_ago = time.time() - 7200
    os.utime(old_stale, (two_hours_ago, two_hours_ago))
    keep = [live, old_fresh, not_ours]
    if os.getuid() == 0:  # can make a folder of another user: never touched
        other = tmp / f"booth-vcam-{_dead_pid()}-other"
        other.mkdir()
        os.chown(other, 65534, 65534)
        keep.append(other)
    proc, vcam = _start(tmp_path, "exit")
    assert not dead.exists() and not old_stale.exists()
    assert _finish(proc) == 0
    assert all(path.is_dir() for path in keep)
    assert not vcam.exists()


def test_vcameradir_from_the_environment_is_never_removed(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    proc, vcam = _start(tmp_path, "exit", {"VCAMERADIR": str(mine)})
    assert vcam == mine
    assert _finish(proc) == 0
    assert mine.is_dir()
    assert not list(_tmpdir(tmp_path).glob("booth-vcam-*"))


def test_gphoto2_imported_first_is_still_an_error(tmp_path):
    env = env_without("VCAMERADIR")
    env["TMPDIR"] = str(_tmpdir(tmp_path))
    code = ("import gphoto2\nfrom booth.hardware.simulated import SimulatedBooth\n"
            "SimulatedBooth(size=64)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 1
    assert "gphoto2 was imported before VCAMERADIR was set" in out.stderr
    assert not list(_tmpdir(tmp_path).glob("booth-vcam-*"))
