"""The dataset's files as its readers see them: the sample ``.npz``, the manifest, the README.

Kept apart from the export that makes the files and the torch ``Dataset`` that reads them, so
that the format (which arrays, their types, what is deflated, which manifest fields a reader
relies on, the README that documents it for people loading the files with numpy alone) has a
single definition both sides share, and a change to it is one change here plus
:data:`FORMAT_VERSION`. Everything read is validated here, and a bad file is an InputError
naming it.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

try:  # for the float16 conversions; a training machine may have numpy alone
    import cv2
except ImportError:  # pragma: no cover - the project's environment has OpenCV
    cv2 = None

from learning.sample import ENCODINGS, Sample
from learning.splits import SPLITS
from photometric.errors import InputError
from photometric.io.files import atomic_write

#: The dataset format (manifest and sample files); the manifest records it.
FORMAT_VERSION = 1
#: The arrays of a sample file, in the order they are written.
KEYS = ("image", "channels", "normals", "mask", "landmarks", "meta")
#: Top-level keys every manifest has (also how a dataset made before the output-folder
#: marker existed is recognised).
MANIFEST_KEYS = ("format_version", "software_version", "settings", "samples", "sources")
MAX_MANIFEST_BYTES = 256 << 20  # ~1.5 million samples


def _opencv_fits(a: np.ndarray) -> bool:
    """Whether OpenCV (if there) takes ``a`` as one image: 2-D, or 3-D with 1-4 channels."""
    return cv2 is not None and a.size > 0 and (a.ndim == 2 or (a.ndim == 3 and a.shape[2] <= 4))


def to_half(a: np.ndarray) -> np.ndarray:
    """float32 -> float16 with OpenCV: numpy 1.26's ``astype(np.float16)`` is scalar code,
    5.5 ms for a 512² normal map against 0.2 ms here; the same rounding (to nearest even,
    checked in the tests)."""
    a = np.ascontiguousarray(a, np.float32)
    if not _opencv_fits(a):
        return a.astype(np.float16)
    return cv2.convertFp16(a).view(np.float16).reshape(a.shape)


def from_half(a: np.ndarray) -> np.ndarray:
    """float16 -> float32, the other way (2.5 ms -> 0.2 ms a 512² normal map)."""
    a = np.ascontiguousarray(a, np.float16)
    if not _opencv_fits(a):
        return a.astype(np.float32)
    return cv2.convertFp16(a.view(np.int16)).reshape(a.shape)


def write_sample(path: str | Path, s: Sample, meta: dict,
                 compress: bool = False) -> Path:
    """A standard ``.npz`` (``np.load`` reads it), each array deflated only where it pays,
    written whole or not at all (owner-only, :func:`photometric.io.files.atomic_write`).

    Written with ``zipfile`` rather than ``np.savez_compressed`` to choose per array: the sparse
    ones (landmark channels, mask) shrink 10-60x at zlib level 1 in about a millisecond, while
    the photo and the normals (dense, noisy) shrink about 2x for ~40 ms a sample at level 1
    (~90 ms at numpy's level 6), most of an export's time; those two are stored unless
    ``compress`` asks for the smaller files. The same sample is the same bytes whenever it is
    written (no time inside)."""
    arrays = {"image": np.round(s.image * 255).astype(np.uint8),
              "channels": to_half(s.channels), "normals": to_half(s.normals),
              "mask": s.mask, "landmarks": s.landmarks.astype(np.float32),
              "meta": np.array(json.dumps(meta))}
    if s.parts is not None:
        arrays["parts"] = np.ascontiguousarray(s.parts, np.uint8)

    def write(tmp: Path) -> None:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            for name, a in arrays.items():
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asanyarray(a), allow_pickle=False)
                dense = name in ("image", "normals") and not compress
                # a fixed date (zip's first): the same sample is the same bytes whenever it
                # is written, so a resumed or repeated export equals an uninterrupted one
                info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED if dense else zipfile.ZIP_DEFLATED
                info.external_attr = 0o600 << 16
                zf.writestr(info, buf.getbuffer(), compresslevel=1)

    return atomic_write(path, write)


def _expect(ok: bool, path: Path, what: str) -> None:
    if not ok:
        raise InputError(f"{path}: not a sample file of this dataset format ({what})")


def read_sample(path: str | Path, encoding: str) -> Sample:
    """A sample file -> a :class:`~learning.sample.Sample` (float32, the photo in [0, 1]).

    A missing, unreadable or malformed file is an InputError naming it."""
    path = Path(path)
    try:
        z = np.load(path, allow_pickle=False)
        _expect(isinstance(z, np.lib.npyio.NpzFile), path, "not a .npz archive")
        with z:
            missing = [k for k in KEYS[:-1] if k not in z.files]
            _expect(not missing, path, f"missing {', '.join(missing)}")
            image, channels, normals = z["image"], z["channels"], z["normals"]
            mask, landmarks = z["mask"], z["landmarks"]
            parts = z["parts"] if "parts" in z.files else None
    except FileNotFoundError:
        raise InputError(f"{path}: sample file not found; the dataset is incomplete (run "
                         "'booth export' again into the same folder to redo it)") from None
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{path}: cannot read this sample file ({exc})") from None
    _expect(image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3, path,
            f"image: expected (S, S, 3) uint8, got {image.shape} {image.dtype}")
    size = image.shape[:2]
    _expect(channels.dtype == np.float16 and channels.shape[:2] == size, path,
            f"channels: expected {size} float16, got {channels.shape} {channels.dtype}")
    _expect(normals.dtype == np.float16 and normals.shape == (*size, 3), path,
            f"normals: expected {(*size, 3)} float16, got {normals.shape} {normals.dtype}")
    _expect(mask.dtype == np.bool_ and mask.shape == size, path,
            f"mask: expected {size} bool, got {mask.shape} {mask.dtype}")
    _expect(landmarks.ndim == 2 and landmarks.shape[1] == 3, path,
            f"landmarks: expected (N, 3), got {landmarks.shape}")
    _expect(parts is None or (parts.dtype == np.uint8 and parts.shape == size), path,
            f"parts: expected {size} uint8, got "
            f"{None if parts is None else (parts.shape, parts.dtype)}")
    return Sample(
        image=image.astype(np.float32) / 255.0, channels=from_half(channels),
        normals=from_half(normals), mask=mask, landmarks=landmarks.astype(np.float32),
        encoding=encoding, parts=parts)


def _bad_manifest(path: Path, what: str) -> InputError:
    return InputError(f"{path}: not a dataset manifest made by 'booth export' ({what})")


def read_manifest(path: str | Path) -> dict:
    """``DATASET/manifest.json`` -> its data, checked for what readers rely on: the top-level
    keys, ``settings.encoding``, and each sample's ``file`` (a plain ``.npz`` name inside
    ``samples/``), ``subject`` and ``split``. Anything else is an InputError naming the file."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: not found; expected the manifest of a dataset made by "
                         "'booth export'") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder; expected a dataset manifest (JSON)") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_MANIFEST_BYTES:
        raise _bad_manifest(path, f"larger than {MAX_MANIFEST_BYTES >> 20} MB")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad_manifest(path, f"not JSON: {exc}") from None
    except RecursionError:
        raise _bad_manifest(path, "nested too deeply") from None
    if not isinstance(data, dict):
        raise _bad_manifest(path, f"expected a JSON object, got {type(data).__name__}")
    missing = [k for k in MANIFEST_KEYS if k not in data]
    if missing:
        raise _bad_manifest(path, f"missing {', '.join(missing)}")
    settings, samples = data["settings"], data["samples"]
    if not isinstance(settings, dict) or settings.get("encoding") not in ENCODINGS:
        got = settings.get("encoding") if isinstance(settings, dict) else settings
        raise _bad_manifest(path, f"settings.encoding: expected one of "
                            f"{ENCODINGS}, got {got!r:.60}")
    if not isinstance(samples, list) or not isinstance(data["sources"], list):
        raise _bad_manifest(path, "samples and sources: expected lists")
    for i, s in enumerate(samples):
        ok = (isinstance(s, dict) and isinstance(s.get("file"), str)
              and isinstance(s.get("subject"), str) and s.get("split") in SPLITS)
        if not ok:
            raise _bad_manifest(path, f"samples[{i}]: expected file, subject and split "
                                f"(one of {SPLITS})")
        f = s["file"]
        if "/" in f or "\0" in f or "\\" in f or f.startswith(".") or not f.endswith(".npz"):
            raise _bad_manifest(path, f"samples[{i}].file: expected a .npz file name inside "
                                f"samples/, got {f!r:.60}")
    return data


