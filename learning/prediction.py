"""Prediction: the normal map of any portrait, from a trained run.

``booth predict IMAGE_OR_DIR... --model RUN --out DIR``. Each photo is read as people see it
(Pillow: EXIF orientation applied; grey, 16-bit, palette, RGBA and CMYK made 8-bit RGB; a
phone's HEIC through pillow-heif), its faces found by Face Mesh (the largest, or up to
``--max-faces``), each face cropped as the export crops it (the run's crop size and margin),
given the landmark channels the run was trained with, and predicted. Per photo and face:

* ``NAME.normals.png``: 16-bit normal map of the full frame (RGB = (n + 1) / 2 × 65535), the
  prediction pasted back inside the face's oval, zero elsewhere; ``NAME.normals.npy`` the same
  as float32; ``NAME.mask.png`` that oval;
* ``NAME.crop.normals.png``: the crop's own normal map, as the network gave it.

A second face adds ``-face2`` to NAME, and so on. A photo without a face, or one that cannot be
read, is listed with the reason; the others are still done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from learning import checkpoint, preprocess
from learning.model import CHANNELS
from photometric.errors import InputError
from photometric.io import normalmap

#: The model ``booth predict`` uses without ``--model``: the small preset trained on
#: simulated people (its model card beside it, ``learning/models/README.md``).
DEFAULT_MODEL = "default.safetensors"

SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".heic", ".heif", ".webp", ".bmp")
MAX_PIXELS = 100_000_000


def read_portrait(path: str | Path) -> np.ndarray:
    """A photo as 8-bit RGB, displayed the way a viewer shows it (EXIF orientation)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if path.suffix.lower() in (".heic", ".heif"):
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
        except ImportError:
            raise InputError(f"{path}: a HEIC photo needs pillow-heif ('pip install "
                             "pillow-heif')") from None
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                a = np.asarray(im, np.float64)
                top = 65535.0 if a.max() > 255 else 255.0
                rgb = np.repeat(np.clip(a / top * 255.0, 0, 255)[..., None], 3, axis=2)
                return np.rint(rgb).astype(np.uint8)
            if im.mode == "RGBA" or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                back = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(back, im)
            return np.asarray(im.convert("RGB"), np.uint8).copy()
    except FileNotFoundError:
        raise InputError(f"{path}: not found") from None
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"{path}: not a readable photo ({exc})") from None


@dataclass
class Face:
    normals: np.ndarray  # (H, W, 3) float32, full frame, zero outside ``mask``
    mask: np.ndarray  # (H, W) bool: the face oval
    crop: np.ndarray  # (S, S, 3) float32: the network's output for the crop
    crop_mask: np.ndarray  # (S, S) bool


