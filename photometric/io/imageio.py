"""Reading and writing capture images: the one place where OpenCV's BGR becomes RGB.

Captures on disk are ``center left right top bottom [ambient]``: camera JPEGs, camera RAW
files (``.dng``, ``.nef``, ``.cr2``, ... : any LibRaw reads), or both for each shot; or .png
and .tif(f) images, 8 or 16 bit, colour or grey, which are taken as linear (what a RAW
converter's linear export or ``booth simulate`` writes). Every file is checked whole before it
is decoded (a cut JPEG decodes, half grey, without an error) and read as displayed, with its
orientation applied.

:func:`load_capture` is where pixels become proportional to light (DESIGN.md, "Images in
memory"): RAW through LibRaw with no tone curve and one white balance for the whole capture,
JPEG through the camera's response (sRGB's inverse until calibration fits one), and RAW
preferred when a shot has both. Images stay integer arrays (uint16 for RAW and JPEG): no
float copy, so a 24 MP capture stays 430 MB, not 1.7 GB.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from photometric.errors import InputError
from photometric.io import camerafile
from photometric.lights import CHANNELS
from photometric.response import CLIP_LEVEL, SRGB, Response, encode_srgb8, linearize

#: Images OpenCV decodes.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: Every photo a capture may hold: those, and camera RAW files.
EXTENSIONS = IMAGE_EXTENSIONS + camerafile.RAW_EXTENSIONS


def find_files(folder: Path, name: str) -> dict[str, Path]:
    """Channel ``name``'s files in ``folder``: ``{"image": ..., "raw": ...}``, each present
    when there is one (a camera set to RAW+JPEG writes both). Matching on the listing, not
    by probing names, keeps a case-insensitive file system from reporting one file twice."""
    found: dict[str, list[Path]] = {"image": [], "raw": []}
    for p in sorted(folder.iterdir()):
        stem, ext = p.name[: -len(p.suffix)] if p.suffix else p.name, p.suffix.lower()
        if stem.lower() == name and ext in EXTENSIONS and p.is_file():
            found["raw" if ext in camerafile.RAW_EXTENSIONS else "image"].append(p)
    for kind, paths in found.items():
        if len(paths) > 1:
            raise InputError(f"{folder}: more than one {'RAW file' if kind == 'raw' else 'image'}"
                             f" for '{name}' ({', '.join(p.name for p in paths)}); keep one")
    return {kind: paths[0] for kind, paths in found.items() if paths}


def find_image(folder: Path, name: str) -> Path | None:
    """The file to show for channel ``name`` (its image, else its RAW file), or None."""
    files = find_files(folder, name)
    return files.get("image") or files.get("raw")


#: Decode flags: keep 8/16 bit and grey-or-colour like IMREAD_UNCHANGED, but unlike it apply
#: the EXIF orientation (a portrait-held camera's photo is read as displayed) and drop alpha.
DECODE_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
#: Larger than any photo the booth takes (24 MP, 16-bit RGB TIFF is 144 MB); a guard, not a
#: format limit.
MAX_FILE_BYTES = 1 << 30
#: The most pixels an image may have, read from its header before decoding: the largest
#: camera sensors are ~100 MP. A few MB of PNG can declare 60000×60000 pixels, which would
#: take gigabytes to decode (or fail inside OpenCV).
MAX_PIXELS = 200_000_000

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # length 0, type, fixed CRC: always these bytes
_MAGIC = ((b"\xff\xd8\xff", "jpeg"), (_PNG_SIGNATURE, "png"), (b"II*\x00", "tiff"),
          (b"MM\x00*", "tiff"), (b"II+\x00", "tiff"), (b"MM\x00+", "tiff"), (b"BM", "bmp"))
#: JPEG start-of-frame markers (SOF0-SOF15 less DHT, JPG and DAC, which share the range).
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
#: Bytes per value of each TIFF field type (BYTE ASCII SHORT LONG RATIONAL ... IFD8).
_TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
                    13: 4, 16: 8, 17: 8, 18: 8}
_AGAIN = "re-copy it from the camera (or wherever it came from)"


def image_format(data: bytes) -> str | None:
    """'jpeg', 'png', 'tiff' or 'bmp' from the first bytes, never the file name (libgphoto2's
    virtual camera names every file .JPG, DNGs included; captures made before camera files
    were simulated hold BMP named .jpg), or None."""
    for magic, kind in _MAGIC:
        if data[:len(magic)] == magic:
            return kind
    return None


def check_intact(data: bytes, name: str) -> None:
    """Raise InputError naming ``name`` unless ``data`` is a whole PNG, JPEG, TIFF or BMP.

    Decoders accept a cut file: libjpeg warns and returns the top of the picture, grey below,
    and photometric stereo would then run on half a face. So the file's structure is checked
    before decoding, from its own length fields, with no pass over the pixels (a few
    microseconds to ~1 ms on a 24 MP photo). The width and height its header declares are
    checked too (at most :data:`MAX_PIXELS`), so that a small file cannot make the decoder
    allocate gigabytes.
    """
    if not data:
        raise InputError(f"{name}: empty file (0 bytes); expected a PNG, JPEG or TIFF image")
    kind = image_format(data)
    cut = [k for magic, k in _MAGIC if len(data) < len(magic) and magic.startswith(data)]
    if kind is None and cut:
        raise InputError(f"{name}: damaged or truncated {cut[0].upper()} (only {len(data)} "
                         f"bytes); {_AGAIN}")
    if kind is None:
        raise InputError(f"{name}: not a readable image (expected PNG, JPEG or TIFF; the file "
                         f"starts with {bytes(data[:8])!r})")
    try:
        width, height = {"jpeg": _check_jpeg, "png": _check_png, "tiff": _check_tiff,
                         "bmp": _check_bmp}[kind](data, name)
    except struct.error:  # a length field points past the end
        raise InputError(f"{name}: damaged or truncated {kind.upper()} (ends inside its "
                         f"headers); {_AGAIN}") from None
    if width * height > MAX_PIXELS:
        raise InputError(f"{name}: {width}×{height} pixels is larger than the booth reads (at "
                         f"most {MAX_PIXELS // 10**6} megapixels)")


def _check_jpeg(data: bytes, name: str) -> tuple[int, int]:
    """Walk the marker segments by their lengths to the first scan (so an EXIF thumbnail's own
    end marker is skipped), then require an end-of-image marker after it. Entropy-coded data
    never holds FF D9 (an FF there is followed by 00 or a restart marker), and bytes after the
    end marker (padding, a camera's second picture) are allowed. Returns the frame header's
    width and height."""
    n, pos, frame = len(data), 2, False
    size = (0, 0)
    while True:
        if pos + 2 > n:
            raise InputError(f"{name}: damaged or truncated JPEG (ends inside its headers); "
                             f"{_AGAIN}")
        if data[pos] != 0xFF:
            raise InputError(f"{name}: damaged JPEG (no marker at byte {pos}); {_AGAIN}")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # segments without a length
            pos += 2
            continue
        if marker in (0xD8, 0xD9):
            raise InputError(f"{name}: damaged JPEG (no image data before its end marker); "
                             f"{_AGAIN}")
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if length < 2:
            raise InputError(f"{name}: damaged JPEG (bad segment length at byte {pos}); "
                             f"{_AGAIN}")
        if marker in _JPEG_SOF and not frame:
            height, width = struct.unpack_from(">HH", data, pos + 5)  # after the precision
            size = (width, height)
        frame |= marker in _JPEG_SOF
        pos += 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
    if not frame:
        raise InputError(f"{name}: damaged JPEG (scan without a frame header); {_AGAIN}")
    if pos > n or data.rfind(b"\xff\xd9", pos) < 0:
        raise InputError(f"{name}: damaged or truncated JPEG (no end-of-image marker); "
                         f"{_AGAIN}")
    return size


def _check_png(data: bytes, name: str) -> tuple[int, int]:
    """An IHDR first and an IEND chunk (12 fixed bytes) after it; IHDR's width and height."""
    if data[12:16] != b"IHDR":
        raise InputError(f"{name}: damaged PNG (no IHDR header); {_AGAIN}")
    if data.rfind(_PNG_IEND, 33) < 0:
        raise InputError(f"{name}: damaged or truncated PNG (no IEND chunk); {_AGAIN}")
    width, height = struct.unpack_from(">II", data, 16)
    return width, height


def _check_tiff(data: bytes, name: str) -> tuple[int, int]:
    """The first image directory and every value it points to lie inside the file, and so
    does the end of its last strip (or tile): the file was not cut. Classic and BigTIFF.
    Returns the first image's width and height (tags 256 and 257)."""
    bo = "<" if data[:2] == b"II" else ">"
    big = struct.unpack_from(bo + "H", data, 2)[0] == 43
    word, entry, inline = ("Q", 20, 8) if big else ("I", 12, 4)
    count_fmt = "Q" if big else "H"
    (ifd,) = struct.unpack_from(bo + word, data, 8 if big else 4)
    (entries,) = struct.unpack_from(bo + count_fmt, data, ifd)
    first = ifd + struct.calcsize(count_fmt)
    if first + entries * entry + inline > len(data):  # entries and the next-IFD pointer
        raise struct.error
    arrays: dict[int, np.ndarray] = {}
    dims = {256: 0, 257: 0}
    for i in range(entries):  # a dozen or two tags
        at = first + i * entry
        tag, typ = struct.unpack_from(bo + "HH", data, at)
        (num,) = struct.unpack_from(bo + word, data, at + 4)
        size = num * _TIFF_TYPE_SIZES.get(typ, 0)  # readers skip unknown types
        where = at + 4 + inline
        if size > inline:
            (where,) = struct.unpack_from(bo + word, data, where)
            if where + size > len(data):
                raise struct.error
        if tag in (273, 279, 324, 325) and typ in (3, 4, 16) and num:  # strips/tiles
            arrays[tag] = np.frombuffer(data, np.dtype(f"{bo}u{size // num}"), num, where)
        if tag in dims and typ in (3, 4, 16) and num:  # ImageWidth, ImageLength
            (dims[tag],) = struct.unpack_from(bo + {3: "H", 4: "I", 16: "Q"}[typ], data, where)
    for offsets, counts in ((273, 279), (324, 325)):
        if offsets in arrays and counts in arrays:
            o, c = arrays[offsets], arrays[counts]
            if len(o) != len(c):
                break
            if int((o.astype(np.uint64) + c.astype(np.uint64)).max()) > len(data):
                raise InputError(f"{name}: damaged or truncated TIFF (ends inside its image "
                                 f"data); {_AGAIN}")
            return dims[256], dims[257]
    raise InputError(f"{name}: damaged TIFF (no image data in its first directory); {_AGAIN}")


def _check_bmp(data: bytes, name: str) -> tuple[int, int]:
    """The pixel rows its header describes fit in the file; its width and height."""
    offset, header = struct.unpack_from("<II", data, 10)
    if header == 12:  # OS/2 header
        width, height, _, bpp = struct.unpack_from("<HHHH", data, 18)
        compression = 0
    else:
        width, height, _, bpp, compression, size = struct.unpack_from("<iiHHII", data, 18)
    if compression in (0, 3, 6):  # rows, uncompressed
        size = (abs(width) * bpp + 31) // 32 * 4 * abs(height)
    if offset + size > len(data):
        raise InputError(f"{name}: damaged or truncated BMP (ends inside its image data); "
                         f"{_AGAIN}")
    return abs(width), abs(height)


def decode_image(data: bytes, name: str) -> np.ndarray:
    """Image bytes (a file's, or a camera's) checked whole, decoded as displayed (EXIF
    orientation applied): RGB (H, W, 3) or grey (H, W), uint8 or uint16, alpha dropped."""
    check_intact(data, name)
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), DECODE_FLAGS)
    except cv2.error as exc:  # its message spans lines and names OpenCV's source, not the file
        why = " ".join(str(getattr(exc, "err", "") or exc).split())
        raise InputError(f"{name}: {image_format(data).upper()} does not decode (OpenCV: "
                         f"{why})") from None
    if img is None:
        raise InputError(f"{name}: damaged {image_format(data).upper()} (it does not decode); "
                         f"{_AGAIN}")
    if img.dtype not in (np.uint8, np.uint16):
        raise InputError(f"{name}: {img.dtype} pixels; expected 8 or 16 bit")
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.ndim == 3 and img.shape[2] == 3:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    elif img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    elif img.ndim != 2:
        raise InputError(f"{name}: unsupported layout {img.shape}")
    return img


