"""Prediction: the normal map of any portrait, from a trained run.

``booth predict IMAGE_OR_DIR... --model RUN --out DIR``. Each photo is read as people see it
(Pillow: EXIF orientation applied; grey, 16-bit, palette, RGBA and CMYK made 8-bit RGB; a
phone's HEIC through pillow-heif), its faces found (:mod:`learning.face_finder`: MediaPipe's
full-range detector, then Face Mesh; the largest, or up to ``--max-faces``), each face cropped
as the export crops it (the run's crop size and framing), given the landmark channels the run
was trained with, and predicted. The crops go back into the photo weighted by the model's mask
where MediaPipe's selfie segmentation agrees (a model without a mask: the face oval) and faded
out at their edges, and where they overlap their normals are averaged by those weights (a
relit photo fades back to the original more widely where a crop's border cuts through the
person: :meth:`Photo.blend`). Per photo:

* ``NAME.normals.png``: 16-bit normal map of the full frame (RGB = (n + 1) / 2 × 65535), the
  predictions pasted back where the merged mask holds, zero elsewhere; ``NAME.normals.npy``
  the same as float32; ``NAME.mask.png`` that mask;
* ``NAME.crop.normals.png``: the first face's crop as the network gave it; ``NAME-face2...``
  the second's, and so on.

A photo without a face, or one that cannot be read, is listed with the reason; the others are
still done.
"""

from __future__ import annotations

import warnings
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

#: The shipped models by name (``learning/models/NAME.safetensors``, each with its card
#: ``NAME.md``), the default first: ``portrait`` for any photo (trained on simulated people in
#: portrait light), ``booth`` for the booth's own ring-flash photo (as the paper).
SHIPPED = ("portrait", "booth")
DEFAULT_MODEL = SHIPPED[0]

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
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refused here too
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
        with im:
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
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{path}: more than {MAX_PIXELS:,} pixels; expected a photo of at "
                         f"most {MAX_PIXELS // 1_000_000} MP") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable photo ({exc})") from None


@dataclass
class Face:
    """One face's prediction in its crop (``size`` × ``size``) and where the crop lies."""

    crop: np.ndarray  # (S, S, 3) float32: the network's normals for the crop
    alpha: np.ndarray  # (S, S) float32 in [0, 1]: how much the crop's pixels are trusted
    box: preprocess.Crop  # the crop's square in the photo
    landmarks: np.ndarray | None = None  # (478, 3) in the photo's pixels

    @property
    def crop_mask(self) -> np.ndarray:
        return self.alpha >= 0.5


@dataclass
class Photo:
    """A photo's prediction: every face's crop pasted back and merged."""

    normals: np.ndarray  # (H, W, 3) float32 unit normals inside ``mask``, zero elsewhere
    alpha: np.ndarray  # (H, W) float32 in [0, 1]: the soft mask, feathered at the seams
    faces: list[Face]

    @property
    def mask(self) -> np.ndarray:
        return self.alpha >= 0.5

    def blend(self) -> np.ndarray:
        """(H, W) float32 in [0, 1]: how much of a relit photo to show over the original:
        ``alpha``, faded over :data:`CUT` of a crop's side wherever the crop's border cuts
        through the person (:func:`cut_sides`), so the relighting dies away across the
        shoulders instead of stopping at a straight line."""
        out = np.zeros_like(self.alpha)
        for f in self.faces:
            placed = _placement(f.box, self.alpha.shape)
            if placed is None:
                continue
            widths = tuple(CUT if cut else EDGE for cut in cut_sides(f, self.alpha.shape))
            x0, y0, x1, y1 = placed[0]
            w = _warp(f.alpha * _edge_ramp(f.box.size, widths), *placed)
            out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], w)
        return np.minimum(out, self.alpha)

    def ovals(self) -> np.ndarray:
        """(H, W) bool: the faces' ovals (their skin, for fitting the photo's light)."""
        out = np.zeros(self.alpha.shape, np.uint8)
        for f in self.faces:
            if f.landmarks is not None:
                cv2.fillPoly(out, [np.round(f.landmarks[preprocess.oval_order(), :2] - 0.5)
                                   .astype(np.int32)], 1)
        return out.astype(bool)


#: The feather at a crop's edge, as a share of its side: the crop's own border (where the
#: network sees least) fades out instead of ending in a step.
EDGE = 0.04
#: How far a relit photo fades back to the original where a crop's border inside the photo
#: cuts through the person (shoulders and arms below a head's crop), as a share of the crop's
#: side: the mask's few-pixel feather left a straight line across the clothes there.
CUT = 0.3


