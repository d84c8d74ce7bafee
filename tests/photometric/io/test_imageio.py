import io
import struct

import cv2
import numpy as np
import pytest

from photometric.errors import InputError
from photometric.io import imageio
from photometric.lights import CHANNELS
from tests.conftest import png_header_only


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


# --- every image checked whole at the door, and read as displayed ---------------------------

def smooth(h=48, w=64):
    """A non-square colour picture JPEG keeps well, with a block marking its top-left."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.dstack([x * 200 // w + 20, y * 200 // h + 20, np.full((h, w), 120)])
    img[: h // 4, : w // 4] = (250, 30, 30)
    return img.astype(np.uint8)


def jpeg(img=None, **save):
    from PIL import Image

    bio = io.BytesIO()
    Image.fromarray(smooth() if img is None else img).save(bio, format="JPEG", quality=95,
                                                          **save)
    return bio.getvalue()


def scan_start(data: bytes) -> int:
    """Where the entropy-coded data of the first scan begins."""
    sos = data.index(b"\xff\xda")
    return sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")


def with_exif_thumbnail(data: bytes, orientation: int) -> bytes:
    """``data`` with an APP1 EXIF block holding an Orientation tag and a JPEG thumbnail (whose
    own end marker comes before the main picture's scan)."""
    thumb = jpeg(smooth(12, 16))
    ifd0 = struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, orientation)
    ifd0 += struct.pack("<I", 26)  # next IFD: IFD1, thumbnail
    ifd1 = struct.pack("<H", 2) + struct.pack("<HHII", 0x0201, 4, 1, 56)
    ifd1 += struct.pack("<HHII", 0x0202, 4, 1, len(thumb)) + struct.pack("<I", 0)
    tiff = b"II*\x00" + struct.pack("<I", 8) + ifd0 + ifd1 + thumb
    payload = b"Exif\x00\x00" + tiff
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + app1 + data[2:]