def read_bytes(path: str | Path) -> bytes:
    """A photo file's bytes: a regular file, no larger than any photo the booth takes."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; expected an image file")
    if not p.exists():
        raise InputError(f"{p}: file not found")
    if not p.is_file():  # a FIFO or a device would block or never end
        raise InputError(f"{p}: not a regular file; expected an image file")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise InputError(f"{p}: {size / 2**20:.0f} MiB; larger than any photo the booth "
                         f"takes (limit {MAX_FILE_BYTES >> 20} MiB)")
    return p.read_bytes()


def read_image(path: str | Path) -> np.ndarray:
    """An image file as RGB (H, W, 3) or grey (H, W), uint8 or uint16, as displayed; a cut or
    damaged file is an InputError naming it. The bytes checked are the bytes decoded. A
    camera RAW file is shown as a camera would: LibRaw's linear decode in 8-bit sRGB."""
    if camerafile.is_raw_name(str(path)):
        return encode_srgb8(read_raw(path).rgb)
    return decode_image(read_bytes(path), str(path))


def read_raw(path: str | Path,
             white_balance: tuple[float, float, float] | None = None,
             demosaic: str = camerafile.DEMOSAIC) -> camerafile.RawImage:
    """A camera RAW file decoded to linear 16-bit RGB (see :func:`camerafile.decode_raw`,
    ``demosaic`` its LibRaw demosaicing). A TIFF-based RAW (DNG, NEF, CR2, ARW, ...) is
    checked whole first, like any TIFF."""
    return camerafile.decode_raw(_raw_bytes(path), str(path), white_balance, MAX_PIXELS,
                                 demosaic=demosaic)


