"""Every command's outputs: a folder or file that is not the command's own is refused, and
outputs are replaced whole or not at all. Each refusal or failure leaves the disk as it was."""

import errno
import json
import os
import shutil

import pytest
import yaml

from booth import processing as booth_normals
from booth.commands import landmarks as booth_landmarks
from photometric.io import imageio
from photometric.io.files import MARKER, replace_files
from tests.booth.conftest import refused
from tests.booth.disk import run, user_folder


# -- a folder with a user's files ---------------------------------------------------------
def test_normals_refuses_a_users_folder(sim, tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    refused(capsys, tmp_path, ["normals", sim / "face", "--out", mine],
            [str(mine), "did not make", "README.md", "Give a new or empty folder"])


def test_simulate_refuses_a_users_folder_even_with_force(tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    for force in ([], ["--force"]):
        refused(capsys, tmp_path, ["simulate", "subject", "--size", "64", "--out", mine,
                                   *force], [str(mine), "README.md", "new or empty folder"])


def test_export_refuses_a_users_folder(tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    store = tmp_path / "store"
    store.mkdir()
    refused(capsys, tmp_path, ["export", store, "--out", mine, "--workers", "1"],
            [str(mine), "did not make", "manifest.json"])


def test_demo_refuses_a_users_folder(tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    refused(capsys, tmp_path, ["demo", "--out", mine, "--size", "128"],
            [str(mine), "'booth demo' did not make"])


def test_calibrate_refuses_a_users_file(sim, tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    for name in ("README.md", "manifest.json"):
        refused(capsys, tmp_path, ["calibrate", sim / "sphere", "--out", mine / name],
                [str(mine / name), "not written by 'booth calibrate'"])


def test_calibrate_replaces_its_own_file_atomically(sim, tmp_path, capsys):
    out = tmp_path / "cal.yaml"
    assert run(capsys, "calibrate", sim / "sphere", "--out", out)[0] == 0
    first = yaml.safe_load(out.read_text())
    assert run(capsys, "calibrate", sim / "sphere", "--out", out)[0] == 0
    assert yaml.safe_load(out.read_text())["lights"] == first["lights"]
    assert os.stat(out).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.yaml"]


def test_landmarks_refuses_a_users_files(sim, tmp_path, capsys):
    mine = user_folder(tmp_path / "mine")
    photo = mine / "photo.png"
    imageio.write_image(photo, imageio.read_image(sim / "face" / "center.png"))
    image = sim / "face" / "center.png"
    refused(capsys, tmp_path, ["landmarks", image, "--out", mine / "manifest.json"],
            [str(mine / "manifest.json"), "not written by 'booth landmarks'"])
    refused(capsys, tmp_path, ["landmarks", image, "--out", mine / "new.json",
                               "--overlay", photo],
            [str(photo), "not written by 'booth landmarks'"])
    refused(capsys, tmp_path, ["landmarks", image, "--out", mine / "x.png",
                               "--overlay", mine / "x.png"], ["x.png", "given twice"])
    refused(capsys, tmp_path, ["landmarks", image, "--out", mine / "a.json",
                               "--overlay", mine / "a.jpg"], ["--overlay", ".png"])


# -- replaced whole, or not at all --------------------------------------------------------
def test_landmarks_replaces_its_own_outputs_together(sim, tmp_path, capsys, monkeypatch):
    image = sim / "face" / "center.png"
    out, overlay = tmp_path / "lm.json", tmp_path / "lm.png"
    assert run(capsys, "landmarks", image, "--out", out, "--overlay", overlay)[0] == 0
    assert booth_landmarks.is_landmarks_json(out) and booth_landmarks.is_overlay(overlay)
    assert len(json.loads(out.read_text())["landmarks"]) == 478
    code, stdout, _ = run(capsys, "landmarks", image, "--out", out, "--overlay", overlay)
    assert code == 0 and "478 landmarks" in stdout

    def full(path, pic):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(booth_landmarks, "_write_overlay", full)
    refused(capsys, tmp_path, ["landmarks", image, "--out", out, "--overlay", overlay],
            [str(overlay), "No space left on device"], code=1)


def test_replace_files_puts_back_what_it_replaced(tmp_path, monkeypatch):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("old a")
    real = os.replace
    calls = []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(src, dst)

    monkeypatch.setattr("photometric.io.files.os.replace", second_fails)
    with pytest.raises(OSError) as info:
        replace_files([(a, lambda p: p.write_text("new a")), (b, lambda p: p.write_text("b"))])
    assert info.value.filename == str(b)
    monkeypatch.undo()
    assert a.read_text() == "old a" and not b.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_normals_failing_part_way_keeps_the_earlier_outputs(sim, tmp_path, capsys,
                                                             monkeypatch):
    out = tmp_path / "out"
    out.mkdir(mode=0o750)
    os.chmod(out, 0o750)
    assert run(capsys, "normals", sim / "face", "--out", out)[0] == 0
    assert (out / MARKER).is_file() and out.stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in out.iterdir()) == sorted([*booth_normals.FILES, MARKER])

    def full(path, img):  # the writer of normals_preview.png, the third file
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(booth_normals.imageio, "write_image", full)
    refused(capsys, tmp_path, ["normals", sim / "face", "--out", out],
            [str(out / "normals_preview.png"), "No space left on device"], code=1)
    monkeypatch.undo()
    # A rerun replaces the folder whole and keeps the user's mode on it.
    assert run(capsys, "normals", sim / "face", "--method", "simplified", "--out", out)[0] == 0
    assert yaml.safe_load((out / "normals.yaml").read_text())["method"] == "simplified"
    assert out.stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_normals_says_which_calibration_and_ambient(sim, tmp_path, capsys):
    code, out, _ = run(capsys, "normals", sim / "face", "--out", tmp_path / "a")
    assert code == 0  # the lights.yaml beside the photos, as booth relight uses it
    assert f"lights {sim / 'face' / 'lights.yaml'} (beside the photos" in out
    assert "ambient frame ambient.png subtracted" in out
    meta = yaml.safe_load((tmp_path / "a" / "normals.yaml").read_text())
    assert meta["calibration_source"] == "beside"
    bare = tmp_path / "bare"
    shutil.copytree(sim / "face", bare)
    (bare / "lights.yaml").unlink()
    code, out, _ = run(capsys, "normals", bare, "--out", tmp_path / "n")
    assert code == 0 and "nominal booth" in out
    code, out, _ = run(capsys, "normals", sim / "face", "--calibration", sim / "cal.yaml",
                       "--out", tmp_path / "b")
    assert code == 0 and f"calibration {sim / 'cal.yaml'}" in out


def test_simulate_overwrite_rules(tmp_path, capsys):
    out = tmp_path / "subject"
    out.mkdir(mode=0o750)
    os.chmod(out, 0o750)
    assert run(capsys, "simulate", "subject", "--size", "64", "--ambient", "--out", out)[0] == 0
    assert (out / "ambient.png").is_file() and out.stat().st_mode & 0o777 == 0o750
    # Without --force an earlier output is refused, unchanged.
    refused(capsys, tmp_path, ["simulate", "subject", "--size", "64", "--seed", "1",
                               "--out", out],
            [str(out), "earlier 'booth simulate' output", "--force", "center.png"])
    # With --force it is replaced whole: no stale ambient frame.
    assert run(capsys, "simulate", "subject", "--size", "64", "--seed", "1", "--force",
               "--out", out)[0] == 0
    assert not (out / "ambient.png").exists()
    assert yaml.safe_load((out / "lights.yaml").read_text())["simulation"]["seed"] == 1
    assert out.stat().st_mode & 0o777 == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subject"]
    # An empty folder is fine without --force.
    (tmp_path / "empty").mkdir()
    assert run(capsys, "simulate", "subject", "--size", "64", "--out", tmp_path / "empty")[0] == 0


def test_simulate_force_takes_an_output_made_before_markers(tmp_path, capsys):
    out = tmp_path / "old"
    assert run(capsys, "simulate", "subject", "--size", "64", "--ambient", "--out", out)[0] == 0
    (out / MARKER).unlink()
    assert run(capsys, "simulate", "subject", "--size", "64", "--force", "--out", out)[0] == 0
    assert not (out / "ambient.png").exists()


# -- one rule: an earlier output of other input is replaced only with --force -------------
def test_normals_of_another_capture_needs_force(sim, tmp_path, capsys):
    out = tmp_path / "normals"
    assert run(capsys, "normals", sim / "face", "--out", out)[0] == 0
    # The same capture again (another method): replaced, as before.
    assert run(capsys, "normals", sim / "face", "--method", "simplified", "--out", out)[0] == 0
    assert yaml.safe_load((out / MARKER).read_text())["source"] == \
        f"capture {(sim / 'face').resolve()}"
    # Another capture's normals would replace these: refused, unchanged, without --force.
    refused(capsys, tmp_path, ["normals", sim / "sphere", "--out", out],
            [str(out), "earlier 'booth normals' output of capture", "--force", "albedo.png"])
    assert run(capsys, "normals", sim / "sphere", "--force", "--out", out)[0] == 0
    assert yaml.safe_load((out / "normals.yaml").read_text())["capture"] == str(sim / "sphere")


def test_simulate_same_settings_replace_without_force(tmp_path, capsys):
    out = tmp_path / "subject"
    args = ["simulate", "subject", "--size", "64", "--seed", "3", "--out", out]
    assert run(capsys, *args)[0] == 0
    source = yaml.safe_load((out / MARKER).read_text())["source"]
    assert source.startswith("face seed 3, 64×64, png 16-bit")
    assert run(capsys, *args)[0] == 0  # the same settings: replaced whole, no --force
    refused(capsys, tmp_path, [*args[:-2], "--ambient", "--out", out],
            ["earlier 'booth simulate' output of face seed 3", "--force"])
