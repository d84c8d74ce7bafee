"""What a hostile user's sweep found: each refusal names the culprit in one line, with the
right exit status, no traceback, and nothing on disk created or changed."""

import subprocess
import sys
from pathlib import Path

import pytest

from booth.cli import main
from booth.session import SessionStore
from tests.booth.conftest import refused
from tests.booth.disk import run
from tests.conftest import png_header_only, snapshot


# -- a refused capture creates nothing ------------------------------------------------------
def test_a_retake_of_nothing_creates_no_session_and_no_subject(tmp_path, capsys):
    store = tmp_path / "store"
    refused(capsys, tmp_path, ["capture", "--sessions", store, "--session", "brandnew",
                               "--subject", "newguy", "--consent", "--retake",
                               "20200101T000000000-abcd", "--size", 64],
            ["--retake 20200101T000000000-abcd", "no session 'brandnew'"])
    assert not store.exists()


def test_a_retake_of_an_unknown_capture_leaves_the_session_as_it_was(tmp_path, capsys):
    store = tmp_path / "store"
    session = SessionStore(store).create_session("s")
    session.add_subject("known", consent=True)
    (session.path / "subjects" / "known" / "captures" / "20200101T000000000-abcd").mkdir()
    for subject, capture in (("newguy", "20200101T000000000-abcd"),
                             ("known", "20200101T000000000-ffff")):
        refused(capsys, tmp_path, ["capture", "--sessions", store, "--session", "s",
                                   "--subject", subject, "--consent", "--retake", capture,
                                   "--size", 64],
                [f"--retake {capture}", f"subject '{subject}'", "no such capture"])


def test_a_bad_subject_name_creates_no_session(tmp_path, capsys):
    refused(capsys, tmp_path, ["capture", "--sessions", tmp_path / "store", "--session", "s",
                               "--subject", "../x", "--consent", "--size", 64],
            ["subject '../x'", "letters"])


def test_a_retake_still_works(tmp_path, capsys):
    store = tmp_path / "store"
    argv = ["capture", "--sessions", store, "--session", "s", "--subject", "p", "--consent",
            "--size", 64, "--no-process"]
    assert run(capsys, *argv)[0] == 0
    first = SessionStore(store).session("s").captures()[0]
    code, out, err = run(capsys, *argv, "--retake", first.capture_id)
    assert code == 0, err
    infos = {i.capture_id: i for i in SessionStore(store).session("s").captures()}
    (second,) = set(infos) - {first.capture_id}
    assert infos[first.capture_id].superseded_by == second


# -- the sessions root: not empty, a folder ---------------------------------------------------
def test_a_sessions_root_that_is_a_file_is_refused_up_front(tmp_path, capsys, monkeypatch):
    import booth.tui.run

    def no_app(*a, **k):
        raise AssertionError("the app started")

    monkeypatch.setattr(booth.tui.run, "run", no_app)
    monkeypatch.chdir(tmp_path)
    Path("afile.txt").write_text("mine")
    for argv in (["tui"], ["capture", "--session", "s", "--subject", "p", "--consent",
                           "--size", 64]):
        refused(capsys, tmp_path, [*argv, "--sessions", "afile.txt"],
                ["--sessions: afile.txt is not a folder"])
        refused(capsys, tmp_path, [*argv, "--sessions", "afile.txt/x"],
                ["--sessions: ", "afile.txt is not a folder"])
    config = tmp_path / "booth.yaml"
    config.write_text("sessions: afile.txt\n")
    refused(capsys, tmp_path, ["tui", "--config", config],
            [f"{config}: sessions: afile.txt is not a folder"])
    refused(capsys, tmp_path, ["tui", "--sessions", "st", "--log", "afile.txt/x"],
            ["--log: afile.txt is not a folder, so afile.txt/x cannot be made there"])
    refused(capsys, tmp_path, ["tui", "--sessions", "st", "--log", tmp_path],
            [f"--log: {tmp_path} is a folder; expected a log file"])


def test_doctor_fails_a_sessions_root_that_is_a_file(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("afile.txt").write_text("mine")
    before = snapshot(tmp_path)
    code, out, err = run(capsys, "doctor", "--backend", "sim", "--sessions", "afile.txt")
    assert code == 1, (out, err)
    disk = [line for line in out.splitlines() if " disk " in line]
    assert len(disk) == 1 and disk[0].startswith("FAIL") and "not a folder" in disk[0], out
    assert "Traceback" not in err and snapshot(tmp_path) == before


# -- images too large to read, and folders that are not images --------------------------------
@pytest.fixture(scope="module")
def huge_capture(tmp_path_factory):
    """A sphere capture whose left.png declares 60000×60000 pixels."""
    folder = tmp_path_factory.mktemp("huge") / "sphere"
    assert main(["simulate", "subject", "--kind", "sphere", "--size", "64", "--out",
                 str(folder)]) == 0
    (folder / "left.png").write_bytes(png_header_only(60000, 60000))
    return folder


@pytest.mark.parametrize("command", ["normals", "landmarks", "calibrate"])
def test_a_huge_image_is_one_line_naming_it(huge_capture, tmp_path, capsys, command):
    left = huge_capture / "left.png"
    argv = {"normals": ["normals", huge_capture, "--out", tmp_path / "n"],
            "landmarks": ["landmarks", left, "--out", tmp_path / "l.json"],
            "calibrate": ["calibrate", huge_capture, "--out", tmp_path / "c.yaml"]}[command]
    capsys.readouterr()
    refused(capsys, tmp_path, argv, [f"{left}: 60000×60000 pixels is larger than the booth "
                                     "reads (at most 200 megapixels)"])


def test_landmarks_of_a_folder_says_it_is_a_folder(tmp_path, capsys):
    (tmp_path / "face").mkdir()
    refused(capsys, tmp_path, ["landmarks", tmp_path / "face", "--out", tmp_path / "l.json"],
            [f"{tmp_path / 'face'}: is a folder; expected an image file"])


# -- a reader that goes away ------------------------------------------------------------------
def test_a_closed_pipe_on_stdout_ends_quietly(tmp_path):
    SessionStore(tmp_path / "store").create_session("s")
    exe = Path(sys.executable).with_name("booth")
    proc = subprocess.Popen([str(exe), "sessions", "list", str(tmp_path / "store")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head -0`: gone before the command writes
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 1
    assert err == ""
