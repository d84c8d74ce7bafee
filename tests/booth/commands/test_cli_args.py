"""Bad numbers, names and ports are refused where they are parsed; jobs too large for the
memory are refused before they start; results with nothing in them are failures; nothing
unexpected shows a traceback. Each time: the option named, what was expected, the exit
status, and the disk unchanged."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from booth import memory
from booth.cli import EXIT_INTERNAL, main
from booth.session import SessionStore
from photometric.errors import InputError
from photometric.render import SensorModel
from photometric.sim import synthetic
from tests.booth.conftest import refused
from tests.booth.disk import run
from tests.conftest import snapshot, store_capture


@pytest.mark.parametrize("argv, expect", [
    (["simulate", "subject", "--seed", "-1"], ["--seed", "expected 0..4294967295", "-1"]),
    (["simulate", "subject", "--seed", str(2**32)], ["--seed", "expected 0..4294967295"]),
    (["simulate", "subject", "--size", "0"], ["--size", "expected 32..8192 pixels", "got 0"]),
    (["simulate", "subject", "--size", "100000"], ["--size", "expected 32..8192", "100000"]),
    (["simulate", "subject", "--size", "big"], ["--size", "expected a whole number", "'big'"]),
    (["simulate", "subject", "--noise", "2"], ["--noise", "[0, 1)", "got 2"]),
    (["simulate", "subject", "--noise", "nan"], ["--noise", "finite"]),
    (["simulate", "subject", "--specular", "-0.5"], ["--specular", "[0, inf)"]),
    (["simulate", "subject", "--distance", "0"], ["--distance", "(0, inf)"]),
    (["capture", "--session", "s", "--size", "0"], ["--size", "expected 32..8192"]),
    (["capture", "--session", "s", "--seed", "-1"], ["--seed", "expected 0.."]),
    (["capture", "--session", "s", "--retake", "../x"], ["--retake", "capture id"]),
    (["capture", "--session", "s", "--port", "bogus://x"], ["--port", "'bogus://'"]),
    (["tui", "--size", "100000"], ["--size", "expected 32..8192"]),
    (["flash", "hello", "--port", "bogus://x"], ["--port", "unknown URL scheme 'bogus://'",
                                                 "/dev/ttyACM0"]),
    (["flash", "fire", "left", "--port", "loop://", "--timeout", "0"], ["--timeout", "(0, "]),
    (["doctor", "--port", "bogus://x"], ["--port", "unknown URL scheme"]),
    (["export", "r", "--workers", "0"], ["--workers", "expected 1..64", "got 0"]),
    (["export", "r", "--workers", "65"], ["--workers", "expected 1..64"]),
    (["export", "r", "--size", "16"], ["--size", "expected 32..4096"]),
    (["export", "r", "--split", "0.5,0.5"], ["--split", "expected 3 numbers"]),
    (["export", "r", "--split", "0.8,0.1,0.2"], ["--split", "adding up to 1"]),
    (["export", "r", "--brightness", "0.7,-1"], ["--brightness", "positive"]),
    (["export", "r", "--brightness", "x"], ["--brightness", "numbers like 0.7,1.3"]),
    (["export", "r", "--method", "magic"], ["--method", "lambertian"]),
    (["demo", "--size", "64"], ["--size", "expected 128..4096"]),
    (["sessions"], ["required"]),
    (["calibrate", "sphere", "--out", "c.yaml", "--circle", ""], ["--circle", "cx,cy,r"]),
    (["calibrate", "sphere", "--out", "c.yaml", "--circle", "47,47,inf"],
     ["--circle", "finite", "'47,47,inf'"]),
    (["calibrate", "sphere", "--out", "c.yaml", "--circle", "47,47,0"],
     ["--circle", "radius must be positive"]),
    (["capture", "--session", "s", "--subject", "p", "--consent", "--sessions", ""],
     ["--sessions", "expected a folder, got an empty path"]),
    (["tui", "--sessions", ""], ["--sessions", "expected a folder"]),
    (["doctor", "--sessions", ""], ["--sessions", "expected a folder"]),
    (["tui", "--log", ""], ["--log", "expected a file"]),
    (["capture", "--session", "s", "--config", ""], ["--config", "expected a file"]),
    (["normals", "c", "--out", "o", "--lights", ""], ["--lights", "expected a file"]),
    (["flash", "hello", "--port", "socket://nohostxx"],
     ["--port", "expected socket://HOST:PORT with a port number", "'socket://nohostxx'"]),
    (["flash", "hello", "--port", "rfc2217://"], ["--port", "expected rfc2217://HOST:PORT"]),
    (["flash", "hello", "--port", "socket://localhost:99999"], ["--port", "1..65535"]),
    (["flash", "hello", "--port", "socket://localhost:x"], ["--port", "HOST:PORT"]),
    (["flash", "hello", "--port", ""], ["--port", "expected a serial port"]),
])
def test_bad_numbers_and_names_are_refused_where_parsed(argv, expect, tmp_path, capsys,
                                                        monkeypatch):
    monkeypatch.chdir(tmp_path)
    if argv[0] in ("simulate",):
        argv = [*argv, "--out", "o"]
    if argv[0] == "export":
        argv = [*argv, "--out", "o"]
    if argv[0] == "demo":
        argv = [*argv, "--out", "o"]
    refused(capsys, tmp_path, argv, expect)


def test_session_and_subject_names_come_back_as_one_line(tmp_path, capsys):
    store = tmp_path / "store"
    refused(capsys, tmp_path, ["capture", "--sessions", store, "--session", "../up",
                               "--subject", "p1", "--consent"], ["session '../up'", "letters"])
    refused(capsys, tmp_path, ["sessions", "verify", store / "no such"],
            ["session 'no such'", "letters"])


def test_an_unknown_port_scheme_is_one_clear_flash_error():
    from booth.hardware.flashlink import FlashController, FlashError

    with pytest.raises(FlashError, match="unknown URL scheme 'bogus://'.*/dev/ttyACM0"):
        FlashController("bogus://x")
    with pytest.raises(FlashError, match="malformed port URL"):
        FlashController("loop://?logging=shout")


@pytest.mark.parametrize("url, words", [
    ("socket://nohostxx", ["socket://HOST:PORT", "port number"]),
    ("rfc2217://", ["rfc2217://HOST:PORT"]),
    ("socket://localhost:1?colour=red", ["malformed port URL", "socket://HOST:PORT"]),
])
def test_a_malformed_network_url_is_worded_not_a_type_error(url, words):
    """pyserial's own errors for these read like a bug ("'<=' not supported between
    instances of 'int' and 'NoneType'"), wrapped in a SerialException or not."""
    from booth.hardware.flashlink import FlashController, FlashError

    with pytest.raises(FlashError) as exc:
        FlashController(url, heartbeat=None)
    msg = str(exc.value)
    assert msg.startswith(f"cannot open {url}: ") and "NoneType" not in msg, msg
    assert all(w in msg for w in words), msg