def _edge_ramp(size: int, widths: tuple[float, float, float, float] = (EDGE,) * 4
               ) -> np.ndarray:
    """(size, size) weight rising from 0 at the crop's border to 1 at ``widths`` (shares of
    the side: top, bottom, left, right) inside it; a width of 0 leaves that side at 1."""
    centres = np.arange(size) + 0.5

    def profile(near: float, far: float) -> np.ndarray:
        out = np.ones(size)
        for d, width in ((centres, near), (size - centres, far)):
            if width > 0:
                r = np.clip(d / max(width * size, 1), 0.0, 1.0)
                out = np.minimum(out, r * r * (3 - 2 * r))  # smoothstep: no kink at 1
        return out

    return np.minimum.outer(profile(*widths[:2]), profile(*widths[2:])).astype(np.float32)


def _placement(c: preprocess.Crop, shape: tuple[int, int]
               ) -> tuple[tuple[int, int, int, int], np.ndarray] | None:
    """The part of crop ``c``'s square inside a photo of ``shape`` ((x0, y0, x1, y1)) and the
    affine map from the crop's pixels to that window; None when it lies outside."""
    h, w = shape
    # Only the crop's square (within the photo) is warped into: a full-frame warp of a 12 MP
    # photo per face took seconds.
    x0, y0 = max(c.x0, 0), max(c.y0, 0)
    x1, y1 = min(c.x0 + c.side, w), min(c.y0 + c.side, h)
    if x1 <= x0 or y1 <= y0:
        return None
    k = c.side / c.size
    # The crop's square scaled to its side and placed at (x0, y0), pixel centres kept.
    m = np.array([[k, 0, c.x0 - x0 + 0.5 * k - 0.5], [0, k, c.y0 - y0 + 0.5 * k - 0.5]])
    return (x0, y0, x1, y1), m


