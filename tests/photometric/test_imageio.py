import cv2
import numpy as np
import pytest

from photometric import imageio
from photometric.errors import InputError
from photometric.lights import CHANNELS


def write_capture(folder, ext=".png", dtype=np.uint16, shape=(16, 12, 3)):
    folder.mkdir(exist_ok=True)
    for i, name in enumerate(CHANNELS):
        img = np.full(shape, (i + 1) * (40 if dtype == np.uint8 else 10000), dtype)
        cv2.imwrite(str(folder / f"{name}{ext}"), img)


def test_reads_rgb_in_channel_order(tmp_path):
    write_capture(tmp_path / "c")
    img = np.zeros((16, 12, 3), np.uint16)
    img[..., 0] = 7000  # OpenCV writes BGR: this is blue
    cv2.imwrite(str(tmp_path / "c" / "center.png"), img)
    cap = imageio.read_capture(tmp_path / "c")
    assert set(cap) == set(CHANNELS)
    assert cap["center"][0, 0].tolist() == [0, 0, 7000]  # RGB in memory
    assert cap["left"].dtype == np.uint16


def test_upper_case_extension_and_grey_images(tmp_path):
    write_capture(tmp_path / "c", ".PNG", np.uint8, (16, 12))
    cap = imageio.read_capture(tmp_path / "c")
    assert cap["top"].shape == (16, 12) and cap["top"].dtype == np.uint8


def test_two_files_for_one_channel_is_an_error(tmp_path):
    write_capture(tmp_path / "c")
    cv2.imwrite(str(tmp_path / "c" / "left.jpg"), np.zeros((16, 12, 3), np.uint8))
    with pytest.raises(InputError, match="more than one image for 'left'"):
        imageio.read_capture(tmp_path / "c")


def test_mixed_bit_depth_is_an_error(tmp_path):
    write_capture(tmp_path / "c")
    cv2.imwrite(str(tmp_path / "c" / "right.png"), np.full((16, 12, 3), 200, np.uint8))
    with pytest.raises(InputError, match="right.png: 8-bit"):
        imageio.read_capture(tmp_path / "c")