README = """# A photometric-booth dataset

`manifest.json` lists the samples (`samples[]`: file, subject, split), the settings they were
made with and every source capture (exported or skipped, with the reason). Each
`samples/*.npz` loads with numpy alone (`np.load(path)`):

| key | shape, type | contents |
| --- | --- | --- |
| `image` | (S, S, 3) uint8 | the photo cropped as `settings.framing` says, RGB |
| `channels` | (S, S, 2) float16, or (S, S, 0) for encoding `none` | landmark channels 4 and 5 |
| `normals` | (S, S, 3) float16 | unit normals, camera space, 0 outside the mask |
| `mask` | (S, S) bool | where the normal map is valid |
| `landmarks` | (478, 3) float32 | Face Mesh landmarks in crop pixels: x, y, z |
| `meta` | JSON string | source key, subject, variant (original, flip, x0.7...), checksum |
| `parts` | (S, S) uint8, simulated people only | what each pixel shows (below) |

Each file is a standard zip of `.npy` arrays; `channels`, `mask`, `landmarks`, `meta` and
`parts` are deflated, `image` and `normals` are stored as they are unless the export was made with
`compress` (see `settings`).

`parts` (a simulated capture's `truth/parts.png`, cropped): 0 background, 1 skin, 2 hair,
3 brows, 4 eyes, 5 mouth, 6 neck, 7 clothes, 8 glasses, 9 lips; regions for reports: face
(1, 3, 4, 5, 9), hair (2), neck (6), clothes (7).

Camera space: x right, y up, z toward the camera. Landmark z is MediaPipe's (pixels, smaller =
nearer the camera). The network's input is `concatenate([image / 255, channels], axis=-1)`.
Channel 4 is the facial part (`settings.parts`, value `id / len(parts)`, 0 = none), channel 5
the depth (`0.5 - z / S`, clipped to [0, 1], 0 = no landmark). Encodings: `points` (landmarks
drawn as small discs), `dense` (part map filled from the mesh regions, depth interpolated over
the mesh), `none` (RGB only). Normals are computed by the method in `settings.method`
(`lambertian` by default), with the capture's session calibration where it has one.
"""