def cuts(data: bytes) -> dict[str, bytes]:
    s = scan_start(data)
    return {"in the first marker": data[:3], "in the headers": data[:s // 2],
            "in the scan header": data[:s - 3], "at the scan start": data[:s],
            "mid scan": data[:(s + len(data)) // 2], "before EOI": data[:-2],
            "inside EOI": data[:-1]}


def test_cut_jpeg_is_an_error_naming_the_file(tmp_path):
    data = jpeg()
    for where, cut in cuts(data).items():
        with pytest.raises(InputError, match="cut.jpg: damaged") as exc:
            imageio.check_intact(cut, "cut.jpg")
        p = tmp_path / "cut.jpg"
        p.write_bytes(cut)
        with pytest.raises(InputError, match=r"cut\.jpg: damaged"):
            imageio.read_image(p)
        assert "truncated" in str(exc.value) or where == "in the first marker", where


def test_cut_message_says_what_is_wrong(tmp_path):
    p = tmp_path / "center.jpg"
    p.write_bytes(jpeg()[:-100])
    with pytest.raises(InputError) as exc:
        imageio.read_image(p)
    assert str(exc.value).startswith(f"{p}: damaged or truncated JPEG (no end-of-image marker)")
    assert "re-copy it" in str(exc.value)


def test_jpeg_padded_after_its_end_reads(tmp_path):
    data = jpeg()
    imageio.check_intact(data + b"\x00" * 1000, "x.jpg")
    (tmp_path / "a.jpg").write_bytes(data)
    (tmp_path / "b.jpg").write_bytes(data + b"\x00" * 1000 + b"\xff\xd8junk")
    a, b = imageio.read_image(tmp_path / "a.jpg"), imageio.read_image(tmp_path / "b.jpg")
    assert a.shape == (48, 64, 3) and a.dtype == np.uint8 and np.array_equal(a, b)


def test_exif_thumbnail_does_not_hide_a_cut_scan(tmp_path):
    data = with_exif_thumbnail(jpeg(), orientation=6)
    p = tmp_path / "thumb.jpg"
    p.write_bytes(data)
    assert imageio.read_image(p).shape == (64, 48, 3)  # whole, and rotated as displayed
    cut = data[:(scan_start(data) + len(data)) // 2]
    assert b"\xff\xd9" in cut  # the thumbnail's end marker is still there
    p.write_bytes(cut)
    with pytest.raises(InputError, match="thumb.jpg: damaged or truncated JPEG"):
        imageio.read_image(p)
    with pytest.raises(InputError, match="thumb.jpg"):
        imageio.check_intact(cut, "thumb.jpg")


# Displayed frame for each EXIF orientation, as np.rot90 turns (counter-clockwise).
@pytest.mark.parametrize("orientation, turns", [(1, 0), (3, 2), (6, -1), (8, 1)])
def test_exif_orientation_is_applied(tmp_path, orientation, turns):
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = orientation
    (tmp_path / "o.jpg").write_bytes(jpeg(exif=exif))
    img = imageio.read_image(tmp_path / "o.jpg").astype(np.int32)
    want = np.rot90(smooth(), turns).astype(np.int32)
    assert img.shape == want.shape
    assert np.abs(img - want).mean() < 3  # JPEG error only
    if turns:  # and not merely some frame of the right shape: the picture unturned differs
        wrong = (np.rot90(smooth(), -turns) if turns % 2 else smooth()).astype(np.int32)
        assert np.abs(img - wrong).mean() > 20


def encoded(ext, dtype, grey=False, pillow=False):
    img = smooth()[..., 0] if grey else smooth()
    img = img.astype(np.uint16) * 257 if dtype == np.uint16 else img
    if pillow:  # Pillow puts the TIFF directory first, OpenCV last: both must be checked
        from PIL import Image

        bio = io.BytesIO()
        Image.fromarray(img).save(bio, format="TIFF")
        return img, bio.getvalue()
    ok, buf = cv2.imencode(ext, img if grey else cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert ok
    return img, buf.tobytes()


LOSSLESS = [(".png", np.uint8, False, False), (".png", np.uint16, False, False),
            (".png", np.uint16, True, False), (".tif", np.uint8, False, False),
            (".tif", np.uint16, False, False), (".tif", np.uint16, True, True),
            (".tif", np.uint8, False, True), (".bmp", np.uint8, False, False)]


@pytest.mark.parametrize("ext, dtype, grey, pillow", LOSSLESS)
def test_cut_png_tiff_bmp_are_errors(tmp_path, ext, dtype, grey, pillow):
    img, data = encoded(ext, dtype, grey, pillow)
    p = tmp_path / f"pic{ext}"
    p.write_bytes(data)
    assert np.array_equal(imageio.read_image(p), img)  # whole: unchanged
    for n in (10, len(data) // 3, len(data) // 2, len(data) - 1):
        p.write_bytes(data[:n])
        with pytest.raises(InputError, match=rf"pic\{ext}: damaged"):
            imageio.read_image(p)
        with pytest.raises(InputError, match="cam.bin: damaged"):
            imageio.check_intact(data[:n], "cam.bin")


def every_cut(data: bytes):
    """Cut lengths: about a thousand through the file, and each of its last 64 bytes."""
    return sorted({*range(1, len(data), max(1, len(data) // 1000)),
                   *range(max(1, len(data) - 64), len(data))})


@pytest.mark.parametrize("kind", ["jpeg", "thumbnail", *(str(x) for x in LOSSLESS)],
                         ids=["jpeg", "thumbnail", *(f"{e}-{t.__name__}-{g}-{p}"
                                                      for e, t, g, p in LOSSLESS)])
def test_no_cut_passes_the_check(kind):
    if kind == "jpeg":
        data = jpeg()
    elif kind == "thumbnail":
        data = with_exif_thumbnail(jpeg(), 8)
    else:
        data = encoded(*next(x for x in LOSSLESS if str(x) == kind))[1]
    imageio.check_intact(data, "whole")
    for n in every_cut(data):
        with pytest.raises(InputError, match="^part: damaged"):
            imageio.check_intact(data[:n], "part")


@pytest.mark.parametrize("grey", [False, True])
def test_16bit_png_round_trip(tmp_path, grey):
    rng = np.random.default_rng(1)
    img = rng.integers(0, 65536, (20, 30) if grey else (20, 30, 3), dtype=np.uint16)
    imageio.write_image(tmp_path / "n.png", img)
    back = imageio.read_image(tmp_path / "n.png")
    assert back.dtype == np.uint16 and np.array_equal(back, img)


def test_alpha_is_dropped(tmp_path):
    img = np.dstack([smooth(), np.full((48, 64), 7, np.uint8)])
    cv2.imwrite(str(tmp_path / "a.png"), img)  # as written, BGRA
    assert np.array_equal(imageio.read_image(tmp_path / "a.png"), smooth()[..., ::-1])


def test_empty_and_non_image_files_are_errors(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.jpg: empty file \(0 bytes\)"):
        imageio.read_image(tmp_path / "empty.jpg")
    (tmp_path / "notes.png").write_text("hello, these are my notes\n")
    with pytest.raises(InputError, match=r"notes\.png: not a readable image .*b'hello, t'"):
        imageio.read_image(tmp_path / "notes.png")
    with pytest.raises(InputError, match="missing.png: file not found"):
        imageio.read_image(tmp_path / "missing.png")
    with pytest.raises(InputError, match="shot.jpg: empty file"):
        imageio.check_intact(b"", "shot.jpg")


def test_decode_image_checks_camera_bytes():
    data = jpeg()
    assert imageio.decode_image(data, "IMG_0001.JPG").shape == (48, 64, 3)
    with pytest.raises(InputError, match="IMG_0001.JPG: damaged or truncated JPEG"):
        imageio.decode_image(data[:-300], "IMG_0001.JPG")


# --- an image's size is read from its header, before it is decoded --------------------------

def test_a_huge_image_is_refused_from_its_header(tmp_path, monkeypatch):
    def no_decoding(*a, **k):
        raise AssertionError("decoded")

    p = tmp_path / "left.png"
    p.write_bytes(png_header_only(60000, 60000))
    monkeypatch.setattr(cv2, "imdecode", no_decoding)
    with pytest.raises(InputError) as exc:
        imageio.read_image(p)
    assert str(exc.value) == (f"{p}: 60000×60000 pixels is larger than the booth reads (at "
                              f"most {imageio.MAX_PIXELS // 10**6} megapixels)")


@pytest.mark.parametrize("kind", ["jpeg", "thumbnail", *(str(x) for x in LOSSLESS)],
                         ids=["jpeg", "thumbnail", *(f"{e}-{t.__name__}-{g}-{p}"
                                                      for e, t, g, p in LOSSLESS)])
def test_the_header_size_is_the_image_size(kind, monkeypatch):
    """Every format's width and height are read right: a limit one pixel under the image's
    refuses it, naming its size; the image's own size passes."""
    if kind == "jpeg":
        data = jpeg()
    elif kind == "thumbnail":  # the EXIF thumbnail's 16×12 is not the picture's size
        data = with_exif_thumbnail(jpeg(), 1)
    else:
        data = encoded(*next(x for x in LOSSLESS if str(x) == kind))[1]
    monkeypatch.setattr(imageio, "MAX_PIXELS", 64 * 48)
    assert imageio.decode_image(data, "pic").shape[:2] == (48, 64)
    monkeypatch.setattr(imageio, "MAX_PIXELS", 64 * 48 - 1)
    with pytest.raises(InputError, match=r"^pic: 64×48 pixels is larger than the booth"):
        imageio.check_intact(data, "pic")


def test_an_opencv_decoding_error_is_one_line_naming_the_file(monkeypatch):
    # Past the booth's limit, OpenCV's own (CV_IO_MAX_IMAGE_PIXELS) raises cv2.error.
    monkeypatch.setattr(imageio, "MAX_PIXELS", 10**12)
    with pytest.raises(InputError) as exc:
        imageio.decode_image(png_header_only(60000, 60000), "left.png")
    msg = str(exc.value)
    assert msg.startswith("left.png: PNG does not decode (OpenCV: ") and "\n" not in msg


def test_a_folder_is_not_an_image(tmp_path):
    (tmp_path / "face").mkdir()
    with pytest.raises(InputError, match=r"face: is a folder; expected an image file$"):
        imageio.read_image(tmp_path / "face")


def test_a_raw_file_is_read_as_a_camera_shows_it(tmp_path):
    """``read_image`` on a DNG (``booth landmarks center.dng``): LibRaw's linear decode in
    8-bit sRGB, close to the sRGB rendering of the linear image it was made from."""
    from photometric.io import camerafile
    from photometric.response import srgb_encode
    from photometric.sim import synthetic

    face = synthetic.face(0, 128)
    linear = synthetic.capture(face)["center"]
    (tmp_path / "center.dng").write_bytes(camerafile.encode_dng(linear))
    img = imageio.read_image(tmp_path / "center.dng")
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    want = np.rint(srgb_encode(linear) * 255)
    # On the skin: demosaicing errs at sharp edges (a glasses frame, the hairline) by design.
    assert np.abs(img.astype(float) - want)[face.parts == 1].mean() < 3.0


def test_raw_fast_demosaic_scales_and_converts_colour_as_libraw_does():
    """The default RAW decode (``photometric.io.demosaic.demosaic_mhc`` after LibRaw's unpacking)
    scales, white-balances, converts colour and clips exactly as LibRaw does: a flat field
    of any colour, clipped or dark, decodes to LibRaw's own values (every demosaicing
    agrees on a flat field away from the border)."""
    from photometric.io import camerafile

    for value in ((0.3, 0.5, 0.2), (0.9, 0.95, 0.99), (1.2, 0.4, 0.1), (0.0, 0.001, 0.002)):
        flat = np.ones((32, 48, 3), np.float32) * np.array(value, np.float32)
        data = camerafile.encode_dng(flat)
        ours = camerafile.decode_raw(data, "flat.dng")
        libraw = camerafile.decode_raw(data, "flat.dng", demosaic="LINEAR")
        assert ours.rgb.shape == libraw.rgb.shape == (32, 48, 3)
        assert ours.rgb.dtype == np.uint16 and ours.white_balance == libraw.white_balance
        assert np.array_equal(ours.rgb[2:-2, 2:-2], libraw.rgb[2:-2, 2:-2])


@pytest.mark.parametrize("orientation", [1, 3, 6, 8, 2])
def test_raw_fast_demosaic_turns_the_image_as_libraw_does(orientation):
    """Rotated shots come out as LibRaw turns them (within demosaicing's differences from
    AHD); a mirrored one, which the fast path does not handle, is LibRaw's AHD decode."""
    from photometric.io import camerafile
    from photometric.sim import synthetic

    linear = synthetic.capture(synthetic.face(0, 96))["left"][:, :64]
    data = camerafile.encode_dng(linear, camerafile.CameraInfo(orientation=orientation))
    ours = camerafile.decode_raw(data, "left.dng").rgb.astype(float)
    ahd = camerafile.decode_raw(data, "left.dng", demosaic="AHD").rgb.astype(float)
    assert ours.shape == ahd.shape == ((64, 96, 3) if orientation in (6, 8) else (96, 64, 3))
    diff = np.abs(ours - ahd).mean() / 65535
    assert diff < 0.005
    assert (diff == 0) == (orientation == 2)
