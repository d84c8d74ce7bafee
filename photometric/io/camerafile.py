"""What a camera writes, both ways: JPEG and RAW (DNG) files.

Writing is for the simulated camera, so that the booth is tested on the files a real camera
makes: an sRGB JPEG at camera quality with EXIF (make, model, serial number, orientation),
and a DNG holding a Bayer mosaic with black and white levels, a colour matrix and the
as-shot white balance, which LibRaw reads like any camera's RAW. Reading RAW is for
everyone: :func:`decode_raw` turns any RAW LibRaw knows (DNG, NEF, CR2, CR3, ARW, ...) into
linear 16-bit RGB, with no tone curve, no auto-brightening and a white balance the caller
fixes for a whole capture.

Libraries: Pillow encodes JPEG and its EXIF; tifffile writes the DNG's TIFF structure with
the DNG tags; rawpy is LibRaw.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from photometric.errors import InputError
from photometric.response import srgb_encode

#: File extensions of camera RAW formats (LibRaw reads them all); lower case.
RAW_EXTENSIONS = (".dng", ".nef", ".nrw", ".cr2", ".cr3", ".crw", ".arw", ".srf", ".sr2",
                  ".orf", ".raf", ".rw2", ".pef", ".srw", ".x3f", ".3fr", ".iiq", ".erf",
                  ".mef", ".mos", ".kdc", ".dcr")
JPEG_EXTENSIONS = (".jpg", ".jpeg")

#: Linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1.
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])


@dataclass(frozen=True)
class CameraInfo:
    """What a camera writes about itself into its files."""

    make: str = "Photometric Booth"
    model: str = "Simulated DSLR"
    serial: str = "SIM00000001"
    orientation: int = 1  # EXIF: 1 = as stored


@dataclass(frozen=True)
class Sensor:
    """A RAW sensor: black and white levels (14-bit here) and its colour response, given as
    the camera-RGB values of a white object (the DNG's AsShotNeutral): the green-heavy
    response of a real Bayer sensor under flash."""

    black: int = 512
    white: int = 16383
    neutral: tuple[float, float, float] = (0.48, 1.0, 0.66)


def is_raw_name(name: str) -> bool:
    return any(name.lower().endswith(ext) for ext in RAW_EXTENSIONS)


# -- writing (the simulated camera) ----------------------------------------------------------
def encode_jpeg(linear: np.ndarray, info: CameraInfo = CameraInfo(), quality: int = 95) -> bytes:
    """A camera JPEG of a linear RGB image (float, [0, 1]): sRGB tone curve, 8 bit, 4:2:2
    chroma (what DSLRs write at their finest setting), EXIF with ``info``."""
    from PIL import Image

    code = np.rint(srgb_encode(linear) * 255.0).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F] = info.make
    exif[0x0110] = info.model
    exif[0x0112] = info.orientation
    sub = exif.get_ifd(0x8769)  # the Exif IFD
    sub[0xA431] = info.serial  # BodySerialNumber
    sub[0xA001] = 1  # ColorSpace: sRGB
    buf = io.BytesIO()
    Image.fromarray(code, "RGB").save(buf, "JPEG", quality=quality, subsampling=1,
                                      exif=exif.tobytes())
    return buf.getvalue()


def _rational(v: float) -> tuple[int, int]:
    f = Fraction(float(v)).limit_denominator(100000)
    return f.numerator, f.denominator


def bayer_mosaic(rgb: np.ndarray) -> np.ndarray:
    """RGGB mosaic (H, W) of an (H, W, 3) image: each photosite keeps one colour."""
    h, w = rgb.shape[:2]
    out = np.empty((h, w), rgb.dtype)
    out[0::2, 0::2] = rgb[0::2, 0::2, 0]
    out[0::2, 1::2] = rgb[0::2, 1::2, 1]
    out[1::2, 0::2] = rgb[1::2, 0::2, 1]
    out[1::2, 1::2] = rgb[1::2, 1::2, 2]
    return out


def encode_dng(linear: np.ndarray, info: CameraInfo = CameraInfo(),
               sensor: Sensor = Sensor()) -> bytes:
    """A DNG of a linear RGB image (float, [0, 1], linear sRGB primaries): the camera sees
    ``neutral × rgb`` per colour, mosaicked RGGB and quantised between the sensor's black and
    white levels. Its ColorMatrix1 maps XYZ to that camera space, so a RAW converter
    (LibRaw) with the as-shot white balance gives the linear image back."""
    import tifffile

    h, w = linear.shape[:2]
    if h % 2 or w % 2:
        raise ValueError(f"a Bayer image needs even dimensions, got {w}×{h}")
    neutral = np.asarray(sensor.neutral, np.float64)
    camera = np.clip(np.asarray(linear, np.float64) * neutral, 0.0, 1.0)
    raw = np.rint(sensor.black + bayer_mosaic(camera) * (sensor.white - sensor.black))
    cm = np.diag(neutral) @ np.linalg.inv(SRGB_TO_XYZ)  # XYZ -> camera RGB
    tags = [
        (50706, "B", 4, (1, 4, 0, 0), True),  # DNGVersion
        (50707, "B", 4, (1, 1, 0, 0), True),  # DNGBackwardVersion
        (50708, "s", 0, f"{info.make} {info.model}", True),  # UniqueCameraModel
        (33421, "H", 2, (2, 2), True),  # CFARepeatPatternDim
        (33422, "B", 4, (0, 1, 1, 2), True),  # CFAPattern: R G / G B
        (50714, "H", 1, (sensor.black,), True),  # BlackLevel
        (50717, "H", 1, (sensor.white,), True),  # WhiteLevel
        (50721, "2i", 9, tuple(x for v in cm.ravel() for x in _rational(v)), True),
        (50778, "H", 1, (21,), True),  # CalibrationIlluminant1: D65
        (50728, "2I", 3, tuple(x for v in neutral for x in _rational(v)), True),
        (50735, "s", 0, info.serial, True),  # CameraSerialNumber
        (271, "s", 0, info.make, True),
        (272, "s", 0, info.model, True),
        (274, "H", 1, (info.orientation,), True),
    ]
    buf = io.BytesIO()
    tifffile.imwrite(buf, raw.astype(np.uint16), photometric=32803, compression=None,
                     extratags=tags, subfiletype=0, metadata=None)
    return buf.getvalue()


def pad(data: bytes, size: int) -> bytes:
    """``data`` followed by zeros up to ``size`` bytes. Readers ignore bytes after a JPEG's
    end-of-image marker and after a TIFF's last strip: libgphoto2's virtual camera serves a
    file of one constant size per connection, and this keeps the file a valid image."""
    if len(data) > size:
        raise ValueError(f"{len(data)} bytes do not fit in {size}")
    return data + bytes(size - len(data))


# -- reading (everyone) ----------------------------------------------------------------------
#: How full-size decodes demosaic: "MHC", Malvar-He-Cutler gradient-corrected bilinear
#: filters after LibRaw's own scaling, in one numba pass (:func:`_decode_bayer`), for RAW
#: files with a plain 2×2 Bayer mosaic; other files, and any other value (a
#: ``rawpy.DemosaicAlgorithm`` name), go through LibRaw's pipeline, with AHD for "MHC".
#:
#: Why: LibRaw takes about 2.0 s per 24 MP frame with AHD on one core of the 2-core machine,
#: so a five-shot RAW capture waited 10 s before its normals. Its faster demosaics do not
#: help enough, nor keep the accuracy: bilinear and PPG still take ~0.95 s (the rest of its
#: pipeline, a 4-channel copy, scaling and colour passes, is most of it); bilinear blurs
#: the decoded image past the radiometry test's 0.005 mean error against the render, PPG
#: lifts the RAW normals' error past its 1° bound (1.01° against AHD's 0.98°); half-size
#: decoding halves the normal map's resolution. Here: about 0.3 s, LibRaw's unpacking
#: included, the same scaling, colour matrix and clipping as LibRaw (a flat field decodes
#: to LibRaw's values exactly), and on the simulated person's DNG captures normals 0.01-0.08°
#: more accurate than AHD's (256² to 1024², with and without sensor noise), the decoded
#: image 0.0042 of full scale from the render against AHD's 0.0036.
DEMOSAIC = "MHC"

@dataclass
class RawImage:
    """A RAW file decoded to linear light: ``rgb`` (H, W, 3) uint16, white level 65535;
    ``white_balance`` the R, G, B multipliers applied (the capture's fixed choice)."""

    rgb: np.ndarray
    white_balance: tuple[float, float, float]


def as_shot_white_balance(data: bytes, name: str) -> tuple[float, float, float]:
    """The RAW file's as-shot white balance (R, G, B multipliers, G = 1); the camera's
    daylight balance when it recorded none; unity when it has neither."""
    with open_raw(data, name) as raw:
        return as_shot(raw)


def as_shot(raw) -> tuple[float, float, float]:
    """:func:`as_shot_white_balance` of a file :func:`open_raw` opened."""
    for wb in (raw.camera_whitebalance, raw.daylight_whitebalance):
        r, g, b = float(wb[0]), float(wb[1]), float(wb[2])
        if r > 0 and g > 0 and b > 0:
            return (r / g, 1.0, b / g)
    return (1.0, 1.0, 1.0)


def open_raw(data: bytes, name: str):
    """A RAW file's bytes opened by LibRaw (rawpy), to use in a ``with`` block."""
    import rawpy

    try:
        return rawpy.imread(io.BytesIO(data))
    except (rawpy.LibRawError, ValueError, OSError) as exc:
        raise InputError(f"{name}: not a RAW file LibRaw can read ({type(exc).__name__}: "
                         f"{exc}); re-copy it from the camera") from None


def decode_raw(data: bytes, name: str,
               white_balance: tuple[float, float, float] | None = None,
               max_pixels: int | None = None, half_size: bool = False,
               demosaic: str = DEMOSAIC) -> RawImage:
    """Decode a RAW file to linear 16-bit RGB in sRGB primaries, as displayed (the camera's
    orientation applied): no gamma, no auto-brightening, highlights clipped at the white
    level (65535). ``demosaic``: :data:`DEMOSAIC` (see there why), or the name of one of
    LibRaw's algorithms (``rawpy.DemosaicAlgorithm``: "AHD" is how RAW files were decoded
    before). ``white_balance`` (R, G, B multipliers) is applied as given; None takes the
    file's as-shot balance. Give every shot of a capture the same balance: a per-shot
    automatic one would change the ratios between flashes. ``half_size``: each 2×2 Bayer
    cell becomes one pixel, no demosaicing (the capture's quick check of a shot). The white
    level is the file's, never LibRaw's data-dependent guess (``adjust_maximum_thr=0``):
    that would rescale a frame whose brightest pixel is past 75 % of the range. LibRaw and
    the numba demosaicing release the GIL, so shots decode in parallel on threads."""
    with open_raw(data, name) as raw:
        return decode_opened(raw, name, white_balance, max_pixels, half_size, demosaic)


def decode_opened(raw, name: str, white_balance: tuple[float, float, float] | None = None,
                  max_pixels: int | None = None, half_size: bool = False,
                  demosaic: str = DEMOSAIC) -> RawImage:
    """:func:`decode_raw` of a file :func:`open_raw` opened: one whose as-shot balance was
    read first (reading it unpacks the mosaic, ~0.1 s at 24 MP) is not unpacked twice."""
    import rawpy

    wb = white_balance or as_shot(raw)
    if max_pixels is not None and raw.sizes.width * raw.sizes.height > max_pixels:
        raise InputError(f"{name}: {raw.sizes.width}×{raw.sizes.height} pixels is larger "
                         f"than the booth reads (at most {max_pixels // 10**6} megapixels)")
    try:
        rgb = None
        if demosaic == "MHC" and not half_size:
            rgb = _decode_bayer(raw, wb)
        if rgb is None:
            rgb = raw.postprocess(
                gamma=(1, 1), no_auto_bright=True, output_bps=16,
                user_wb=[wb[0], wb[1], wb[2], wb[1]], output_color=rawpy.ColorSpace.sRGB,
                highlight_mode=rawpy.HighlightMode.Clip,
                demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm,
                                           "AHD" if demosaic == "MHC" else demosaic),
                half_size=half_size, adjust_maximum_thr=0.0)
    except (rawpy.LibRawError, ValueError, OSError) as exc:
        raise InputError(f"{name}: LibRaw could not decode it ({type(exc).__name__}: "
                         f"{exc}); re-copy it from the camera") from None
    return RawImage(np.ascontiguousarray(rgb), (float(wb[0]), float(wb[1]), float(wb[2])))


#: LibRaw's orientations (``sizes.flip``) that :func:`_decode_bayer` applies: none, 180°,
#: 90° counter-clockwise, 90° clockwise, as ``np.rot90``'s k.
_ROTATIONS = {0: 0, 3: 2, 5: 1, 6: -1}


def _decode_bayer(raw, wb: tuple[float, float, float]) -> np.ndarray | None:
    """An unpacked rawpy file as :func:`decode_raw` with LibRaw would give it, but
    demosaiced by :func:`photometric.io.demosaic.demosaic_mhc`; None unless it is a plain RGB
    Bayer mosaic (one red, one blue and two greens per 2×2 cell, square pixels, an orientation of
    :data:`_ROTATIONS`), which LibRaw then decodes.

    LibRaw's steps, as its ``scale_colors`` and ``convert_to_rgb`` do them with
    ``highlight_mode`` Clip, no auto-brightening and linear output: the black level per
    channel subtracted; the multipliers normalised to the smallest (so that 1 stays 1 and
    clipped highlights stay white) times 65535 / (white level - black level), in float32,
    truncated and clipped; after demosaicing, the camera-to-sRGB matrix (``rgb_cam``),
    truncated and clipped to 0-65535."""
    import rawpy

    from photometric.io import demosaic

    s = raw.sizes
    visible = raw.raw_image_visible
    colours = np.array([[raw.raw_color(s.top_margin + y, s.left_margin + x) for x in (0, 1)]
                        for y in (0, 1)])  # raw_colors_visible would colour every pixel
    if (raw.raw_type != rawpy.RawType.Flat or raw.num_colors != 3
            or bytes(raw.color_desc) != b"RGBG" or raw.raw_pattern.shape != (2, 2)
            or sorted(colours.ravel().tolist()) != [0, 1, 2, 3] or s.pixel_aspect != 1
            or s.flip not in _ROTATIONS or min(visible.shape) < 5
            or visible.shape != (s.height, s.width)):
        return None
    colour = np.where(colours == 3, 1, colours).astype(np.int64)
    black_c = np.asarray(raw.black_level_per_channel, np.int64)
    white = float(raw.white_level)
    black = black_c[colours].astype(np.int32)
    maximum = white - float(black_c.min())
    if maximum <= 0:
        return None
    pre = np.array([wb[0], wb[1], wb[2], wb[1]], np.float32).astype(np.float64)
    pre = (pre / pre.min()).astype(np.float32).astype(np.float64)  # LibRaw's float pre_mul
    scale = (pre * 65535.0 / maximum).astype(np.float32)[colours]
    cam = np.ascontiguousarray(np.asarray(raw.color_matrix)[:, :3], np.float32)
    h, w = visible.shape
    out = np.empty((h, w * 3), np.uint16)
    demosaic.demosaic_mhc(np.ascontiguousarray(visible), colour, black, scale, cam, out)
    rgb = out.reshape(h, w, 3)
    k = _ROTATIONS[s.flip]
    return np.ascontiguousarray(np.rot90(rgb, k)) if k else rgb
