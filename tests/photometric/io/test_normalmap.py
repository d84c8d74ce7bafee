import numpy as np
import pytest

from photometric.errors import InputError
from photometric.io import normalmap


def random_normals(shape=(64, 48), seed=0):
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(*shape, 3)).astype(np.float32)
    n[..., 2] = np.abs(n[..., 2])
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    mask = rng.random(shape) > 0.2
    n[~mask] = 0
    return n, mask


def test_png16_round_trip_within_quantisation(tmp_path):
    n, mask = random_normals()
    path = tmp_path / "normals.png"
    normalmap.write_png16(path, n, mask)
    back = normalmap.read_png16(path)
    assert back.dtype == np.float32 and back.shape == n.shape
    assert np.abs(back - n)[mask].max() <= 1.0 / 65535 + 1e-7  # half a step of 2/65535
    assert (back[~mask] == 0).all()


def test_png16_encoding_is_the_documented_one(tmp_path):
    enc = normalmap.encode16(np.array([[[0.0, 0.0, 1.0], [-1.0, 1.0, 0.0]]], np.float32))
    assert enc.tolist() == [[[32768, 32768, 65535], [0, 65535, 32768]]]
    import cv2

    path = tmp_path / "n.png"
    normalmap.write_png16(path, np.array([[[1.0, 0.0, 0.0]]], np.float32))
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16 and raw[0, 0].tolist() == [32768, 32768, 65535]  # BGR


def test_npy_round_trip_is_exact(tmp_path):
    n, _ = random_normals()
    normalmap.write_npy(tmp_path / "n.npy", n)
    np.testing.assert_array_equal(normalmap.read_npy(tmp_path / "n.npy"), n)


def test_preview8():
    n, mask = random_normals()
    img = normalmap.preview8(n, mask, background=7)
    assert img.dtype == np.uint8 and img.shape == n.shape
    assert (img[~mask] == 7).all()
    assert img[mask].min() >= 0 and img[..., 2][mask].min() >= 127  # z >= 0


def test_reading_bad_files(tmp_path):
    (tmp_path / "junk.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="junk.png"):
        normalmap.read_png16(tmp_path / "junk.png")
    import cv2

    cv2.imwrite(str(tmp_path / "eight.png"), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match="16-bit"):
        normalmap.read_png16(tmp_path / "eight.png")
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(InputError, match="H, W, 3"):
        normalmap.read_npy(tmp_path / "flat.npy")
