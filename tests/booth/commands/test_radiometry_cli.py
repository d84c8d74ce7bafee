"""``booth normals`` on what real cameras write, and on captures with nothing usable."""

from __future__ import annotations

import numpy as np
import yaml

from photometric import render
from photometric.io import camerafile, imageio
from photometric.sim import synthetic
from tests.booth.disk import run
from tests.conftest import snapshot

SIZE = 128


def _capture(folder, fmt: str, scale: float = 1.0):
    folder.mkdir()
    shots = synthetic.capture(synthetic.face(1, SIZE), synthetic.Booth(),
                              render.SensorModel(noise=0.002, bits=None), seed=3)
    for name, img in shots.items():
        img = np.clip(img * scale, 0, 1)
        if fmt == "jpeg":
            (folder / f"{name}.jpg").write_bytes(camerafile.encode_jpeg(img))
        elif fmt == "dng":
            (folder / f"{name}.dng").write_bytes(camerafile.encode_dng(img))
        else:
            imageio.write_image(folder / f"{name}.png", imageio.to_uint(img, 16))
    return folder


def test_normals_from_camera_jpegs_and_raw_record_how_pixels_were_made_linear(tmp_path,
                                                                            capsys):
    for fmt, expect in (("jpeg", "jpeg"), ("dng", "raw"), ("png", "linear")):
        cap = _capture(tmp_path / fmt, fmt)
        code, _, err = run(capsys, "normals", cap, "--out", tmp_path / f"out-{fmt}")
        assert code == 0, err
        meta = yaml.safe_load((tmp_path / f"out-{fmt}" / "normals.yaml").read_text())
        assert meta["pixels_from"] == expect
        assert meta["valid_pixels"] > 0.2 * SIZE * SIZE
        if fmt == "dng":
            assert len(meta["white_balance"]) == 3
        if fmt == "jpeg":
            assert meta["response"]["kind"] == "srgb"  # no calibration: sRGB's inverse


def test_a_capture_at_one_percent_of_range_is_solved(tmp_path, capsys):
    """Linear 16-bit photos that use 1 % of the range: as many valid pixels as at full
    range (thresholds follow the data, not full scale)."""
    full = _capture(tmp_path / "full", "png")
    dim = _capture(tmp_path / "dim", "png", scale=0.01)
    counts = []
    for cap in (full, dim):
        code, _, err = run(capsys, "normals", cap, "--out", tmp_path / f"out-{cap.name}")
        assert code == 0, err
        counts.append(yaml.safe_load((tmp_path / f"out-{cap.name}" / "normals.yaml")
                                     .read_text())["valid_pixels"])
    assert abs(counts[1] - counts[0]) < 0.05 * counts[0]


def test_a_capture_with_no_usable_pixel_fails_with_its_message(tmp_path, capsys):
    """Every photo clipped white: nothing to solve. One line, exit 2, no output folder."""
    cap = tmp_path / "white"
    cap.mkdir()
    for name in ("center", "left", "right", "top", "bottom"):
        imageio.write_image(cap / f"{name}.png", np.full((64, 64, 3), 65535, np.uint16))
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "normals", cap, "--out", out)
    assert code == 2
    assert "usable" in err or "valid" in err
    assert "Traceback" not in err and not out.exists()
    # And all black: named as such.
    black = tmp_path / "black"
    black.mkdir()
    for name in ("center", "left", "right", "top", "bottom"):
        imageio.write_image(black / f"{name}.png", np.zeros((64, 64, 3), np.uint16))
    before = snapshot(black)
    code, _, err = run(capsys, "normals", black, "--out", out)
    assert code == 2 and "black" in err and not out.exists()
    assert snapshot(black) == before


def test_highlights_left_out_are_counted_and_reported(tmp_path, capsys):
    """A shiny subject photographed as camera JPEGs (no cross-polarisers): the highlights
    left out of the fit are counted in normals.yaml and said on the command line."""
    assert run(capsys, "simulate", "subject", "--size", "128", "--specular", "0.4",
               "--format", "jpeg", "--out", tmp_path / "shiny")[0] == 0
    code, out, err = run(capsys, "normals", tmp_path / "shiny", "--out", tmp_path / "n")
    assert code == 0, err
    meta = yaml.safe_load((tmp_path / "n" / "normals.yaml").read_text())
    specular = meta["flagged_pixels"]["specular"]
    assert specular > 100 and f"{specular} solved without a specular highlight" in out
