"""booth predict: any portrait, full frame and crop, EXIF orientation, faces that are not."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest
import skimage.data
from PIL import Image

from booth.cli import main
from learning.prediction import read_portrait
from learning.trainer import Settings, train
from photometric.errors import InputError
from photometric.io import normalmap
from tests.conftest import mode


@pytest.fixture(scope="module")
def run(tmp_path_factory, small_dataset):
    root = tmp_path_factory.mktemp("predict")
    ds = root / "ds"
    shutil.copytree(small_dataset, ds)
    return train(ds, root / "run", Settings(epochs=1, batch=1, workers=0))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    img = Image.fromarray(skimage.data.astronaut())
    img.save(root / "astronaut.jpg", quality=95)
    # The same photo stored sideways with EXIF orientation 6 (displayed rotated 90° clockwise).
    exif = Image.Exif()
    exif[0x0112] = 6
    img.transpose(Image.Transpose.ROTATE_90).save(root / "sideways.jpg", quality=95,
                                                   exif=exif.tobytes())
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(root / "wall.png")
    return root


def test_a_portrait_s_normals_full_frame_and_crop(run, photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["predict", str(photos / "astronaut.jpg"), str(photos / "sideways.jpg"),
                 str(photos / "wall.png"), "--model", str(run), "--out", str(out),
                 "--device", "cpu"])
    said = capsys.readouterr().out
    assert code == 1  # the wall has no face
    assert "wall.png: no face found" in said and "2 of 3 photo(s) predicted" in said
    n = normalmap.read_png16(out / "astronaut.normals.png")
    mask = cv2.imread(str(out / "astronaut.mask.png"), cv2.IMREAD_UNCHANGED) > 0
    assert n.shape[:2] == (512, 512) and 0.02 < mask.mean() < 0.5
    np.testing.assert_allclose(np.linalg.norm(n[mask], axis=-1), 1.0, atol=2e-3)
    assert (n[~mask] == 0).all()
    npy = np.load(out / "astronaut.normals.npy")
    np.testing.assert_allclose(np.linalg.norm(npy[mask], axis=-1), 1.0, atol=1e-4)
    crop = normalmap.read_png16(out / "astronaut.crop.normals.png")
    assert crop.shape == (64, 64, 3)
    # The EXIF-rotated copy is read as displayed: the same face, the same normals.
    side = cv2.imread(str(out / "sideways.mask.png"), cv2.IMREAD_UNCHANGED) > 0
    assert side.shape == mask.shape and (side == mask).mean() > 0.98
    assert not list(out.glob("wall*"))


def test_portraits_of_any_format_are_read_as_rgb(tmp_path):
    grey16 = (np.linspace(0, 65535, 32 * 32).reshape(32, 32)).astype(np.uint16)
    Image.fromarray(grey16).save(tmp_path / "g16.png")
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255
    Image.fromarray(rgba).save(tmp_path / "clear.png")  # transparent: white shows
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).convert("CMYK").save(tmp_path / "c.jpg")
    assert read_portrait(tmp_path / "g16.png").shape == (32, 32, 3)
    assert read_portrait(tmp_path / "g16.png")[-1, -1].tolist() == [255, 255, 255]
    assert read_portrait(tmp_path / "clear.png")[0, 0].tolist() == [255, 255, 255]
    assert read_portrait(tmp_path / "c.jpg").dtype == np.uint8
    import pillow_heif

    pillow_heif.register_heif_opener()
    Image.fromarray(np.full((16, 24, 3), 200, np.uint8)).save(tmp_path / "phone.heic")
    assert read_portrait(tmp_path / "phone.heic").shape == (16, 24, 3)
    (tmp_path / "bad.jpg").write_bytes(b"not a photo")
    with pytest.raises(InputError, match="bad.jpg: not a readable photo"):
        read_portrait(tmp_path / "bad.jpg")


def test_nothing_to_predict_changes_nothing(run, photos, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["predict", str(photos / "wall.png"), "--model", str(run), "--out", str(out),
                 "--device", "cpu"]) == 2
    assert "no photo could be predicted" in capsys.readouterr().err
    assert not out.exists()
    missing = tmp_path / "nosuch.jpg"
    assert main(["predict", str(missing), "--model", str(run), "--out", str(out)]) == 2
    said = capsys.readouterr()
    assert f"{missing}: not found" in said.out + said.err
    assert str(missing) not in (said.out + said.err).replace(f"{missing}: not found", "")
    assert not out.exists()
    (tmp_path / "x.yaml").write_text("model: {in_channels: 5, base: 8, depth: 4}\n")
    (tmp_path / "x.safetensors").write_bytes(b"junk")
    assert main(["predict", str(photos / "astronaut.jpg"), "--model",
                 str(tmp_path / "x.safetensors"), "--out", str(out)]) == 2
    assert "x.safetensors" in capsys.readouterr().err and not out.exists()


def test_the_default_model_predicts_out_of_the_box(photos, tmp_path, capsys):
    """A fresh clone predicts at once: the shipped model (trained on simulated people)."""
    from learning.prediction import Predictor, default_model

    p = Predictor.load(default_model())
    assert p.encoding == "points" and p.size % 16 == 0
    out = tmp_path / "out"
    assert main(["predict", str(photos / "astronaut.jpg"), "--out", str(out),
                 "--device", "cpu"]) == 0
    n = normalmap.read_png16(out / "astronaut.normals.png")
    mask = cv2.imread(str(out / "astronaut.mask.png"), cv2.IMREAD_UNCHANGED) > 0
    np.testing.assert_allclose(np.linalg.norm(n[mask], axis=-1), 1.0, atol=2e-3)
    # A face seen from the front: its normals face the camera, on average.
    assert n[mask][:, 2].mean() > 0.5
    # what comes from a sitter's photo is the sitter's: owner-only
    assert all(mode(p) == 0o600 for p in out.iterdir()) and mode(out) == 0o700


def test_a_shipped_model_is_half_the_size_and_predicts_the_same(run, photos, tmp_path):
    """learning.shipping stores float16 weights; the normals move by hundredths of a degree."""
    from learning import shipping
    from learning.prediction import Predictor, model_path

    report = tmp_path / "report"
    report.mkdir()
    (report / "report.md").write_text("# held out\n")
    (report / "metrics.json").write_text("[]")
    out = shipping.ship(run, "tiny", report, recipe="booth train ...", folder=tmp_path)
    assert out.stat().st_size < 0.55 * (run / "best.safetensors").stat().st_size
    assert (tmp_path / "tiny.report.md").read_text() == "# held out\n"
    import yaml

    meta = yaml.safe_load((tmp_path / "tiny.yaml").read_text())
    assert meta["weights"] == "float16" and meta["recipe"] == "booth train ..."
    rgb = read_portrait(photos / "astronaut.jpg")
    full, half = Predictor.load(run).photo(rgb), Predictor.load(out).photo(rgb)
    both = full.mask & half.mask
    assert (full.mask == half.mask).mean() > 0.999
    cos = np.clip((full.normals[both] * half.normals[both]).sum(-1), -1, 1)
    assert np.degrees(np.arccos(cos)).mean() < 0.1
    # shipped models by name; a folder of that name comes first
    assert model_path("booth").name == "booth.safetensors"
    assert model_path(str(run)) == run
    with pytest.raises(InputError, match="nosuch.safetensors"):
        Predictor.load(model_path(str(tmp_path / "nosuch.safetensors")))
