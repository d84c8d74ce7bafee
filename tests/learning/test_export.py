"""The export's output folder (refused unless new, empty or a dataset it made; owner-only
files; an existing folder's mode kept), a run that exports nothing, and the normals method."""

import dataclasses
import hashlib
import json
import os
import re

import pytest
import yaml

from learning import exporter as export
from photometric import stereo
from photometric.errors import InputError
from photometric.io.files import MARKER, write_marker
from tests.conftest import mode, snapshot

SMALL = export.Settings(size=64, split=(1.0, 0.0, 0.0))


@pytest.fixture(scope="module")
def face(store_sources):
    """One capture with a face (p2)."""
    return [s for s in store_sources[0] if s.subject == "p2"]


def test_a_folder_that_is_not_a_dataset_is_refused_and_left_as_it_was(face, tmp_path):
    u = tmp_path / "u"
    u.mkdir()
    (u / "README.md").write_text("mine\n")
    (u / "manifest.json").write_text('{"a":1}\n')
    before = snapshot(u)
    with pytest.raises(InputError, match=f"{re.escape(str(u))}: .*nothing was changed"):
        export.export(face, u, SMALL)
    assert snapshot(u) == before
    assert sorted(before) == [".", "README.md", "manifest.json"]
    # Marked by another command, or a manifest that merely looks like JSON: refused too.
    write_marker(u, "normals")
    before = snapshot(u)
    with pytest.raises(InputError, match="nothing was changed"):
        export.export(face, u, SMALL)
    assert snapshot(u) == before
    # A file in the way.
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InputError, match="not a folder"):
        export.export(face, f, SMALL)
    assert f.read_text() == "x"


def test_an_empty_existing_folder_is_used_and_keeps_itsmode(face, tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    os.chmod(out, 0o755)
    result = export.export(face, out, SMALL)
    assert result.ok and len(result.exported) == 1
    assert mode(out) == 0o755
    assert (out / MARKER).is_file() and (out / "manifest.json").is_file()
    assert mode(out / "samples") == 0o700


def test_new_dataset_folders_are_owner_only_and_so_are_the_files(face, tmp_path):
    out = tmp_path / "new" / "ds"
    old = os.umask(0o022)
    try:
        result = export.export(face, out, SMALL)
    finally:
        os.umask(old)
    assert result.ok
    for d in (tmp_path / "new", out, out / "samples"):
        assert mode(d) == 0o700, d
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {MARKER, "manifest.json", "README.md", "report.txt",
                                       "index.jsonl"}
    assert len(list((out / "samples").glob("*.npz"))) == 1
    for p in files:
        assert mode(p) == 0o600, p
    # Resumed: the marker says it is ours, everything is reused.
    assert export.export(face, out, SMALL).reused == 1


def test_a_dataset_made_before_the_marker_is_resumed(face, tmp_path):
    out = tmp_path / "ds"
    export.export(face, out, SMALL)
    (out / MARKER).unlink()
    again = export.export(face, out, SMALL)
    assert again.ok and again.reused == 1
    assert (out / MARKER).is_file()  # marked from now on
    # A manifest with the keys by hand (and no marker) is accepted too.
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({
        "format_version": 1, "software_version": "0.1", "settings": {"encoding": "points"},
        "samples": [], "sources": []}))
    (old / "README.md").write_text("an old dataset\n")
    assert export.export(face, old, SMALL).ok
    assert json.loads((old / "manifest.json").read_text())["counts"]["exported"] == 1


def test_a_run_that_exports_nothing_is_not_ok_and_keeps_the_previous_manifest(
        store_sources, face, tmp_path):
    sources, rejected = store_sources
    ball = [s for s in sources if s.subject == "ball"]
    out = tmp_path / "ds"
    none = export.export(ball, out, SMALL, rejected=rejected)
    assert not none.ok and none.exported == [] and none.manifest is None
    assert [o.key.split("/")[1] for o in none.skipped] == ["ball", "p9"]
    assert not (out / "manifest.json").exists()
    assert not export.export([], out, SMALL).ok
    done = export.export(face, out, SMALL)
    assert done.ok and done.manifest == out / "manifest.json"
    manifest = done.manifest.read_bytes()
    assert not export.export(ball, out, SMALL).ok
    assert (out / "manifest.json").read_bytes() == manifest


