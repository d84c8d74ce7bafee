"""What ``booth export`` offers from session stores: only subjects with recorded consent, each
capture once, with a session calibration that can be read; and a changed calibration is a
changed sample (never reused)."""

import hashlib
import json
import os
import shutil

import numpy as np
import pytest
import yaml

from booth.cli import main
from booth.dataset_sources import export_sources
from booth.station import SimOptions, Station
from booth.workflows import calibrate_session, capture_subject, open_session
from tests.booth.conftest import edit_yaml
from tests.conftest import snapshot

SIZE = 128
ARGS = ["--workers", "1", "--size", "64"]
CONSENT = "no recorded consent in subject.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A store: session 's' calibrated on the simulated sphere, subjects p1 and p2 captured
    once each. Read-only: tests copy it."""
    root = tmp_path_factory.mktemp("tpl") / "store"
    session = open_session(root, "s")
    with Station(backend="sim", sim=SimOptions(size=SIZE)) as st:
        cal = calibrate_session(st, session, use=True)
        assert cal.error is None and session.calibration_file().is_file()
        for subject in ("p1", "p2"):
            session.add_subject(subject, consent=True)
            out = capture_subject(st, session, subject, process=False)
            assert out.capture.status == "complete", out.capture
    return root


@pytest.fixture
def store(template, tmp_path):
    """A copy of the template to change."""
    root = tmp_path / "store"
    shutil.copytree(template, root, symlinks=True)
    return root


def export(capsys, *argv):
    code = main(["export", *map(str, argv), *ARGS])
    out, err = capsys.readouterr()
    return code, out, err


def session_yaml(store):
    return store / "s" / "session.yaml"


def calibration_file(store):
    cid = yaml.safe_load(session_yaml(store).read_text())["calibration_id"]
    return store / "s" / "calibration" / cid / "calibration.yaml"


def manifest(ds):
    return json.loads((ds / "manifest.json").read_text())


# -- 1. consent ---------------------------------------------------------------------------
def test_a_subject_without_recorded_consent_is_skipped_with_the_reason(store, tmp_path,
                                                                        capsys):
    subject_yaml = store / "s" / "subjects" / "p2" / "subject.yaml"
    edit_yaml(subject_yaml, lambda d: d["consent"].update(given=False))
    before = snapshot(store)
    ds = tmp_path / "ds"
    code, out, err = export(capsys, store, "--out", ds)
    assert code == 0, err
    assert "exported 1 captures (0 reused), skipped 1" in out
    [line] = [x for x in out.splitlines() if "skipped s/p2/" in x]
    assert f"{CONSENT} (consent.given is false)" in line
    m = manifest(ds)
    assert {s["subject"] for s in m["samples"]} == {"p1"}
    assert not any("p2" in p.name for p in (ds / "samples").iterdir())
    [p2] = [s for s in m["sources"] if s["subject"] == "p2"]
    assert p2["status"] == "skipped" and p2["reason"].startswith(CONSENT)
    assert "p2" not in json.dumps(m["splits"])
    assert snapshot(store) == before  # the store is only read


@pytest.mark.parametrize("record, detail", [
    ("subject: p2\nconsent: {given: false}\n", "consent.given is false"),
    ("subject: p2\nconsent: {given: 'yes'}\n", "consent.given"),
    ("subject: p2\n", "consent"),
    ("subject: [p2\n", "malformed YAML"),
    ("subject: p1\nconsent: {given: true}\n", "subject 'p1'"),
    (None, "file not found"),
])
def test_a_missing_malformed_or_refused_consent_record_is_no_consent(store, record, detail):
    subject_yaml = store / "s" / "subjects" / "p2" / "subject.yaml"
    if record is None:
        subject_yaml.unlink()
    else:
        subject_yaml.write_text(record)
    sources, rejected = export_sources([store])
    assert [s.subject for s in sources] == ["p1"]
    [no] = rejected
    assert no.subject == "p2" and no.reason.startswith(CONSENT) and detail in no.reason


def test_no_subject_with_consent_exports_nothing_and_writes_nothing(store, tmp_path, capsys):
    for subject in ("p1", "p2"):
        (store / "s" / "subjects" / subject / "subject.yaml").unlink()
    before = snapshot(tmp_path)
    code, _, err = export(capsys, store, "--out", tmp_path / "ds")
    assert code == 1 and "nothing exported" in err
    assert err.count(CONSENT) == 2 and "Traceback" not in err
    assert snapshot(tmp_path) == before


# -- 2. the calibration is part of what a sample is ----------------------------------------
def test_a_changed_calibration_recomputes_the_samples(store, tmp_path, capsys):
    ds = tmp_path / "ds"
    cal = calibration_file(store)

    def run():
        code, out, err = export(capsys, store, "--out", ds)
        assert code == 0, err
        return out

    def normals():
        return {p.name: np.load(p)["normals"] for p in sorted((ds / "samples").glob("*.npz"))}

    def calibrations():
        return [(s["calibration"], s["calibration_sha256"]) for s in manifest(ds)["sources"]]

    assert "exported 2 captures (0 reused)" in run()
    digest = hashlib.sha256(cal.read_bytes()).hexdigest()
    first, first_calibrations = normals(), manifest(ds)["sources"]
    assert "exported 2 captures (2 reused)" in run()  # the same calibration: reused
    # The left and right lights swapped in the session's calibration file.
    edit_yaml(cal, lambda d: d["lights"].update(left=d["lights"]["right"],
                                                right=d["lights"]["left"]))
    store_before = snapshot(store)
    assert "exported 2 captures (0 reused)" in run()
    assert [(s["calibration"], s["calibration_sha256"]) for s in first_calibrations] == [
        (True, digest)] * 2
    swapped = hashlib.sha256(cal.read_bytes()).hexdigest()
    assert swapped != digest and calibrations() == [(True, swapped)] * 2
    again = normals()
    assert again.keys() == first.keys()
    assert all(not np.array_equal(first[k], again[k]) for k in first)
    assert "exported 2 captures (2 reused)" in run()
    # No calibration at all (the nominal lights): recomputed too.
    edit_yaml(session_yaml(store), lambda d: d.update(calibration_id=None))
    assert "exported 2 captures (0 reused)" in run()
    assert calibrations() == [(False, "none")] * 2
    assert all(not np.array_equal(again[k], v) for k, v in normals().items())
    assert "exported 2 captures (2 reused)" in run()
    after = snapshot(store)  # the exports only read the store
    assert after.keys() == store_before.keys()
    assert [k for k in after if after[k] != store_before[k]] == ["s/session.yaml"]


# -- 3. each capture once --------------------------------------------------------------------
def test_a_store_given_twice_is_exported_once(store, tmp_path, capsys):
    link = tmp_path / "link"
    os.symlink(store, link)
    once, rejected = export_sources([store])
    assert len(once) == 2 and rejected == []
    for roots in ([store, store], [store, link], [link, store / ".", store],
                  [store, tmp_path / ".." / tmp_path.name / "store"]):
        sources, rejected = export_sources(roots)
        assert [s.key for s in sources] == [s.key for s in once] and rejected == []
        assert sources[0].path == str(once[0].path).replace(str(store), str(roots[0]))
    before = snapshot(store)
    ds = tmp_path / "ds"
    code, out, err = export(capsys, store, link, store, "--out", ds)
    assert code == 0, err
    assert "exported 2 captures (0 reused), skipped 0" in out
    m = manifest(ds)
    assert len(m["sources"]) == 2 and len(m["samples"]) == 2
    assert len(list((ds / "samples").glob("*.npz"))) == 2
    assert len((ds / "index.jsonl").read_text().splitlines()) == 2
    assert snapshot(store) == before



def test_a_session_folder_stands_for_its_session(store):
    """``booth export ROOT/SESSION`` (as ``sessions verify`` takes it) exports that session
    alone, with the same keys as through its store; another session beside it is left out."""
    whole, _ = export_sources([store])
    other = store / "t"
    shutil.copytree(store / "s", other)
    (other / "session.yaml").write_text(session_yaml(store).read_text().replace(
        "session: s", "session: t"))
    sources, rejected = export_sources([store / "s"])
    assert [s.key for s in sources] == [s.key for s in whole] and rejected == []
    assert {s.key.split("/")[0] for s in export_sources([store])[0]} == {"s", "t"}

def test_a_copy_of_a_store_is_refused_not_exported_twice(store, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(store, copy, symlinks=True)
    sources, rejected = export_sources([store, copy])
    assert [s.path for s in sources] == [s.path for s in export_sources([store])[0]]
    assert len(rejected) == 2
    for src, no in zip(sources, rejected, strict=True):
        assert no.key == src.key and f"the same capture as {src.path}" in no.reason


# -- 4. a session calibration that cannot be read ---------------------------------------------
@pytest.mark.parametrize("damage, detail", [
    ("missing", "file not found"),
    ("malformed", "malformed YAML"),
    ("invalid", "lights"),
])
def test_a_missing_or_invalid_session_calibration_refuses_its_captures(
        store, tmp_path, capsys, damage, detail):
    cal = calibration_file(store)
    if damage == "missing":
        cal.unlink()
    elif damage == "malformed":
        cal.write_text("lights: [1, 2\n")
    else:
        edit_yaml(cal, lambda d: d.pop("lights"))
    sources, rejected = export_sources([store])
    assert sources == [] and len(rejected) == 2
    for no in rejected:
        assert str(cal) in no.reason and detail in no.reason
        assert "the session's calibration" in no.reason
    # The command: nothing exported, the reason naming the file, nothing written.
    before = snapshot(tmp_path)
    code, out, err = export(capsys, store, "--out", tmp_path / "ds")
    assert code == 1 and "nothing exported" in err and out.strip() == ""
    assert err.count(str(cal)) == 2 and detail in err and "Traceback" not in err
    assert snapshot(tmp_path) == before
    # As 'booth normals' refuses it.
    capture = next((store / "s" / "subjects" / "p1" / "captures").iterdir())
    assert main(["normals", str(capture), "--out", str(tmp_path / "n")]) == 2
    assert str(cal) in capsys.readouterr().err


def test_a_calibration_id_naming_no_calibration_refuses_its_captures(store, tmp_path):
    edit_yaml(session_yaml(store), lambda d: d.update(calibration_id="20990101T000000000-beef"))
    sources, rejected = export_sources([store])
    missing = store / "s" / "calibration" / "20990101T000000000-beef" / "calibration.yaml"
    assert sources == [] and len(rejected) == 2
    assert all(str(missing) in no.reason and "file not found" in no.reason for no in rejected)
