"""The headless commands as a user runs them: files in, files out, clear errors."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from booth import cli, processing
from photometric import stereo
from photometric.io import normalmap
from photometric.lights import CHANNELS
from tests.booth.conftest import refused
from tests.booth.disk import run
from tests.conftest import SKIN_PARTS, snapshot

#: The ``sim`` fixture's sphere, calibration and face (``tests/booth/conftest.py``).
SIM_SIZE, SIM_SEED = 256, 4


def test_simulate_writes_a_capture(sim):
    face = sim / "face"
    for name in (*CHANNELS, "ambient"):
        img = cv2.imread(str(face / f"{name}.png"), cv2.IMREAD_UNCHANGED)
        assert img.shape == (256, 256, 3) and img.dtype == np.uint16
    truth = np.load(face / "truth" / "normals.npy")
    assert truth.dtype == np.float32 and truth.shape == (256, 256, 3)
    assert cv2.imread(str(face / "truth" / "mask.png"), cv2.IMREAD_UNCHANGED).max() == 255
    lights = yaml.safe_load((face / "lights.yaml").read_text())
    assert set(lights["lights"]) == set(CHANNELS)
    assert lights["simulation"]["seed"] == 4


def test_simulate_refuses_to_overwrite_a_capture(sim, capsys):
    before = snapshot(sim / "face")
    code, _, err = run(capsys, "simulate", "subject", "--out", sim / "face")
    assert code == 2 and "--force" in err and "center" in err
    assert snapshot(sim / "face") == before


def test_simulate_8bit_with_noise_and_point_lights(tmp_path, capsys):
    code, out, _ = run(capsys, "simulate", "subject", "--size", "64", "--bits", "8",
                       "--noise", "0.01", "--distance", "1500", "--out", tmp_path)
    assert code == 0 and "simulated face" in out
    assert cv2.imread(str(tmp_path / "left.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint8


def test_calibration_file(sim):
    cal = yaml.safe_load((sim / "cal.yaml").read_text())
    assert set(cal["lights"]) == set(CHANNELS)
    assert cal["residuals"]["lambertian_mean_deg"] < 0.1


@pytest.mark.parametrize("method", ["simplified", "lambertian"])
def test_normals_end_to_end(sim, tmp_path, capsys, method):
    out = tmp_path / method
    code, stdout, _ = run(capsys, "normals", sim / "face", "--method", method,
                          "--calibration", sim / "cal.yaml", "--out", out)
    assert code == 0 and method in stdout
    for name in ("normals.png", "normals.npy", "albedo.png", "mask.png", "confidence.png",
                 "normals_preview.png", "normals.yaml"):
        assert (out / name).is_file(), name
    assert not list(out.glob(".*partial*"))
    truth = np.load(sim / "face" / "truth" / "normals.npy")
    # The skin (black hair and dark cloth may fall below the dark threshold: not solved).
    part = cv2.imread(str(sim / "face" / "truth" / "parts.png"), cv2.IMREAD_UNCHANGED)
    tmask = (truth[..., 2] > 0) & np.isin(part, SKIN_PARTS)
    png = normalmap.read_png16(out / "normals.png")
    mask = cv2.imread(str(out / "mask.png"), cv2.IMREAD_UNCHANGED) > 0
    sel = tmask & mask
    assert sel.sum() > 0.95 * tmask.sum()
    assert np.median(stereo.angular_error(png, truth)[sel]) < 0.5
    meta = yaml.safe_load((out / "normals.yaml").read_text())
    assert meta["method"] == method and meta["ambient_subtracted"] is True
    assert cv2.imread(str(out / "normals.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16


def test_normals_with_lights_file_and_without_calibration(sim, tmp_path, capsys):
    code, _, _ = run(capsys, "normals", sim / "face", "--method", "lambertian",
                     "--lights", sim / "face" / "lights.yaml", "--out", tmp_path / "a")
    assert code == 0
    code, _, _ = run(capsys, "normals", sim / "face", "--out", tmp_path / "b")
    assert code == 0  # nominal rig


def test_normals_reads_8bit_jpeg_and_tiff(sim, tmp_path, capsys):
    for ext in (".jpg", ".tif"):
        folder = tmp_path / ext[1:]
        folder.mkdir()
        for name in CHANNELS:
            img = cv2.imread(str(sim / "face" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
            img = (img >> 8).astype(np.uint8) if ext == ".jpg" else img
            cv2.imwrite(str(folder / f"{name}{ext}"), img)
        code, _, err = run(capsys, "normals", folder, "--calibration", sim / "cal.yaml",
                           "--out", folder / "out")
        assert code == 0, err


def copy_capture(src: Path, dst: Path) -> Path:
    dst.mkdir()
    for name in (*CHANNELS, "ambient"):
        (dst / f"{name}.png").write_bytes((src / f"{name}.png").read_bytes())
    return dst


def test_bad_inputs_give_one_clear_message(sim, tmp_path, capsys):
    def fails(*argv, expect):
        refused(capsys, tmp_path, argv, expect)

    out = tmp_path / "out"
    # Missing image.
    cap = copy_capture(sim / "face", tmp_path / "missing")
    (cap / "top.png").unlink()
    fails("normals", cap, "--out", out, expect=["missing image 'top'", str(cap)])
    # Sizes that differ.
    cap = copy_capture(sim / "face", tmp_path / "size")
    cv2.imwrite(str(cap / "left.png"), np.zeros((100, 100, 3), np.uint16) + 9000)
    fails("normals", cap, "--out", out, expect=["left.png", "same size"])
    # Unreadable file.
    cap = copy_capture(sim / "face", tmp_path / "unreadable")
    (cap / "right.png").write_bytes(b"\x89PNG garbage")
    fails("normals", cap, "--out", out, expect=["right.png", "not a readable image"])
    # All-dark image.
    cap = copy_capture(sim / "face", tmp_path / "dark")
    cv2.imwrite(str(cap / "bottom.png"), np.zeros((256, 256, 3), np.uint16))
    fails("normals", cap, "--out", out, expect=["bottom.png", "all dark"])
    # Not a folder.
    fails("normals", tmp_path / "nope", "--out", out, expect=["nope", "not a folder"])
    # No sphere found.
    fails("calibrate", sim / "face", "--out", tmp_path / "c.yaml",
          expect=["no sphere found", "--circle"])
    assert not (tmp_path / "c.yaml").exists()
    # Malformed YAML: calibration and lights.
    bad = tmp_path / "bad.yaml"
    bad.write_text("lights: {center: [0, 0, 1]\n")
    fails("normals", sim / "face", "--calibration", bad, "--out", out,
          expect=[str(bad), "malformed YAML"])
    fails("normals", sim / "face", "--lights", bad, "--out", out,
          expect=[str(bad), "malformed YAML"])
    bad.write_text("lights: {left: [1, 0], right: [1, 0, 0], top: [0, 1, 1], bottom: [0, -1, 1]}")
    fails("normals", sim / "face", "--lights", bad, "--out", out, expect=["lights.left"])
    fails("normals", sim / "face", "--calibration", tmp_path / "absent.yaml", "--out", out,
          expect=["absent.yaml", "not found"])
    fails("calibrate", sim / "sphere", "--circle", "1,2", "--out", tmp_path / "c.yaml",
          expect=["--circle"])
    assert not out.exists()


def test_failed_run_keeps_earlier_results(sim, tmp_path, capsys):
    out = tmp_path / "out"
    assert run(capsys, "normals", sim / "face", "--out", out)[0] == 0
    before = (out / "normals.png").read_bytes()
    cap = copy_capture(sim / "face", tmp_path / "broken")
    (cap / "left.png").unlink()
    assert run(capsys, "normals", cap, "--out", out)[0] == 2
    assert (out / "normals.png").read_bytes() == before


def test_demo_twice_in_one_folder(tmp_path, capsys):
    code, out, _ = run(capsys, "demo", "--out", tmp_path, "--size", "192")
    assert code == 0
    assert "simplified" in out and "lambertian" in out
    fig = cv2.imread(str(tmp_path / "demo.png"))
    assert fig.shape[1] == 4 * 192 and fig.shape[0] == 2 * (192 + 28)
    # `make demo` again: the folder is the demo's, updated; its dataset reuses the sample.
    code, out, err = run(capsys, "demo", "--out", tmp_path, "--size", "192")
    assert code == 0, err
    assert "1 reused from earlier runs" in out


def test_one_default_method():
    parser = cli.build_parser()
    for argv in (["normals", "capture", "--out", "o"], ["export", "store", "--out", "o"]):
        assert parser.parse_args(argv).method == processing.DEFAULT_METHOD == "lambertian"
    assert "default lambertian" in cli.build_parser()._subparsers._group_actions[0].choices[
        "normals"].format_help()


def test_console_script_help():
    exe = Path(sys.executable).with_name("booth")
    for argv in ([], ["simulate", "subject"], ["calibrate"], ["normals"]):
        proc = subprocess.run([str(exe), *argv, "--help"], capture_output=True, text=True)
        assert proc.returncode == 0 and "usage: booth" in proc.stdout
