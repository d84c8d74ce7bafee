"""A sitter's photo carries where and with what it was taken (EXIF: GPS, the camera's serial
number, its owner): nothing the booth writes from it carries them on, read back from the
files themselves; and every file is owner-only."""

from __future__ import annotations

import stat

import numpy as np
import pytest
from PIL import Image

from booth.cli import main

SERIAL = "SN-4242-PRIVATE"
OWNER = "Ada Sitter"


@pytest.fixture(scope="module")
def tagged(tmp_path_factory):
    """The astronaut, as a phone would save her: GPS position, serial number, owner."""
    import skimage.data

    path = tmp_path_factory.mktemp("tagged") / "portrait.jpg"
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x013B] = OWNER  # Artist
    ifd = exif.get_ifd(0x8769)  # Exif IFD
    ifd[0xA431] = SERIAL  # BodySerialNumber
    ifd[0xA430] = OWNER  # CameraOwnerName
    gps = exif.get_ifd(0x8825)  # GPS IFD
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)
    gps[3], gps[4] = "E", (2.0, 17.0, 40.0)
    Image.fromarray(skimage.data.astronaut()).save(path, exif=exif, quality=92)
    with Image.open(path) as im:  # the tags are there to be lost
        assert im.getexif().get_ifd(0x8825) and SERIAL.encode() in path.read_bytes()
    return path


def _clean(folder):
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert files
    for p in files:
        data = p.read_bytes()
        for secret in (SERIAL, OWNER, "PhoneMaker"):
            assert secret.encode() not in data, (p, secret)
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp"):
            with Image.open(p) as im:
                exif = im.getexif()
                assert not exif.get_ifd(0x8825) and 0xA431 not in exif.get_ifd(0x8769), p
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    return files


def test_predictions_carry_no_exif_of_the_photo(tagged, tmp_path):
    out = tmp_path / "pred"
    assert main(["predict", str(tagged), "--out", str(out), "--device", "cpu"]) == 0
    names = {p.name for p in _clean(out)}
    assert "portrait.normals.png" in names


def test_relit_pictures_carry_no_exif_of_the_photo(tagged, tmp_path):
    out = tmp_path / "relit"
    assert main(["relight", str(tagged), "--predict", "--light", "az=40,el=20", "--orbit", "4",
                 "--out", str(out)]) == 0
    names = {p.name for p in _clean(out)}
    assert {"relit.png", "relight.yaml"} <= names
    # and the picture is the photo relit, not blank
    with Image.open(out / "relit.png") as im:
        assert np.asarray(im).std() > 10


def test_an_exported_dataset_carries_no_exif_of_the_photos(tmp_path):
    """People whose photos carry EXIF (as a camera's would), exported as a training set."""
    from booth.population import simulate_people

    people = tmp_path / "people"
    simulate_people(people, 2, seed=3, size=128, lighting="portrait")
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0xA431] = SERIAL
    exif.get_ifd(0x8825)[1] = "N"
    exif[0x013B] = OWNER
    for photo in people.glob("*/portrait.jpg"):
        with Image.open(photo) as im:
            im.load()
            im.save(photo, exif=exif, quality=95)
        assert SERIAL.encode() in photo.read_bytes()
    out = tmp_path / "ds"
    assert main(["export", str(people), "--out", str(out), "--framing", "person", "--size",
                 "64"]) == 0
    _clean(out)
