"""The station (hardware only) and the workflows both front ends call: status, calibration,
capture then processing, cancel."""

import yaml

from booth.cli import main
from booth.session import SessionStore
from booth.station import SimOptions, Station
from booth.workflows import calibrate_session, capture_subject
from photometric import calibration as calib

SIZE = 160


def test_status_calibration_capture_and_processing(tmp_path):
    session = SessionStore(tmp_path).create_session("s")
    session.add_subject("p1", consent=True)
    with Station(backend="sim", sim=SimOptions(size=SIZE)) as st:
        status = st.status(tmp_path)
        assert status.controller and status.firmware and all(status.ready.values())
        assert "on usb:" in status.camera and status.free_bytes > 0
        out = calibrate_session(st, session)
        assert out.capture.status == "complete" and out.error is None
        assert out.capture.path.parent == session.path / "calibration"
        # The simulated rig's flashes are 1-2° off nominal; the fit finds them.
        assert out.calibration.residuals["lambertian_mean_deg"] < 2.0
        assert session.calibration_file() is None
        session.set_calibration(out.calibration_id)
        assert yaml.safe_load((session.path / "session.yaml").read_text())[
            "calibration_id"] == out.calibration_id
        cal = calib.Calibration.load(session.calibration_file())
        assert set(cal.rig.directions) == {"center", "left", "right", "top", "bottom"}
        captured = capture_subject(st, session, "p1")
    assert captured.capture.status == "complete" and captured.error is None
    done = captured.processed
    assert done.warnings == [] and done.preview.is_file()
    assert done.folder == captured.capture.path / "derived"
    import json

    doc = json.loads((done.folder / "landmarks.json").read_text())
    assert len(doc["landmarks"]) == 478 and doc["width"] == SIZE
    meta = yaml.safe_load((done.folder / "normals.yaml").read_text())
    assert meta["calibration"] == str(session.calibration_file())
    assert meta["calibration_source"] == "session" and meta["method"] == "lambertian"
    # The calibration capture is not a subject's; verify checks it too.
    assert [(i.subject, i.status) for i in session.verify()] == [
        ("p1", "complete"), ("calibration-sphere", "complete")]
    assert [i.subject for i in session.captures()] == ["p1"]


def test_cancel_mid_capture_aborts_disarmed_and_keeps_the_photos(tmp_path):
    session = SessionStore(tmp_path).create_session("s")
    session.add_subject("p1", consent=True)
    import threading

    cancel = threading.Event()
    seen = []

    def on_event(ev):
        seen.append((ev.kind, ev.channel))
        if (ev.kind, ev.channel) == ("stored", "left"):
            cancel.set()

    with Station(backend="sim", sim=SimOptions(size=SIZE)) as st:
        result = st.capture(session, "p1", on_event=on_event, cancel=cancel)
        assert st.sim.controller.armed is None
        assert st.sim.fired_log == ["center", "left"]
    assert result.status == "aborted" and result.reason == "stopped by the operator"
    meta = yaml.safe_load((result.path / "capture.yaml").read_text())
    assert [s["channel"] for s in meta["shots"]] == ["center", "left"]
    assert seen[-1] == ("aborted", "right")
    assert [i.status for i in session.verify()] == ["aborted"]


def test_cli_capture_sphere_makes_the_session_calibration(tmp_path, capsys):
    root = tmp_path / "store"
    args = ["capture", "--sessions", str(root), "--session", "s", "--size", str(SIZE)]
    assert main(args + ["--sphere"]) == 0
    out = capsys.readouterr().out
    assert "now the session's" in out
    session = SessionStore(root).session("s")
    assert session.calibration_file().is_file()
    assert main(args) == 2
    assert "--subject" in capsys.readouterr().err


def test_each_subject_is_a_person_of_their_own_never_a_simulated_peoples_id(tmp_path):
    """The app's simulated booth and ``booth simulate people`` draw from one population: a
    subject name is the person :func:`people.subject_id` gives (above every id ``simulate
    people`` takes), the truth of each capture is that person, and a second capture of the
    same name is the same person in another sitting."""
    import numpy as np

    from photometric.sim import people, synthetic

    session = SessionStore(tmp_path).create_session("s")
    for name in ("p1", "p2"):
        session.add_subject(name, consent=True)
    with Station(backend="sim", sim=SimOptions(size=96, seed=7)) as st:
        shots = [(name, st.capture(session, name)) for name in ("p1", "p2", "p1")]
    takes: dict[str, int] = {}
    for name, shot in shots:
        assert shot.status == "complete"
        pid = people.subject_id(name, 7)
        assert pid >= people.SUBJECT_IDS
        take = takes.setdefault(name, 0)
        takes[name] += 1
        truth = np.load(shot.path / "truth" / "normals.npy")
        np.testing.assert_array_equal(truth, synthetic.face(pid, 96, take=take).normals)
    assert people.subject_id("p1", 7) != people.subject_id("p2", 7)
    assert people.subject_id("p1", 7) != people.subject_id("p1", 8)