def test_the_normals_method_is_selectable_and_lambertian_by_default(face, tmp_path):
    assert export.Settings().method == "lambertian" == stereo.DEFAULT_METHOD
    with pytest.raises(InputError, match="--method: expected one of simplified, lambertian"):
        export.Settings(method="fast").validate()
    result = export.export(face, tmp_path / "s", export.Settings(size=64, method="simplified"))
    assert result.ok
    m = json.loads(result.manifest.read_text())
    assert m["settings"]["method"] == "simplified"
    # A different method is a different sample: nothing reused.
    assert export.export(face, tmp_path / "s", SMALL).reused == 0
    # The capture's session calibration is used: one that cannot be read skips it, named.
    broken = tmp_path / "calibration.yaml"
    broken.write_text("not: [a calibration")
    [src] = face
    with_cal = export.Source(src.key, src.subject, src.path, src.checksum, str(broken))
    result = export.export([with_cal], tmp_path / "c", SMALL)
    assert not result.ok and str(broken) in result.skipped[0].reason


@pytest.fixture(scope="module")
def calibration(tmp_path_factory):
    """A calibration file fitted on the simulated sphere, at the store's image size."""
    from booth.simulation import simulate_subject
    from booth.workflows import calibrate_folder
    from tests.learning.conftest import STORE_SIZE

    folder = tmp_path_factory.mktemp("cal")
    simulate_subject(folder / "sphere", "sphere", 0, STORE_SIZE)
    calibrate_folder(folder / "sphere", folder / "calibration.yaml")
    return folder / "calibration.yaml"


def test_a_sample_is_reused_only_with_the_same_calibration_bytes(face, calibration, tmp_path):
    [src] = face
    out = tmp_path / "ds"
    cal = tmp_path / "calibration.yaml"
    cal.write_bytes(calibration.read_bytes())
    with_cal = dataclasses.replace(src, calibration=str(cal))

    def sources():
        m = json.loads((out / "manifest.json").read_text())
        return [(s["calibration"], s.get("calibration_sha256")) for s in m["sources"]]

    assert export.export([src], out, SMALL).reused == 0
    nominal = sources()
    # The nominal lights, then a calibration: a different light model, recomputed.
    result = export.export([with_cal], out, SMALL)
    assert result.ok and result.reused == 0
    assert nominal == [(False, "none")]
    assert sources() == [(True, hashlib.sha256(cal.read_bytes()).hexdigest())]
    assert export.export([with_cal], out, SMALL).reused == 1
    # The same file with its left and right lights swapped: recomputed.
    data = yaml.safe_load(cal.read_text())
    data["lights"]["left"], data["lights"]["right"] = (data["lights"]["right"],
                                                       data["lights"]["left"])
    cal.write_text(yaml.safe_dump(data, sort_keys=False))
    result = export.export([with_cal], out, SMALL)
    assert result.ok and result.reused == 0
    assert sources() == [(True, hashlib.sha256(cal.read_bytes()).hexdigest())]
    assert export.export([with_cal], out, SMALL).reused == 1
    # An index line from before the light model was recorded: not reused, recomputed.
    index = out / "index.jsonl"
    lines = [json.loads(line) for line in index.read_text().splitlines()]
    for line in lines:
        line.pop("calibration_sha256")
    index.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert export.export([with_cal], out, SMALL).reused == 0
    assert export.export([with_cal], out, SMALL).reused == 1


def test_a_source_given_twice_is_exported_once(face, tmp_path):
    [src] = face
    result = export.export([src, src], tmp_path / "ds", SMALL)
    assert result.ok and [o.key for o in result.exported] == [src.key]
    m = json.loads(result.manifest.read_text())
    assert len(m["sources"]) == 1 and len(m["samples"]) == 1
    assert len((tmp_path / "ds" / "index.jsonl").read_text().splitlines()) == 1
