"""The workflows both front ends call, and the one way normals are computed: in a session
calibrated on the sphere, a capture's own derived/ normals, ``booth normals`` on the stored
capture and the dataset export all use the session's calibration and agree."""

import errno

import numpy as np
import pytest
import yaml

from booth import processing
from booth import processing as booth_normals
from booth.cli import main
from booth.dataset_sources import export_sources, run_export
from booth.processing import DEFAULT_METHOD, compute_normals, session_calibration
from booth.station import SimOptions, Station
from booth.workflows import calibrate_session, capture_subject, open_session
from photometric import stereo
from photometric.calibration import Calibration
from photometric.io import imageio
from tests.conftest import snapshot

SIZE = 192


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A session calibrated on the simulated sphere, with one processed capture."""
    root = tmp_path_factory.mktemp("wf") / "store"
    session = open_session(root, "s")
    session.add_subject("p1", consent=True)
    with Station(backend="sim", sim=SimOptions(size=SIZE)) as st:
        cal = calibrate_session(st, session, use=True)
        assert cal.error is None and session.calibration_id == cal.calibration_id
        assert (cal.capture.path / "calibration.yaml").is_file()
        out = capture_subject(st, session, "p1")
    assert out.capture.status == "complete" and out.error is None, out.error
    return session, out


def error_to_truth(normals, capture):
    """Mean angular error where every flash lights the subject (truth/lit.png)."""
    truth = np.load(capture / "truth" / "normals.npy")
    mask = (imageio.read_image(capture / "truth" / "lit.png") == 0b11111) \
        & (normals != 0).any(-1)
    return float(stereo.angular_error(normals, truth)[mask].mean())


def test_booth_normals_on_a_stored_capture_is_its_derived_map(calibrated, tmp_path, capsys):
    session, out = calibrated
    capture = out.capture.path
    assert session_calibration(capture) == (True, session.calibration_file())
    derived = np.load(capture / "derived" / "normals.npy")
    meta = yaml.safe_load((capture / "derived" / "normals.yaml").read_text())
    assert meta["method"] == DEFAULT_METHOD == "lambertian"
    assert meta["calibration_source"] == "session"
    assert main(["normals", str(capture), "--out", str(tmp_path / "n")]) == 0
    stdout = capsys.readouterr().out
    assert f"calibration {session.calibration_file()} (the session's)" in stdout
    cli = np.load(tmp_path / "n" / "normals.npy")
    assert abs(error_to_truth(cli, capture) - error_to_truth(derived, capture)) < 0.01
    assert np.array_equal(cli, derived)
    print(f"derived map: {error_to_truth(derived, capture):.2f}° where every flash lights")
    assert error_to_truth(derived, capture) < 2.0  # the calibrated rig: measured 1.44°


def test_the_export_uses_the_same_calibration_and_normals(calibrated, tmp_path, monkeypatch):
    from learning.exporter import Settings

    session, out = calibrated
    sources, rejected = export_sources([session.path.parent])
    assert rejected == [] and len(sources) == 1
    assert sources[0].calibration == str(session.calibration_file())
    seen = []
    real = stereo.lambertian

    def recording(images, rig=None, *a, **k):
        result = real(images, rig, *a, **k)
        seen.append((rig, result))
        return result

    monkeypatch.setattr("photometric.stereo.solver.lambertian", recording)
    result = run_export(sources, tmp_path / "ds", Settings(size=64), workers=1)
    assert len(result.exported) == 1, result.skipped
    (rig, res), = seen
    cal = Calibration.load(session.calibration_file())
    for ch in cal.rig.directions:
        assert np.allclose(rig.direction(ch), cal.rig.direction(ch))
    assert np.array_equal(res.normals, np.load(out.capture.path / "derived" / "normals.npy"))


def test_a_calibration_capture_finds_its_session_too(calibrated):
    session, _ = calibrated
    sphere = session.path / "calibration" / session.calibration_id
    found = compute_normals(sphere)
    assert found.source == "session" and found.calibration == session.calibration_file()


def test_derived_is_replaced_together_or_not_at_all(calibrated, monkeypatch):
    session, out = calibrated
    capture = out.capture.path
    derived = capture / "derived"
    assert {"normals.npy", "landmarks.json", "qc.yaml"} <= {p.name for p in derived.iterdir()}
    before = snapshot(capture)

    def full(_warnings):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(processing.qc, "to_dict", full)
    with pytest.raises(OSError) as info:
        processing.process_capture(capture)
    assert info.value.filename == str(derived / "qc.yaml")
    assert snapshot(capture) == before
    monkeypatch.undo()
    done = processing.process_capture(capture, method="simplified")
    assert done.normals.method == "simplified" and done.folder == derived
    assert yaml.safe_load((derived / "normals.yaml").read_text())["method"] == "simplified"
    assert sorted(p.name for p in capture.iterdir() if p.name.startswith(".")) == []


def test_cli_capture_prints_the_light_model_and_processing_failures(tmp_path, capsys,
                                                                    monkeypatch):
    root = tmp_path / "store"
    args = ["capture", "--sessions", str(root), "--session", "s", "--size", "128"]
    assert main(args + ["--sphere"]) == 0
    out = capsys.readouterr().out
    assert "complete:" in out and "now the session's" in out
    assert main(args + ["--subject", "p1", "--consent"]) == 0
    out = capsys.readouterr().out
    assert "(the session's)" in out and "derived" in out

    def no_normals(*a, **k):
        raise booth_normals.InputError("no pixel has a valid normal (test)")

    monkeypatch.setattr("booth.processing.compute_normals", no_normals)
    code = main(args + ["--subject", "p1", "--consent"])
    out, err = capsys.readouterr()
    assert code == 2 and "complete:" in out and "no pixel has a valid normal" in err