@dataclass
class Predictor:
    """A run's model and how its inputs were made (crop size, margin, landmark encoding)."""

    model: torch.nn.Module
    encoding: str
    size: int
    margin: float = 0.25
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def load(cls, run: str | Path, device: str = "cpu") -> Predictor:
        model, meta = checkpoint.load_model(run, device)
        ds = meta.get("dataset") or {}
        encoding, size = ds.get("encoding"), ds.get("size")
        if encoding not in CHANNELS or not isinstance(size, int):
            raise InputError(f"{run}: its YAML does not say the dataset's encoding and crop "
                             "size (dataset: encoding, size); not a run of 'booth train'")
        if CHANNELS[encoding] != meta["model"]["in_channels"]:
            raise InputError(f"{run}: a model of {meta['model']['in_channels']} input channels "
                             f"for the {encoding} encoding ({CHANNELS[encoding]})")
        # channels_last: oneDNN's and cuDNN's convolutions run faster on NHWC (1.6x at
        # 512² on CPU, benchmarks/learning.py).
        model = model.eval().to(memory_format=torch.channels_last)
        return cls(model, encoding, size, float(ds.get("margin", 0.25)), torch.device(device))

    def faces(self, rgb: np.ndarray, max_faces: int = 1) -> list[Face]:
        from learning.facemesh import detect_all

        found = detect_all(rgb, max_faces)
        return [self.face(rgb, pts) for pts in found]

    @torch.no_grad()
    def face(self, rgb: np.ndarray, landmarks: np.ndarray) -> Face:
        crop = preprocess.face_crop(landmarks, self.size, self.margin)
        pts = crop.points(landmarks)
        image = np.clip(crop.image(rgb.astype(np.float32) / 255.0), 0.0, 1.0)
        channels = preprocess.landmark_channels(pts, self.size, self.encoding)
        x = np.concatenate([image, channels], axis=-1).transpose(2, 0, 1)[None]
        pred = self.model(torch.from_numpy(np.ascontiguousarray(x)).to(
            self.device, memory_format=torch.channels_last))
        n = pred[0].permute(1, 2, 0).float().cpu().numpy()
        crop_mask = preprocess.face_oval(pts, self.size).astype(bool)
        h, w = rgb.shape[:2]
        # Back into the photo: the crop's square scaled to its side and placed at (x0, y0).
        m = np.array([[crop.side / self.size, 0, crop.x0 + 0.5 * crop.side / self.size - 0.5],
                      [0, crop.side / self.size, crop.y0 + 0.5 * crop.side / self.size - 0.5]])
        full = cv2.warpAffine(n, m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        length = np.linalg.norm(full, axis=-1, keepdims=True)
        full = np.divide(full, length, out=np.zeros_like(full), where=length > 1e-6)
        oval = np.zeros((h, w), np.uint8)
        cv2.fillPoly(oval, [np.round(landmarks[preprocess.oval_order(), :2] - 0.5)
                            .astype(np.int32)], 1)
        mask = oval.astype(bool) & (length[..., 0] > 1e-6)
        full[~mask] = 0.0
        return Face(full.astype(np.float32), mask, n.astype(np.float32), crop_mask)


def default_model() -> Path:
    """The shipped model's path; an InputError when this copy has none."""
    from importlib import resources

    path = Path(str(resources.files("learning") / "models" / DEFAULT_MODEL))
    if not path.is_file():
        raise InputError(f"{path}: no default model in this copy; give --model RUN (a run of "
                         "'booth train')")
    return path


def inputs(paths: list[str | Path]) -> list[Path]:
    """The photos named, a folder standing for the photos in it (sorted)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in SUFFIXES
                          and q.is_file())
        else:
            out.append(p)
    return out


@dataclass
class Outcome:
    photo: Path
    faces: int = 0
    error: str = ""
    written: list[str] = field(default_factory=list)


def write_face(stage: Path, name: str, face: Face) -> list[str]:
    files = {f"{name}.normals.png": lambda p: normalmap.write_png16(p, face.normals, face.mask),
             f"{name}.normals.npy": lambda p: np.save(p, face.normals),
             f"{name}.mask.png": lambda p: cv2.imwrite(str(p),
                                                       face.mask.astype(np.uint8) * 255),
             f"{name}.crop.normals.png": lambda p: normalmap.write_png16(p, face.crop,
                                                                         face.crop_mask)}
    for fname, write in files.items():
        write(stage / fname)
    return list(files)


def predict(photos: list[Path], predictor: Predictor, stage: Path, max_faces: int = 1,
            progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
    """Predict every photo into ``stage``; a photo that fails is an Outcome with its error."""
    from learning.facemesh import NoFaceError

    results = []
    stems: dict[str, int] = {}
    for k, photo in enumerate(photos):
        o = Outcome(photo)
        try:
            rgb = read_portrait(photo)
            faces = predictor.faces(rgb, max_faces)
            o.faces = len(faces)
            stem = photo.stem
            stems[stem] = stems.get(stem, 0) + 1
            if stems[stem] > 1:  # two photos of one name in different folders
                stem = f"{stem}-{stems[stem]}"
            for i, face in enumerate(faces):
                o.written += write_face(stage, stem if i == 0 else f"{stem}-face{i + 1}", face)
        except NoFaceError:
            o.error = "no face found"
        except InputError as exc:
            o.error = str(exc)
        results.append(o)
        if progress:
            progress(k + 1, len(photos))
    return results