def _raw_bytes(path: str | Path) -> bytes:
    """A RAW file's bytes, checked whole first when it is TIFF-based."""
    data = read_bytes(path)
    if image_format(data) == "tiff":
        check_intact(data, str(path))
    return data


def write_image(path: str | Path, img: np.ndarray) -> None:
    """Write an RGB or grey uint8/uint16 image (PNG/TIFF keep 16 bit)."""
    out = cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img
    if not cv2.imwrite(str(path), out):
        raise OSError(f"{path}: could not write image")


def to_uint(img: np.ndarray, bits: int = 16) -> np.ndarray:
    """Float [0, 1] image to uint8/uint16 with rounding and clipping."""
    top = 255.0 if bits == 8 else 65535.0
    return np.rint(np.clip(img, 0.0, 1.0) * top).astype(np.uint8 if bits == 8 else np.uint16)


def to_float(img: np.ndarray) -> np.ndarray:
    """uint8/uint16 image to float32 in [0, 1]; a float image passes through (as float32)."""
    if img.dtype.kind == "u":
        return img.astype(np.float32) / float(np.iinfo(img.dtype).max)
    return img.astype(np.float32, copy=False)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Any image as 8 bits (for display or 8-bit-only libraries): uint8 as it is, uint16
    shifted, float [0, 1] rounded and clipped."""
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.uint16:
        return (img >> 8).astype(np.uint8)
    return to_uint(img, 8)


@dataclass
class LoadedCapture:
    """A capture's images made linear, and how.

    ``images``: channel -> image proportional to light (uint16 for RAW and JPEG, as stored for
    PNG/TIFF); ``source``: 'raw', 'jpeg' or 'linear' (PNG/TIFF); ``codes``: for JPEG, the
    undecoded 8-bit values (what a response is fitted on), else None; ``paths``: the file read
    per channel; ``white_balance``: the R, G, B multipliers applied to every RAW file (None
    for other sources); ``response``: the inverse response applied to JPEGs (None otherwise);
    ``white_level``: the value at which the images clip (for JPEG see
    :func:`jpeg_white_level`)."""

    images: dict[str, np.ndarray]
    source: str
    paths: dict[str, Path]
    codes: dict[str, np.ndarray] | None = None
    white_balance: tuple[float, float, float] | None = None
    response: Response | None = None
    white_level: float = 65535.0

    def display(self, name: str) -> np.ndarray:
        """Channel ``name`` as people (and MediaPipe, and the network's input) see a photo:
        8-bit sRGB. A JPEG's own values; linear sources encoded with sRGB's curve."""
        if self.codes is not None:
            return self.codes[name]
        return encode_srgb8(self.images[name], self.white_level)

    def describe(self) -> str:
        """One line for people and for the outputs' records."""
        if self.source == "raw":
            wb = ", ".join(f"{v:.3f}" for v in self.white_balance or ())
            return f"RAW via LibRaw (linear, white balance R,G,B ×{wb})"
        if self.source == "jpeg":
            return f"JPEG linearised by the camera response: {self.response.describe()}"
        return "linear images (PNG/TIFF, used as stored)"


def load_capture(folder: str | Path, response: Response | None = None,
                 dark_level: float = 0.02) -> LoadedCapture:
    """Read a capture folder and make its images linear.

    Every flash image must exist, match the others in size, depth and colour, and not be dark
    beside the others: an image whose brightest pixel is below ``dark_level`` of the
    capture's brightest is a flash that did not fire. The test is relative, so a correct
    capture that uses 1 % of a 16-bit range reads like any other. RAW is used when every
    shot has one (the capture's white balance is the centre shot's as-shot balance, the same
    for every shot); otherwise the images, JPEGs through ``response`` (sRGB's inverse when
    None).
    """
    d = Path(folder)
    if not d.is_dir():
        raise InputError(f"{d}: not a folder (expected a capture folder with "
                         f"{', '.join(CHANNELS)} images)")
    files = {name: find_files(d, name) for name in (*CHANNELS, "ambient")}
    for name in CHANNELS:
        if not files[name]:
            raise InputError(f"{d}: missing image '{name}' (expected {name}.jpg, a RAW file "
                             f"such as {name}.dng, .png or .tif)")
    shots = [n for n in (*CHANNELS, "ambient") if files[n]]
    if all("raw" in files[n] for n in shots):
        loaded = _load_raw({n: files[n]["raw"] for n in shots})
    else:
        lacking = [n for n in shots if "image" not in files[n]]
        if lacking:
            raise InputError(f"{d}: shot(s) {lacking} have only a RAW file and others only an "
                             "image; a capture is read all from RAW or all from images")
        loaded = _load_images({n: files[n]["image"] for n in shots}, response or SRGB)
    _check_capture(loaded, dark_level)
    return loaded


def _load_raw(paths: dict[str, Path], workers: int | None = None,
              demosaic: str = camerafile.DEMOSAIC) -> LoadedCapture:
    """A capture's RAW files decoded with the centre shot's as-shot white balance, on
    ``workers`` threads (default: one per core this process may use, at most one per shot).

    A 24 MP frame decodes in about 0.3 s (:data:`camerafile.DEMOSAIC`; LibRaw's AHD took
    2 s), and LibRaw's unpacking and the numba demosaicing release the GIL, so the shots
    decode side by side: a five-shot 24 MP capture took 10 s one shot after another with
    AHD; ``benchmarks/photometric.py`` times both. Each decode in flight holds the file and
    its unpacked mosaic (~100 MB at 24 MP) besides its 144 MB result. Errors come in the
    shots' order, as one after another."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    if workers is None:
        cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        workers = len(cores) if cores else (os.cpu_count() or 1)
    workers = max(1, min(workers, len(paths)))
    # The centre's as-shot balance is the capture's; reading it unpacks the centre, which
    # then decodes from that, not unpacked again.
    with camerafile.open_raw(_raw_bytes(paths["center"]), str(paths["center"])) as center:
        wb = camerafile.as_shot(center)

        def decode(name: str) -> np.ndarray:
            if name == "center":
                return camerafile.decode_opened(center, str(paths[name]), wb, MAX_PIXELS,
                                                demosaic=demosaic).rgb
            return camerafile.decode_raw(_raw_bytes(paths[name]), str(paths[name]), wb,
                                         MAX_PIXELS, demosaic=demosaic).rgb

        if workers == 1:
            images = {n: decode(n) for n in paths}
        else:
            with ThreadPoolExecutor(workers) as pool:
                images = dict(zip(paths, pool.map(decode, paths), strict=True))
    return LoadedCapture(images, "raw", paths, white_balance=wb)


def _load_images(paths: dict[str, Path], response: Response) -> LoadedCapture:
    raw = {n: read_bytes(p) for n, p in paths.items()}
    kinds = {n: image_format(b) for n, b in raw.items()}
    codes = {n: decode_image(b, str(paths[n])) for n, b in raw.items()}
    if all(k == "jpeg" for k in kinds.values()):
        bad = [n for n, c in codes.items() if c.dtype != np.uint8]
        if bad:
            raise InputError(f"{paths[bad[0]]}: a {codes[bad[0]].dtype} JPEG; expected 8 bit")
        images = {n: linearize(c, response) for n, c in codes.items()}
        return LoadedCapture(images, "jpeg", paths, codes=codes, response=response,
                             white_level=jpeg_white_level(response))
    if any(k == "jpeg" for k in kinds.values()):
        jpeg = sorted(n for n, k in kinds.items() if k == "jpeg")
        other = sorted(n for n, k in kinds.items() if k != "jpeg")
        raise InputError(f"{paths[jpeg[0]].parent}: shot(s) {jpeg} are JPEG but {other} are "
                         "not; a capture's photos must all be camera JPEGs or all linear images")
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
    ref = codes["center"]
    return LoadedCapture(codes, "linear", paths, white_level=full.get(ref.dtype, 65535.0))


def jpeg_white_level(response: Response) -> float:
    """The white level of a JPEG made linear by ``response``, such that photometric stereo's
    saturation test (``Thresholds.saturated`` of it, 98 %) falls at the *code* 98 % of 255
    (250), not at 98 % of linear full scale (code 253 under sRGB): a camera's codes flatten
    there, on its tone curve's shoulder and in JPEG's ringing beside clipped highlights. The
    calibration applies the same rule to its sphere."""
    sat = CLIP_LEVEL
    return float(response(np.array([sat]))[0]) / sat * 65535.0


def _check_capture(loaded: LoadedCapture, dark_level: float) -> None:
    images, paths = loaded.images, loaded.paths
    ref, ref_path = images["center"], paths["center"]
    for name, img in images.items():
        if img.shape[:2] != ref.shape[:2]:
            raise InputError(f"{paths[name]}: {img.shape[1]}×{img.shape[0]} pixels, but "
                             f"{ref_path.name} is {ref.shape[1]}×{ref.shape[0]}; all "
                             "images of a capture must be the same size")
        if img.ndim != ref.ndim:
            raise InputError(f"{paths[name]}: {'colour' if img.ndim == 3 else 'grey'} image, "
                             f"but {ref_path.name} is not; mix neither")
        if img.dtype != ref.dtype:
            raise InputError(f"{paths[name]}: {img.dtype.itemsize * 8}-bit, but "
                             f"{ref_path.name} is {ref.dtype.itemsize * 8}-bit; all "
                             "images of a capture must have the same bit depth")
    peaks = {n: int(images[n].max()) for n in CHANNELS}
    top = max(peaks.values())
    if top == 0:
        raise InputError(f"{ref_path.parent}: every flash image is black (all pixels 0); "
                         "did the flashes fire?")
    for name in CHANNELS:
        if peaks[name] == 0:
            raise InputError(f"{paths[name]}: image is all dark (every pixel 0); did the "
                             f"'{name}' flash fire?")
        if peaks[name] <= dark_level * top:
            raise InputError(f"{paths[name]}: image is dark beside the others (brightest pixel "
                             f"{100 * peaks[name] / top:.1f}% of the capture's brightest); did "
                             f"the '{name}' flash fire?")


def read_capture(folder: str | Path, dark_level: float = 0.02,
                 response: Response | None = None) -> dict[str, np.ndarray]:
    """A capture's linear images (see :func:`load_capture`)."""
    return load_capture(folder, response, dark_level).images
