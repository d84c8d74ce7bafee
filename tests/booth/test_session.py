"""The session store: crash-safe captures, consent, retakes, permissions, verification."""

import random
import signal
import subprocess
import sys
import textwrap
import threading

import pytest
import yaml

from booth.session import SessionError, SessionStore
from tests.conftest import mode


@pytest.fixture
def session(tmp_path):
    s = SessionStore(tmp_path / "sessions").create_session("s1", operator="op",
                                                           config={"k": 1})
    s.add_subject("p001", consent=True)
    return s


def capture(session, subject="p001", supersedes=None, n=5):
    w = session.begin_capture(subject, supersedes)
    for i, ch in enumerate(["center", "left", "right", "top", "bottom"][:n]):
        w.add_shot(ch, f"{ch}.jpg", bytes([i]) * 1000, fired_t_us=i)
    return w


def test_folders_and_files_are_owner_only(session):
    path = capture(session).commit()
    for p in (session.path, session.path / "subjects" / "p001", path):
        assert mode(p) == 0o700, p
    for f in (path / "center.jpg", path / "capture.yaml", session.path / "session.yaml"):
        assert mode(f) == 0o600, f


def test_consent_is_required(session):
    with pytest.raises(SessionError, match="consent is required"):
        session.add_subject("p002", consent=False)
    with pytest.raises(SessionError, match="no recorded consent"):
        session.begin_capture("p002")


def test_commit_writes_checksums_and_renames_into_place(session):
    w = capture(session)
    assert w.partial.name.endswith(".partial") and not w.final.exists()
    path = w.commit(timings={"total_s": 1.0})
    assert not w.partial.exists() and path == w.final
    meta = yaml.safe_load((path / "capture.yaml").read_text())
    assert meta["status"] == "complete" and len(meta["shots"]) == 5
    assert meta["shots"][1] == {"channel": "left", "file": "left.jpg",
                                "sha256": __import__("hashlib").sha256(b"\x01" * 1000)
                                .hexdigest(), "bytes": 1000, "fired_t_us": 1}
    [info] = session.verify()
    assert info.status == "complete" and not info.problems


def test_originals_are_never_overwritten(session):
    w = capture(session, n=1)
    with pytest.raises(FileExistsError):
        w.add_shot("center", "center.jpg", b"other")
    assert (w.partial / "center.jpg").read_bytes() == b"\x00" * 1000


def test_abort_keeps_photos_and_reason(session):
    path = capture(session, n=2).abort("FIRED event missing for 'right'")
    meta = yaml.safe_load((path / "capture.yaml").read_text())
    assert meta["status"] == "aborted" and "right" in meta["reason"]
    assert (path / "left.jpg").exists()
    [info] = session.verify()
    assert info.status == "aborted"


def test_retake_supersedes_without_deleting(session):
    first = capture(session).commit()
    second = capture(session, supersedes=first.name).commit()
    infos = {i.capture_id: i for i in session.verify()}
    assert infos[first.name].superseded_by == second.name
    assert infos[second.name].supersedes == first.name
    assert (first / "center.jpg").exists()
    with pytest.raises(SessionError, match="does not exist"):
        session.begin_capture("p001", supersedes="nope")


def test_verify_finds_missing_and_altered_files(session):
    a = capture(session).commit()
    b = capture(session).commit()
    (a / "left.jpg").write_bytes(b"tampered")
    (b / "top.jpg").unlink()
    problems = {i.capture_id: i.problems for i in session.verify()}
    assert problems[a.name] == ["left.jpg altered (sha256 differs)"]
    assert problems[b.name] == ["top.jpg missing"]


def test_interrupted_capture_is_visibly_partial(session):
    capture(session, n=3)  # never committed
    [info] = session.verify()
    assert info.status == "partial"


def test_bad_names_and_unknown_sessions(tmp_path):
    store = SessionStore(tmp_path)
    with pytest.raises(SessionError, match="letters, digits"):
        store.create_session("../evil")
    with pytest.raises(SessionError, match="no session 'x'"):
        store.session("x")


WRITER = textwrap.dedent("""
    import sys
    from booth.session import SessionStore
    s = SessionStore(sys.argv[1]).create_session("crash")
    s.add_subject("p1", consent=True)
    print("ready", flush=True)
    for k in range(1000):
        w = s.begin_capture("p1")
        print(k, "begun", flush=True)
        for ch in ("center", "left", "right", "top", "bottom"):
            w.add_shot(ch, ch + ".jpg", bytes([k % 256]) * 200_000)
            print(k, ch, flush=True)
        (w.commit() if k % 7 else w.abort("test abort"))
        print(k, "finished", flush=True)
""")
#: The lines the writer prints for each capture: begun, one a shot, finished.
STEPS = 7


def test_sigkill_at_random_points_leaves_a_verifiable_store(tmp_path):
    """20 writer processes killed at seeded points of their work: every capture is complete,
    aborted or visibly partial, and no capture finished before a kill is touched
    afterwards. The writer says each step it has done; a kill follows the step drawn, so it
    lands in the next (a shot's write, the record, the rename) however loaded the machine."""
    rng = random.Random(3)
    root = tmp_path / "store"
    snapshot = {}
    for _ in range(20):
        # A step of captures 0 (aborted) to 5; seed 3 draws most after capture 1's commit.
        after = rng.randrange(6 * STEPS)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)],
                                stdout=subprocess.PIPE, text=True)
        watchdog = threading.Timer(120, proc.kill)  # a hung writer fails the test
        watchdog.start()
        try:
            assert proc.stdout.readline().strip() == "ready"
            for _ in range(after + 1):
                assert proc.stdout.readline(), "the writer ended before it was killed"
            proc.send_signal(signal.SIGKILL)
        finally:
            watchdog.cancel()
            proc.kill()
            proc.wait()
            proc.stdout.close()
        infos = SessionStore(root).session("crash").verify()
        broken = [(i.capture_id, i.problems) for i in infos if i.status == "broken"]
        assert broken == []
        for i in infos:
            if i.status in ("complete", "aborted"):
                digest = (i.path / "capture.yaml").read_bytes()
                assert snapshot.setdefault(i.capture_id, digest) == digest
    statuses = {i.status for i in SessionStore(root).session("crash").verify()}
    assert "complete" in statuses


def test_sessions_cli_list_and_verify(session, capsys):
    from booth.cli import main

    good = capture(session).commit()
    capture(session, supersedes=good.name).commit()
    root = session.path.parent
    assert main(["sessions", "list", str(root)]) == 0
    out = capsys.readouterr().out
    assert "s1: 1 subject(s), 2 capture(s)" in out and "superseded by" in out
    assert main(["sessions", "verify", str(session.path)]) == 0
    assert "2 complete, 0 aborted, 0 partial, 0 broken" in capsys.readouterr().out
    (good / "right.jpg").write_bytes(b"x")
    assert main(["sessions", "verify", str(session.path)]) == 1
    assert "right.jpg altered" in capsys.readouterr().out
    assert main(["sessions", "verify", str(root / "nope")]) == 2
    assert "no session 'nope'" in capsys.readouterr().err
