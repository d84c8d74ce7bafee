"""``booth relight`` as a user runs it: a simulated capture and a portrait relit into files,
the orbit as GIF and MP4, and every bad input refused with nothing written."""

from __future__ import annotations

from pathlib import Path

import cv2
import imageio.v2 as iio
import numpy as np
import pytest
import yaml

from booth import cli
from booth import lighting as relighting
from booth.commands import shared
from photometric.errors import InputError
from photometric.io import normalmap
from photometric.lights import CHANNELS
from tests.booth.disk import run
from tests.conftest import snapshot


@pytest.fixture(scope="module")
def capture(tmp_path_factory) -> Path:
    """A simulated face capture (16-bit linear PNGs, truth/, lights.yaml)."""
    root = tmp_path_factory.mktemp("relight")
    assert cli.main(["simulate", "subject", "--kind", "face", "--seed", "6", "--size", "192",
                     "--out", str(root / "face")]) == 0
    return root / "face"


def read16(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 65535.0


def test_a_capture_relit_by_its_own_flash_gives_back_that_photo(capture, tmp_path, capsys):
    """Photometric stereo's normals and albedo, relit with the left flash's calibrated
    direction and intensity (from lights.yaml beside the photos): >= 30 dB inside the face."""
    code, out, err = run(capsys, "relight", capture, "--light", "left", "--out", tmp_path / "o")
    assert code == 0, err
    relit = read16(tmp_path / "o" / "relit16.png")
    photo = read16(capture / "left.png")
    mask = cv2.imread(str(capture / "truth" / "mask.png"), cv2.IMREAD_UNCHANGED) > 0
    lit = cv2.imread(str(capture / "truth" / "lit.png"), cv2.IMREAD_UNCHANGED)
    sel = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    sel &= (lit & (1 << CHANNELS.index("left"))) != 0
    mse = float(np.mean((relit[sel] - photo[sel]) ** 2))
    assert 10 * np.log10(1.0 / mse) >= 30.0
    # Outside the face the ring-flash photo, as it was (to 16-bit rounding).
    ring = read16(capture / "center.png")
    outside = ~cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    np.testing.assert_allclose(relit[outside], ring[outside], atol=1 / 65535)
    assert "lights.yaml beside the photos" in (tmp_path / "o" / "relight.yaml").read_text()
    srgb = cv2.imread(str(tmp_path / "o" / "relit.png"), cv2.IMREAD_UNCHANGED)
    assert srgb.dtype == np.uint8 and srgb.shape == (192, 192, 3)


def test_orbit_writes_a_gif_an_mp4_and_a_contact_sheet(capture, tmp_path, capsys):
    code, _, err = run(capsys, "relight", capture, "--light", "az=30,el=20,color=1,0.9,0.8",
                       "--ambient", "0.1", "--specular", "0.4", "--shadows", "--orbit", "12",
                       "--out", tmp_path / "o")
    assert code == 0, err
    o = tmp_path / "o"
    gif = iio.mimread(o / "orbit.gif")
    assert len(gif) == 12 and gif[0].shape[:2] == (192, 192)
    reader = iio.get_reader(o / "orbit.mp4", format="FFMPEG")
    frames = [f for f in reader]
    reader.close()
    assert len(frames) == 12 and frames[0].shape == (192, 192, 3)
    # The light moves: consecutive frames differ, and the frames are not all alike.
    assert np.abs(frames[0].astype(int) - frames[6].astype(int)).mean() > 2
    sheet = cv2.imread(str(o / "contact_sheet.png"))
    assert sheet.shape[:2] == (2 * 192, 4 * 192)
    depth = np.load(o / "depth.npy")
    assert depth.shape == (192, 192) and depth.dtype == np.float32
    meta = yaml.safe_load((o / "relight.yaml").read_text())
    assert meta["shadows"] is True and meta["orbit_frames"] == 12


def test_a_portrait_with_its_normal_map(capture, tmp_path, capsys):
    """Any photo plus a normal map (here the capture's ring-flash photo as an sRGB PNG and
    its true normals): relit inside the face, the photo's own pixels outside it."""
    ring = read16(capture / "center.png")
    photo8 = np.rint(np.clip(ring, 0, 1) ** (1 / 2.2) * 255).astype(np.uint8)
    cv2.imwrite(str(tmp_path / "me.png"), cv2.cvtColor(photo8, cv2.COLOR_RGB2BGR))
    n = np.load(capture / "truth" / "normals.npy")
    mask = np.linalg.norm(n, axis=-1) > 0.5
    normalmap.write_png16(tmp_path / "me.normals.png", n, mask)
    code, _, err = run(capsys, "relight", tmp_path / "me.png", "--normals",
                       tmp_path / "me.normals.png", "--light", "az=-60,el=10", "--out",
                       tmp_path / "o")
    assert code == 0, err
    relit = cv2.cvtColor(cv2.imread(str(tmp_path / "o" / "relit.png")), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(relit[~mask], photo8[~mask])
    inside = mask & (n[..., 0] < -0.5)  # the cheek that faces the new light got brighter
    outside = mask & (n[..., 0] > 0.5)
    assert relit[inside].mean() > relit[outside].mean() + 20


def test_predict_then_relight(tmp_path, capsys):
    from skimage import data

    cv2.imwrite(str(tmp_path / "astronaut.jpg"), cv2.cvtColor(data.astronaut(),
                                                              cv2.COLOR_RGB2BGR))
    code, out, err = run(capsys, "relight", tmp_path / "astronaut.jpg", "--predict",
                         "--light", "az=40,el=20", "--sh", "studio", "--out", tmp_path / "o")
    assert code == 0, err
    assert "predicted by the shipped model" in out
    assert cv2.imread(str(tmp_path / "o" / "relit.png")).shape == (512, 512, 3)


def test_predict_then_relight_the_whole_person(tmp_path, capsys):
    """A model with a mask output relights what its mask holds, past the face oval (hair,
    neck, shoulders); the light's scale comes from the face's width, not the mask's."""
    import torch
    from skimage import data

    from learning import checkpoint
    from learning.model import UNet

    torch.manual_seed(0)
    net = UNet(5, base=8)
    with torch.no_grad():
        net.head.bias[3:] = 20.0  # "the sitter is everywhere in the crop"
    model = checkpoint.save_model(tmp_path / "m.safetensors", net, {
        "dataset": {"encoding": "points", "size": 64, "framing": "person"}})
    rgb = data.astronaut()
    cv2.imwrite(str(tmp_path / "a.jpg"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    code, out, err = run(capsys, "relight", tmp_path / "a.jpg", "--predict", "--model", model,
                         "--light", "az=-60,el=10", "--out", tmp_path / "o")
    assert code == 0, err
    relit = cv2.imread(str(tmp_path / "o" / "relit.png")).astype(int)
    photo = cv2.imread(str(tmp_path / "a.jpg")).astype(int)  # as the command read it
    changed = np.abs(relit - photo).max(axis=-1) > 12
    # the face's oval is about 2 % of the astronaut's frame; the person in the crop (the
    # model's mask where the selfie segmentation agrees) 15 %
    assert changed.mean() > 0.1
    # the photo's corners, outside the crop, are the photo
    assert not changed[:20, :20].any() and not changed[-20:, -20:].any()
    portrait = relighting.load_portrait(tmp_path / "a.jpg", None, None, True, str(model))
    assert 0.5 < portrait.mm_per_pixel < 2.0  # a 155 mm head about 100-200 px wide


@pytest.mark.parametrize("spec,expect", [
    ("az=30", "both az= and el="),
    ("az=x,el=3", "az must be 1 number"),
    ("az=30,el=20,dir=0,0,1", "exactly one of"),
    ("dir=0,0", "dir takes 3"),
    ("pos=0,0,0", "must not be zero"),
    ("az=30,el=20,color=1,1", "color takes 3"),
    ("az=30,el=20,intensity=-1", "must not be negative"),
    ("az=30,el=20,glow=3", "unknown key 'glow'"),
    ("sideways", "expected key=value"),
    ("left,az=3,el=2", "direction comes from its calibration"),
])
def test_malformed_lights_are_refused(spec, expect):
    with pytest.raises(InputError, match=expect):
        relighting.parse_light(spec)


def test_light_specs_parse():
    s = relighting.parse_light("az=90,el=0,color=1,0.5,0.25,intensity=2")
    light = s.light(None, "x")
    np.testing.assert_allclose(light.direction, (1, 0, 0), atol=1e-12)
    assert light.intensity == 2 and light.color == (1, 0.5, 0.25)
    p = relighting.parse_light("pos=0,300,400").light(None, "x")
    assert p.reference_distance == pytest.approx(500.0)
    with pytest.raises(InputError, match="has no flashes"):
        relighting.parse_light("left").light(None, "me.jpg")


def test_default_ambient_is_the_helps():
    assert relighting.DEFAULT_AMBIENT == shared.DEFAULT_RELIGHT_AMBIENT


def bad_input_cases(capture: Path, tmp: Path) -> list[tuple[list, str]]:
    photo = tmp / "photo.png"
    cv2.imwrite(str(photo), np.full((64, 48, 3), 120, np.uint8))
    small = tmp / "small.normals.png"
    normalmap.write_png16(small, np.dstack([np.zeros((32, 32, 2)), np.ones((32, 32))]))
    colour16 = tmp / "colour16.png"  # a 16-bit colour photo passed as a normal map
    rng = np.random.default_rng(0)
    cv2.imwrite(str(colour16), rng.integers(0, 65535, (64, 48, 3)).astype(np.uint16))
    colour8 = tmp / "colour8.png"
    cv2.imwrite(str(colour8), rng.integers(0, 255, (64, 48, 3)).astype(np.uint8))
    env = tmp / "env.hdr"
    env.write_bytes(b"#?RADIANCE\nnot really\n")
    return [
        (["relight", capture, "--light", "az=30"], "both az= and el="),
        (["relight", capture, "--light", "top,intensity=x"], "intensity must be 1 number"),
        (["relight", capture, "--env", env], "env.hdr"),
        (["relight", capture, "--sh", "nope"], "studio"),
        (["relight", capture, "--ambient", "0.1,0.2"], "expected one number or R,G,B"),
        (["relight", photo, "--normals", small], "the normal map is 32×32, the photo 48×64"),
        (["relight", photo, "--normals", colour16], "not of unit length"),
        (["relight", photo, "--normals", colour8], "expected a 16-bit RGB normal map"),
        (["relight", photo, "--light", "az=1,el=1"], "give its normal map"),
        (["relight", photo, "--normals", small, "--light", "left"], "which has no flashes"),
        (["relight", capture, "--normals", small], "is a capture folder"),
        (["relight", tmp / "missing.jpg", "--predict"], "not found"),
    ]


def test_bad_inputs_are_refused_and_nothing_is_written(capture, tmp_path, capsys):
    for argv, expect in bad_input_cases(capture, tmp_path):
        before = snapshot(capture)
        out = tmp_path / "out"
        code, _, err = run(capsys, *argv, "--out", out)
        assert code == 2, (argv, err)
        assert expect in err, (argv, err)
        assert err.count("\n") == 1 and "Traceback" not in err
        assert not out.exists()
        assert snapshot(capture) == before


def test_an_output_folder_of_another_kind_is_refused(capture, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    before = snapshot(mine)
    code, _, err = run(capsys, "relight", capture, "--out", mine)
    assert code == 2 and "notes.txt" in err
    assert snapshot(mine) == before


def test_the_orbit_gif_keeps_a_portrait_s_colours(tmp_path):
    """A GIF holds 256 colours: the orbit's palette is made for its frames, so a face's
    tones come back within a few levels (imageio's default per-frame quantisation turned
    skin grey-green)."""
    from booth.lighting import write_gif

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:128, 0:128] / 127.0
    frames = []
    for k in range(8):  # a lit face's tones: warm skin from shadow to highlight, a blue shirt
        light = np.clip(0.15 + 0.85 * (0.5 + 0.5 * np.cos(np.pi * (x - k / 8.0))), 0, 1)
        skin = np.stack([0.85 * light, 0.6 * light, 0.48 * light], -1)
        skin[y > 0.8] = (0.2, 0.3, 0.6)
        frames.append(np.clip(skin * 255 + rng.normal(0, 1.0, skin.shape), 0, 255)
                      .astype(np.uint8))
    write_gif(tmp_path / "o.gif", frames)
    back = iio.mimread(tmp_path / "o.gif")
    assert len(back) == 8
    for a, b in zip(frames, back, strict=True):
        diff = np.asarray(b)[..., :3].astype(float) - a
        assert np.abs(diff).mean() < 3.0
        assert np.abs(diff.reshape(-1, 3).mean(0)).max() < 1.0  # no cast, no tint
