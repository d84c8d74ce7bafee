"""The store keeps its promise under hostile input: modes of existing folders, records that
lie or point outside their folder, a disk that fills mid-capture, a space check up front."""

import errno
import hashlib
import os
import pathlib

import pytest
import yaml

from booth import sequencer as capture_mod
from booth.cli import main
from booth.hardware.flashlink import FlashController
from booth.hardware.simulated import SimulatedBooth
from booth.sequencer import CaptureConfig, CaptureSequencer
from booth.session import SessionError, SessionStore
from photometric.io import files
from photometric.lights import CHANNELS
from tests.booth.conftest import edit_yaml
from tests.conftest import mode, snapshot


def make_capture(session, subject="p1", shots=CHANNELS, supersedes=None):
    w = session.begin_capture(subject, supersedes)
    for i, ch in enumerate(shots):
        w.add_shot(ch, f"{ch}.jpg", bytes([i + 1]) * 500)
    return w


def test_an_existing_shared_root_keeps_its_mode(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o1777)
    s = SessionStore(root).create_session("s1")
    s.add_subject("p1", consent=True)
    path = make_capture(s).commit()
    assert mode(root) == 0o1777
    for p in (s.path, s.path / "subjects", s.path / "subjects" / "p1", path):
        assert mode(p) == 0o700, p
    for f in (s.path / "session.yaml", s.path / "subjects" / "p1" / "subject.yaml",
              path / "capture.yaml", path / "center.jpg"):
        assert mode(f) == 0o600, f


def test_a_root_that_is_a_file_is_refused_with_a_message(tmp_path, capsys):
    (tmp_path / "notadir").write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(SessionError, match="notadir: exists and is not a folder"):
        SessionStore(tmp_path / "notadir").create_session("s1")
    assert snapshot(tmp_path) == before


def test_complete_capture_with_no_shots_listed_is_broken(session):
    path = make_capture(session).commit()
    meta = yaml.safe_load((path / "capture.yaml").read_text())
    meta["shots"] = []
    (path / "capture.yaml").write_text(yaml.safe_dump(meta))
    (path / "left.jpg").write_bytes(b"altered")
    [info] = session.verify()
    assert info.status == "broken"
    assert any("not listed" in p for p in info.problems)
    assert "left.jpg is in the folder but not one of the capture's photos" in info.problems


@pytest.mark.parametrize("name", ["/etc/hostname", "../../x", "sub/center.jpg", ""])
def test_shot_paths_outside_the_folder_are_not_followed(session, name):
    path = make_capture(session).commit()
    meta = yaml.safe_load((path / "capture.yaml").read_text())
    meta["shots"][0]["file"] = name
    meta["shots"][0]["sha256"] = hashlib.sha256(b"whatever").hexdigest()
    (path / "capture.yaml").write_text(yaml.safe_dump(meta))
    [info] = session.verify()
    assert info.status == "broken"
    assert any("not a file inside the capture folder" in p for p in info.problems), info


def test_a_symlinked_photo_is_not_followed(session, tmp_path):
    path = make_capture(session).commit()
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes((path / "top.jpg").read_bytes())
    (path / "top.jpg").unlink()
    (path / "top.jpg").symlink_to(outside)
    [info] = session.verify()
    assert info.status == "broken" and "top.jpg points outside the capture folder" in \
        info.problems


def test_a_record_that_is_not_a_capture_is_broken_not_a_crash(session):
    path = make_capture(session).commit()
    (path / "capture.yaml").write_text("shots: [1, 2\n")
    [info] = session.verify()
    assert info.status == "broken" and "malformed YAML" in info.problems[0]
    (path / "capture.yaml").write_text("capture_id: x\nsubject: p1\nstatus: done\n")
    [info] = session.verify()
    assert info.status == "broken" and "status" in info.problems[0]