def test_a_network_port_nobody_answers_on_says_so():
    import socket

    from booth.hardware.flashlink import FlashController, FlashError

    with socket.socket() as s:  # a port just freed: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(FlashError, match=rf"cannot open socket://127.0.0.1:{port}: .*refused"):
        FlashController(f"socket://127.0.0.1:{port}", heartbeat=None)


# -- memory -------------------------------------------------------------------------------
def test_memory_estimate_matches_the_measurements():
    # Peak RSS measured with /usr/bin/time -v (see booth/memory.py), within 15 %.
    for job, size, measured_gb in [("simulate", 1024, 0.46), ("simulate", 2048, 1.02),
                                   ("simulate", 4096, 3.15), ("capture", 1024, 0.70),
                                   ("capture", 2048, 1.35), ("demo", 256, 0.54),
                                   ("demo", 1024, 1.05)]:
        est = memory.estimate_bytes(job, size) / 2**30
        assert abs(est - measured_gb) / measured_gb < 0.15, (job, size, est)
    assert memory.estimate_bytes("simulate", 20000) > 60 * 2**30


@pytest.mark.parametrize("argv, job", [
    (["simulate", "subject", "--size", "4096", "--out", "o"], "simulate"),
    (["capture", "--session", "s", "--subject", "p", "--consent", "--size", "4096",
      "--sessions", "st"], "capture"),
    (["tui", "--size", "4096"], "tui"),
    (["demo", "--size", "4096", "--out", "o"], "demo"),
])
def test_a_job_too_large_for_the_memory_is_refused_first(argv, job, tmp_path, capsys,
                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(memory, "available_bytes", lambda: 2 * 2**30)
    err = refused(capsys, tmp_path, argv, ["--size 4096", f"{job} needs about", "GB of memory",
                                           "2.0 GB is available", "at most about --size"])
    fits = int(err.split("at most about --size ")[1].split()[0])
    assert 32 <= fits < 4096
    assert memory.estimate_bytes(job, fits) <= 2 * 2**30 < memory.estimate_bytes(job, fits + 32)


def test_the_address_space_limit_counts(monkeypatch):
    """Under ``ulimit -v`` a job dies of MemoryError however much RAM is free: the room left
    under the limit is what is available."""
    monkeypatch.setattr(memory, "meminfo_available", lambda: 64 * 2**30)
    monkeypatch.setattr(memory, "address_space_limit", lambda: None)
    assert memory.available_bytes() == 64 * 2**30
    monkeypatch.setattr(memory, "address_space_limit", lambda: 3 * 2**30)
    monkeypatch.setattr(memory, "virtual_size", lambda: 2**30)
    assert memory.available_bytes() == 2 * 2**30
    with pytest.raises(InputError, match=r"--size 4096: capture needs about .* only 2\.0 GB "
                       r"is available under this process's address-space limit \(ulimit -v\);"
                       r" at most about --size \d+ fits now"):
        memory.check_memory("capture", 4096)
    memory.check_memory("capture", 1024)  # fits


def test_the_real_address_space_limit_is_read():
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    assert memory.address_space_limit() == (None if soft == resource.RLIM_INFINITY else soft)
    assert 0 < memory.virtual_size() < 2**44


def test_simulate_under_ulimit_v_is_refused_up_front(tmp_path):
    import resource

    cap = 8 * 2**30  # room for the imports; --size 8192 needs about 12 GB

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    exe = Path(sys.executable).with_name("booth")
    proc = subprocess.run([str(exe), "simulate", "subject", "--size", "8192", "--out",
                           str(tmp_path / "o")], capture_output=True, text=True,
                          preexec_fn=limit, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--size 8192" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    if (memory.meminfo_available() or 0) > cap:  # the limit, not the RAM, is what binds
        assert "ulimit -v" in proc.stderr, proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_running_out_of_memory_is_one_line(tmp_path, capsys, monkeypatch):
    import booth.simulation

    def greedy(*a, **k):
        raise MemoryError("Unable to allocate 12.0 GiB for an array with shape (40000, 40000)")

    monkeypatch.setattr(booth.simulation, "simulate_subject", greedy)
    code, _, err = run(capsys, "simulate", "subject", "--out", tmp_path / "o")
    assert code == 1
    assert err == ("booth: error: out of memory (Unable to allocate 12.0 GiB for an array with "
                   "shape (40000, 40000)); try a smaller --size\n")


# -- results with nothing in them ---------------------------------------------------------
def test_normals_with_no_valid_pixel_is_an_error(tmp_path, capsys):
    cap = tmp_path / "cap"
    cap.mkdir()
    img = np.full((64, 64, 3), 30000, np.uint16)
    for name in ("center", "left", "right", "top", "bottom", "ambient"):
        cv2.imwrite(str(cap / f"{name}.png"), img)  # the room light alone: no flash in it
    refused(capsys, tmp_path, ["normals", cap, "--out", tmp_path / "out"],
            [str(cap), "no pixel has a valid normal", "lambertian"])


def test_export_with_every_capture_skipped_fails_and_writes_nothing(tmp_path, capsys):
    cam = SensorModel(noise=0.003, bits=8)
    faces = SessionStore(tmp_path / "faces").create_session("a")
    store_capture(faces, "p1", synthetic.capture(synthetic.face(1, 160), camera=cam))
    balls = SessionStore(tmp_path / "balls").create_session("b")
    store_capture(balls, "ball", synthetic.capture(synthetic.sphere(160), camera=cam))
    altered = SessionStore(tmp_path / "altered").create_session("c")
    store_capture(altered, "p9", synthetic.capture(synthetic.face(2, 160), camera=cam), True)
    args = ["--workers", "1", "--size", "64"]
    # Every capture skipped (no face on a sphere): exit 1 with the reason, no folder made.
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "export", tmp_path / "balls", "--out", tmp_path / "ds", *args)
    assert code == 1 and "nothing exported" in err and "no face found" in err
    assert "Traceback" not in err and snapshot(tmp_path) == before
    # Every capture refused before the export (an altered photo): the same.
    code, _, err = run(capsys, "export", tmp_path / "altered", "--out", tmp_path / "ds", *args)
    assert code == 1 and "left.png altered" in err and snapshot(tmp_path) == before
    # Into an earlier dataset: it stays exactly as it was.
    code, out, err = run(capsys, "export", tmp_path / "faces", "--out", tmp_path / "ds", *args)
    assert code == 0 and "exported 1 captures" in out, err
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "export", tmp_path / "balls", "--out", tmp_path / "ds", *args)
    assert code == 1 and "nothing exported" in err and "no face found" in err
    assert snapshot(tmp_path) == before