def _warp(src: np.ndarray, window: tuple[int, int, int, int], m: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = window
    return cv2.warpAffine(src, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def cut_sides(face: Face, shape: tuple[int, int]) -> tuple[bool, bool, bool, bool]:
    """Which borders of ``face``'s crop (top, bottom, left, right) lie inside a photo of
    ``shape`` and cut through the person: more than 5 % of the crop's outermost band (its
    EDGE) held by its mask."""
    c, a = face.box, face.alpha >= 0.5
    band = max(1, int(round(EDGE * c.size)))
    inside = (c.y0 > 0, c.y0 + c.side < shape[0], c.x0 > 0, c.x0 + c.side < shape[1])
    held = (a[:band].mean(), a[-band:].mean(), a[:, :band].mean(), a[:, -band:].mean())
    return tuple(bool(i and share > 0.05) for i, share in zip(inside, held, strict=True))


@dataclass
class Predictor:
    """A run's model and how its inputs were made (crop size, framing, landmark encoding)."""

    model: torch.nn.Module
    encoding: str
    size: int
    framing: str = "face"
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
        framing = ds.get("framing", "face")  # runs from before the framings: the face's
        if framing not in preprocess.FRAMINGS:
            raise InputError(f"{run}: dataset: framing: expected one of "
                             f"{', '.join(preprocess.FRAMINGS)}, got {framing!r}")
        # channels_last: oneDNN's and cuDNN's convolutions run faster on NHWC (1.6x at
        # 512² on CPU, benchmarks/learning.py).
        model = model.eval().to(memory_format=torch.channels_last)
        return cls(model, encoding, size, framing, torch.device(device))

    def photo(self, rgb: np.ndarray, max_faces: int = 1) -> Photo:
        """The faces of ``rgb`` (largest first, at most ``max_faces``) predicted and merged
        into one full-frame map; NoFaceError when there is none."""
        from learning.face_finder import find_faces

        faces = [self.face(rgb, pts) for pts in find_faces(rgb, max_faces)]
        return Photo(*paste(faces, rgb.shape[:2]), faces)

    @torch.no_grad()
    def network(self, rgb: np.ndarray, landmarks: np.ndarray
                ) -> tuple[preprocess.Crop, np.ndarray, torch.Tensor]:
        """The face's crop, its photo as the network sees it ((S, S, 3) float32 in [0, 1]) and
        the network's raw output ((outputs, S, S) on the CPU: normals, then the mask's logit)."""
        crop = preprocess.face_crop(landmarks, self.size, self.framing)
        # (the crop converted, not the photo: a 12 MP photo in float32 is 144 MB)
        image = np.clip(crop.image(rgb) * np.float32(1 / 255), 0.0, 1.0)
        channels = preprocess.landmark_channels(crop.points(landmarks), self.size,
                                                self.encoding)
        x = np.concatenate([image, channels], axis=-1).transpose(2, 0, 1)[None]
        pred = self.model(torch.from_numpy(np.ascontiguousarray(x)).to(
            self.device, memory_format=torch.channels_last))[0].float().cpu()
        return crop, image, pred

    def face(self, rgb: np.ndarray, landmarks: np.ndarray) -> Face:
        crop, image, pred = self.network(rgb, landmarks)
        n = pred[:3].permute(1, 2, 0).numpy()
        if pred.shape[0] > 3:
            # The model's own mask and MediaPipe's selfie segmentation (trained on real
            # people) must both say "person": on the portrait model's held-out simulated
            # people the agreement scores an IoU of 0.970, the model alone 0.978, the
            # segmentation 0.821 (benchmarks/_masks.py); real photos have no true masks, and
            # a barely trained model's mask reached into their backdrop.
            from learning.face_finder import segment

            crop_rgb = np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)
            alpha = np.minimum(torch.sigmoid(pred[3]).numpy(), segment(crop_rgb))
        else:  # a model without one: the face oval it was trained on
            alpha = preprocess.face_oval(crop.points(landmarks), self.size).astype(np.float32)
        return Face(np.ascontiguousarray(n, np.float32), alpha.astype(np.float32), crop,
                    np.asarray(landmarks, np.float32))


def paste(faces: list[Face], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Faces' crops back into a photo of ``shape``: (normals (H, W, 3), alpha (H, W)).

    Each crop is scaled to its square in the photo with its alpha times the edge feather;
    where crops overlap, normals are averaged by those weights and the alphas add (to 1 at
    most)."""
    h, w = shape
    num = np.zeros((h, w, 3), np.float32)
    den = np.zeros((h, w), np.float32)
    box = None  # the bounding box of the crops within the photo
    for f in faces:
        placed = _placement(f.box, shape)
        if placed is None:
            continue
        (x0, y0, x1, y1), m = placed
        a = f.alpha * _edge_ramp(f.box.size)
        for src, acc in ((f.crop * a[..., None], num), (a, den)):
            acc[y0:y1, x0:x1] += _warp(src, placed[0], m)
        box = (x0, y0, x1, y1) if box is None else (min(box[0], x0), min(box[1], y0),
                                                    max(box[2], x1), max(box[3], y1))
    normals = np.zeros((h, w, 3), np.float32)
    alpha = np.zeros((h, w), np.float32)
    if box is None:
        return normals, alpha
    # normalised within the crops' bounding box alone (the rest is zero)
    win = np.s_[box[1]:box[3], box[0]:box[2]]
    n, a = num[win], np.clip(den[win], 0.0, 1.0)
    length = np.linalg.norm(n, axis=-1, keepdims=True)
    ok = (a >= 0.5) & (length[..., 0] > 1e-6)
    normals[win] = np.divide(n, length, out=np.zeros_like(n), where=ok[..., None])
    alpha[win] = np.where(ok | (a < 0.5), a, 0.0)
    return normals, alpha


def shipped(name: str) -> Path:
    """The shipped model ``name`` (:data:`SHIPPED`); an InputError when this copy lacks it."""
    from importlib import resources

    path = Path(str(resources.files("learning") / "models" / f"{name}.safetensors"))
    if not path.is_file():
        raise InputError(f"{path}: no {name} model in this copy; give --model RUN (a run of "
                         "'booth train')")
    return path


def default_model() -> Path:
    """The model ``booth predict`` uses without ``--model``: the portrait model where this
    copy has it (the booth's own, the ring-flash one, before it was first shipped)."""
    for name in SHIPPED:
        try:
            return shipped(name)
        except InputError:
            continue
    return shipped(DEFAULT_MODEL)


def model_path(model: str | None) -> Path:
    """``--model``: a shipped model's name, a run folder or a NAME.safetensors; none: the
    default."""
    if model is None:
        return default_model()
    p = Path(model)
    # a run folder or a checkpoint of that name comes first (not any folder: in the
    # project's root, 'booth' is the package)
    if model in SHIPPED and not (p.is_file() or (p / "best.safetensors").is_file()):
        return shipped(model)
    return p


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


def write_photo(stage: Path, name: str, photo: Photo) -> list[str]:
    """A photo's files: its merged normal map, normals and mask; each face's crop."""
    normalmap.write_png16(stage / f"{name}.normals.png", photo.normals, photo.mask)
    np.save(stage / f"{name}.normals.npy", photo.normals)
    cv2.imwrite(str(stage / f"{name}.mask.png"), photo.mask.astype(np.uint8) * 255)
    written = [f"{name}.normals.png", f"{name}.normals.npy", f"{name}.mask.png"]
    for i, face in enumerate(photo.faces):
        crop = f"{name}{'' if i == 0 else f'-face{i + 1}'}.crop.normals.png"
        normalmap.write_png16(stage / crop, face.crop, face.crop_mask)
        written.append(crop)
    return written


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
            result = predictor.photo(rgb, max_faces)
            o.faces = len(result.faces)
            stem = photo.stem
            stems[stem] = stems.get(stem, 0) + 1
            if stems[stem] > 1:  # two photos of one name in different folders
                stem = f"{stem}-{stems[stem]}"
            o.written += write_photo(stage, stem, result)
        except NoFaceError:
            o.error = "no face found"
        except InputError as exc:  # said once, after the photo's name (the listing's)
            o.error = str(exc).removeprefix(f"{photo}: ")
        results.append(o)
        if progress:
            progress(k + 1, len(photos))
    return results