def test_a_broken_capture_is_not_exported(session, capsys):
    from booth.dataset_sources import export_sources

    path = make_capture(session).commit()
    meta = yaml.safe_load((path / "capture.yaml").read_text())
    meta["shots"] = []
    (path / "capture.yaml").write_text(yaml.safe_dump(meta))
    sources, rejected = export_sources([session.path.parent])
    assert sources == [] and len(rejected) == 1 and "not listed" in rejected[0].reason


def test_disk_full_mid_capture_leaves_a_verifiable_partial_that_a_retake_supersedes(
        session, monkeypatch):
    w = session.begin_capture("p1")
    for i, ch in enumerate(CHANNELS[:3]):
        w.add_shot(ch, f"{ch}.jpg", bytes([i + 1]) * 500)

    def full(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)  # photos
    monkeypatch.setattr(pathlib.Path, "write_bytes", full)  # records
    with pytest.raises(OSError) as err:
        w.add_shot("top", "top.jpg", b"x" * 500)
    assert err.value.errno == errno.ENOSPC and str(w.partial / "top.jpg") in str(err.value)
    with pytest.raises(OSError) as err:
        w.abort("disk full")  # capture.yaml cannot be rewritten either
    assert "capture.yaml" in str(err.value)
    monkeypatch.undo()
    assert not (w.partial / "top.jpg").exists()  # no half-written photo left behind
    record = yaml.safe_load((w.partial / "capture.yaml").read_text())
    assert record["status"] == "in progress" and len(record["shots"]) == 3
    [info] = session.verify()
    assert info.status == "partial" and not info.problems
    assert "interrupted after 3 of 5 shots" in info.note
    retake = make_capture(session, supersedes=w.capture_id).commit()
    infos = {i.capture_id: i for i in session.verify()}
    assert infos[w.capture_id].superseded_by == retake.name



def test_a_capture_cut_off_after_its_last_shot_says_so(session):
    w = session.begin_capture("p1")
    for i, ch in enumerate(CHANNELS):
        w.add_shot(ch, f"{ch}.jpg", bytes([i + 1]) * 500)
    [info] = session.verify()  # never committed: the process stopped here
    assert info.status == "partial" and not info.problems
    assert f"interrupted after all {len(CHANNELS)} shots, before it was closed" in info.note
    assert "of 5 shots" not in info.note

def test_atomic_capture_record_survives_a_failed_rewrite(session, monkeypatch):
    w = make_capture(session, shots=CHANNELS[:2])
    before = (w.partial / "capture.yaml").read_bytes()

    def fail(src, dst):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="capture.yaml"):
        w.add_shot("right", "right.jpg", b"r" * 100)
    monkeypatch.undo()
    assert (w.partial / "capture.yaml").read_bytes() == before
    assert not list(w.partial.glob(".*partial*"))


def test_sessions_verify_explains_a_partial_capture(session, capsys):
    w = make_capture(session, shots=CHANNELS[:2])
    assert main(["sessions", "verify", str(session.path)]) == 0
    out = capsys.readouterr().out
    assert f"p1/{w.capture_id}: partial" in out and "interrupted after 2 of 5 shots" in out


def test_capture_checks_free_space_before_it_starts(session, monkeypatch):
    monkeypatch.setattr(files, "free_bytes", lambda path: 10 * 2**20)
    with SimulatedBooth(size=64) as sim, FlashController(sim.flash_port) as flash:
        seq = CaptureSequencer(flash, sim.camera, session, CaptureConfig())
        need = 5 * capture_mod.shot_bytes(sim.camera) + CaptureConfig().min_free_bytes
        with pytest.raises(OSError) as err:
            seq.run("p1")
    assert err.value.errno == errno.ENOSPC and str(session.path) in str(err.value)
    assert f"{need / 2**20:.0f} MB" in str(err.value)
    assert list((session.path / "subjects" / "p1" / "captures").iterdir()) == []