def test_sessions_list_and_verify_of_nothing_fail(tmp_path, capsys):
    root = tmp_path / "store"
    root.mkdir()
    refused(capsys, tmp_path, ["sessions", "list", root], [str(root), "no sessions"], code=1)
    SessionStore(root).create_session("empty")
    refused(capsys, tmp_path, ["sessions", "verify", root / "empty"],
            [str(root / "empty"), "no captures"], code=1)
    refused(capsys, tmp_path, ["sessions", "list", tmp_path / "absent"],
            ["absent", "no such sessions folder"])


# -- the last resort ----------------------------------------------------------------------
def test_an_unexpected_error_is_one_line_unless_debugging(tmp_path, capsys, monkeypatch):
    import booth.simulation

    def broken(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(booth.simulation, "simulate_subject", broken)
    monkeypatch.delenv("BOOTH_DEBUG", raising=False)
    code, _, err = run(capsys, "simulate", "subject", "--out", tmp_path / "o")
    assert code == EXIT_INTERNAL
    assert err == ("booth: internal error: RuntimeError: boom; set BOOTH_DEBUG=1 for the "
                   "traceback\n")
    monkeypatch.setenv("BOOTH_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        main(["simulate", "subject", "--out", str(tmp_path / "o")])


def test_no_traceback_from_the_installed_command(tmp_path):
    exe = Path(sys.executable).with_name("booth")
    for argv, code, words in [
        (["simulate", "subject", "--size", "0", "--out", str(tmp_path / "o")], 2,
         ["--size", "32..8192"]),
        (["flash", "hello", "--port", "bogus://x"], 2, ["--port", "bogus://"]),
        (["normals", str(tmp_path / "absent"), "--out", str(tmp_path / "n")], 2,
         ["absent", "not a folder"]),
    ]:
        proc = subprocess.run([str(exe), *argv], capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin"}, timeout=120)
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
        assert all(w in proc.stderr for w in words), proc.stderr
    assert list(tmp_path.iterdir()) == []