def test_shot_size_estimate_follows_the_image_format():
    class Cam:
        def __init__(self, fmt):
            self.settings = {"imageformat": fmt} if fmt else {}

    assert capture_mod.shot_bytes(Cam("RAW + Large Fine JPEG")) == \
        capture_mod.SHOT_BYTES["raw+jpeg"]
    assert capture_mod.shot_bytes(Cam("NEF (Raw)")) == capture_mod.SHOT_BYTES["raw"]
    assert capture_mod.shot_bytes(Cam("Large Fine JPEG")) == capture_mod.SHOT_BYTES["jpeg"]
    assert capture_mod.shot_bytes(Cam(None)) == capture_mod.SHOT_BYTES["jpeg"]


@pytest.mark.parametrize("changes, problem", [
    ({"foo": 1}, "unknown key(s) ['foo']"),
    ({"capture_id": "20000101T000000000-aaaa"}, "but its folder is"),
    ({"subject": "p2"}, "but it is filed under 'p1'"),
])
def test_a_record_that_does_not_match_its_folder_is_broken(session, changes, problem):
    path = make_capture(session).commit()
    edit_yaml(path / "capture.yaml", lambda meta: meta.update(changes))
    [info] = session.verify()
    assert info.status == "broken" and any(problem in p for p in info.problems), info


def test_retakes_of_nothing_of_itself_or_in_a_cycle_are_broken(session):
    a = make_capture(session).commit()
    b = make_capture(session).commit()
    c = make_capture(session).commit()

    def retake_of(path, capture_id):  # what the record says, whatever the truth
        edit_yaml(path / "capture.yaml", lambda meta: meta.update(supersedes=capture_id))

    retake_of(a, "20000101T000000000-dead")
    retake_of(b, b.name)
    infos = {i.capture_id: i for i in session.verify()}
    assert "no capture of p1" in infos[a.name].problems[-1]
    assert infos[b.name].problems == ["supersedes itself"]
    assert infos[c.name].status == "complete"
    retake_of(a, c.name)
    retake_of(c, a.name)
    infos = {i.capture_id: i for i in session.verify()}
    for k in (a.name, c.name):
        assert "its retakes supersede one another in a cycle" in infos[k].problems


def test_a_sessions_calibration_that_is_missing_or_invalid_is_reported(session):
    w = session.begin_calibration()
    for i, ch in enumerate(CHANNELS):
        w.add_shot(ch, f"{ch}.jpg", bytes([i + 1]) * 50)
    sphere = w.commit()
    (sphere / "calibration.yaml").write_text("format_version: 1\nlights: []\n")
    session.set_calibration(sphere.name)
    [info] = [i for i in session.verify() if i.capture_id == sphere.name]
    assert info.status == "broken" and "calibration.yaml" in info.problems[0]
    (sphere / "calibration.yaml").unlink()
    problems = [p for i in session.verify() for p in i.problems]
    assert any("names '" + sphere.name + "' as the session's calibration" in p
               for p in problems)
    text = (session.path / "session.yaml").read_text()
    (session.path / "session.yaml").write_text(
        text.replace(sphere.name, "../../../cal"))
    with pytest.raises(SessionError, match="session.yaml: calibration_id"):
        SessionStore(session.path.parent).session("s1")


def test_a_capture_with_an_unusable_session_calibration_is_refused_before_a_shot(
        tmp_path, capsys):
    root = tmp_path / "store"
    args = ["capture", "--sessions", str(root), "--session", "s", "--size", "64"]
    assert main([*args, "--sphere"]) == 0
    session = SessionStore(root).session("s")
    session.calibration_file().write_text("format_version: 1\n")
    capsys.readouterr()
    assert main([*args, "--subject", "p1", "--consent"]) == 2
    err = capsys.readouterr().err
    assert "calibration.yaml" in err and "Traceback" not in err
    assert not list((session.path / "subjects").glob("*/captures/*"))
