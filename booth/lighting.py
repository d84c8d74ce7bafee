"""``booth relight``: a capture, or any portrait with a normal map, re-rendered under new light.

The files and the command line around :mod:`photometric.relighting.relighter` (the arrays):
reading a
capture (photometric stereo's normals and albedo, its ring-flash photo kept outside the face)
or a portrait (with a normal map given, or predicted by the shipped model), parsing lights,
and writing the pictures: ``relit.png`` (8-bit sRGB, for people), ``relit16.png`` (16-bit
linear, for further work), the depth when it was integrated, and with ``--orbit N`` a light
circling the face as ``orbit.gif`` and ``orbit.mp4`` plus a contact sheet of eight lightings.
The output folder is replaced whole or not at all (:class:`photometric.io.files.OutputDir`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import yaml

from booth.choices import RELIGHT_AMBIENT
from photometric import response
from photometric.errors import InputError
from photometric.io import environment, imageio, normalmap
from photometric.io.files import OutputDir, atomic_write, write_text
from photometric.lights import CHANNELS, DirectionalLight, Light, LightRig, PointLight
from photometric.relighting import harmonics as sh
from photometric.relighting import relighter as relight
from photometric.relighting.relighter import Relighter, Scene, Specular
from photometric.response import srgb_decode

COMMAND = "relight"
NAMES = ("relit.png", "relit16.png", "albedo.png", "depth.npy", "depth.png", "orbit.gif",
         "orbit.mp4", "contact_sheet.png", "relight.yaml")
#: With no light, environment or SH given: a key light up and to the camera's left, and fill.
DEFAULT_LIGHT = "az=-35,el=25"
DEFAULT_AMBIENT = RELIGHT_AMBIENT
#: Orbit frames and contact-sheet tiles are at most this many pixels on their long side.
ORBIT_SIDE = 720
SHEET_TILE = 320
KEYS = ("az", "el", "dir", "pos", "color", "intensity")


@dataclass
class LightSpec:
    """One ``--light``: its text, parsed; a flash name is resolved with the capture's rig."""

    text: str
    flash: str | None = None
    values: dict[str, tuple[float, ...]] = field(default_factory=dict)

    def light(self, rig: LightRig | None, where: str) -> Light:
        color = self.values.get("color", (1.0, 1.0, 1.0))
        scale = self.values.get("intensity", (1.0,))[0]
        if self.flash is not None:
            if rig is None:
                raise InputError(f"--light {self.text}: a flash is named, but {where} has no "
                                 "flashes (give a capture folder, or --lights / "
                                 "--calibration)")
            if self.flash not in rig.directions:
                raise InputError(f"--light {self.text}: no flash '{self.flash}' in {where}")
            return DirectionalLight(tuple(rig.direction(self.flash)),
                                    rig.intensity(self.flash) * scale, color)
        if "pos" in self.values:
            p = self.values["pos"]
            return PointLight(p, scale, color, reference_distance=float(np.linalg.norm(p)))
        if "dir" in self.values:
            d = np.asarray(self.values["dir"], np.float64)
            return DirectionalLight(tuple(d / np.linalg.norm(d)), scale, color)
        az, el = self.values["az"][0], self.values["el"][0]
        return DirectionalLight(relight.direction(az, el), scale, color)


def parse_light(text: str) -> LightSpec:
    """``az=30,el=20[,color=1,0.9,0.8][,intensity=1.2]``, ``dir=x,y,z``, ``pos=x,y,z`` (mm),
    or a flash's name (``left``), each with optional ``color`` and ``intensity``."""
    bad = f"--light {text!r}"
    tokens = [t.strip() for t in text.split(",")]
    spec = LightSpec(text)
    if tokens and tokens[0] in CHANNELS:
        spec.flash = tokens.pop(0)
    key = None
    raw: dict[str, list[str]] = {}
    for tok in tokens:
        if "=" in tok:
            key, _, value = tok.partition("=")
            key = key.strip().lower()
            if key not in KEYS:
                raise InputError(f"{bad}: unknown key '{key}'; expected az=, el=, dir=, pos=, "
                                 f"color=, intensity= or a flash name ({', '.join(CHANNELS)})")
            if key in raw:
                raise InputError(f"{bad}: '{key}' given twice")
            raw[key] = [value]
        elif key is None:
            raise InputError(f"{bad}: expected key=value pairs (az=30,el=20), dir=x,y,z, "
                             f"pos=x,y,z or a flash name ({', '.join(CHANNELS)})")
        else:
            raw[key].append(tok)
    counts = {"az": 1, "el": 1, "dir": 3, "pos": 3, "color": 3, "intensity": 1}
    for k, vals in raw.items():
        try:
            nums = tuple(float(v) for v in vals)
        except ValueError:
            raise InputError(f"{bad}: {k} must be {counts[k]} number(s), got "
                             f"{','.join(vals)!r}") from None
        if len(nums) != counts[k] or not all(np.isfinite(nums)):
            raise InputError(f"{bad}: {k} takes {counts[k]} number(s), got {len(nums)}")
        if k in ("color", "intensity") and min(nums) < 0:
            raise InputError(f"{bad}: {k} must not be negative")
        if k in ("dir", "pos") and not np.linalg.norm(nums) > 0:
            raise InputError(f"{bad}: {k} must not be zero")
        spec.values[k] = nums
    where = [k for k in ("dir", "pos") if k in spec.values]
    angles = [k for k in ("az", "el") if k in spec.values]
    if spec.flash is not None:
        if where or angles:
            raise InputError(f"{bad}: a flash's direction comes from its calibration; give "
                             "only color= and intensity= with its name")
    elif len(where) + bool(angles) != 1:
        raise InputError(f"{bad}: give exactly one of az=,el= / dir= / pos=")
    elif angles and len(angles) != 2:
        raise InputError(f"{bad}: give both az= and el= (degrees)")
    return spec


@dataclass
class Portrait:
    """What is relit: geometry, reflectance, the photo kept outside the face, provenance."""

    normals: np.ndarray
    mask: np.ndarray
    albedo: np.ndarray
    photo: np.ndarray  # linear
    rig: LightRig | None
    source: dict
    depth: np.ndarray | None = None
    mm_per_pixel: float | None = None  # None: the mask's width taken as a head's
    blend: np.ndarray | None = None  # how much of the relit portrait shows (None: the mask)


def _capture_rig(capture: Path, calibration: str | None, lights: str | None
                 ) -> tuple[LightRig, str | None, str | None, str]:
    """The flashes a capture's names mean, and the files its normals are computed with: the
    files given; else its session's calibration; else a lights.yaml beside the photos (as a
    simulated capture has); else the nominal booth."""
    from booth.processing import resolve_light_model
    from photometric.calibration import Calibration
    from photometric.io.rigfile import load_rig
    from photometric.lights import nominal_rig

    model = resolve_light_model(capture, calibration, lights)
    source = {"beside": "lights.yaml beside the photos",
              "nominal": "the nominal booth (no calibration found)"}.get(model.source,
                                                                          model.source)
    calibration = str(model.calibration) if model.calibration else None
    lights = str(model.lights) if model.lights else None
    if lights is not None:
        return load_rig(lights), calibration, lights, source
    if calibration is not None:
        return Calibration.load(calibration).rig, calibration, None, source
    return nominal_rig(), None, None, source


def load_capture(capture: Path, calibration: str | None, lights: str | None,
                 albedo: str = "stereo") -> Portrait:
    """Photometric stereo's normals and albedo (or the ring flash's albedo) of a capture."""
    from booth.processing import compute_normals

    rig, calibration, lights, source = _capture_rig(capture, calibration, lights)
    n = compute_normals(capture, calibration=calibration, lights=lights)
    res = n.result
    images = n.loaded.images
    ring = images["center"].astype(np.float32) / np.float32(n.loaded.white_level)
    if ring.ndim == 2:
        ring = np.repeat(ring[..., None], 3, axis=2)
    if albedo == "ring":
        alb = relight.ring_albedo(ring, res.normals, res.mask, rig.intensity("center"))
    else:
        alb = res.albedo if res.albedo.ndim == 3 else np.repeat(res.albedo[..., None], 3, 2)
    return Portrait(res.normals, res.mask, alb, ring, rig,
                    {"capture": str(capture), "normals": f"photometric stereo ({res.method})",
                     "lights": source, "albedo": albedo})


def _read_mask(path: str, shape: tuple[int, int]) -> np.ndarray:
    m = imageio.read_image(path)
    if m.ndim == 3:
        m = m.max(axis=2)
    if m.shape != shape:
        raise InputError(f"{path}: the mask is {m.shape[1]}×{m.shape[0]}, the photo "
                         f"{shape[1]}×{shape[0]}; expected the same size")
    return m > 0


def _read_normals(path: str, shape: tuple[int, int]) -> np.ndarray:
    p = Path(path)
    n = normalmap.read_npy(p) if p.suffix.lower() == ".npy" else normalmap.read_png16(p)
    if n.shape[:2] != shape:
        raise InputError(f"{path}: the normal map is {n.shape[1]}×{n.shape[0]}, the photo "
                         f"{shape[1]}×{shape[0]}; expected the same size")
    return n.astype(np.float32)


def load_portrait(image: Path, normals: str | None, mask: str | None, predict: bool,
                  model: str | None, device: str = "cpu") -> Portrait:
    """A portrait and its normals (given, or predicted); its albedo estimated."""
    from learning.prediction import read_portrait

    rgb8 = read_portrait(image)
    photo = srgb_decode(rgb8.astype(np.float32) / 255.0).astype(np.float32)
    shape = rgb8.shape[:2]
    if predict:
        from learning.facemesh import NoFaceError
        from learning.prediction import Predictor, model_path

        weights = model_path(model)
        predictor = Predictor.load(weights, device)
        try:
            predicted = predictor.photo(rgb8, 1)
        except NoFaceError as exc:
            raise InputError(f"{image}: {exc}") from None
        n, m, skin = predicted.normals, predicted.mask, predicted.ovals()
        blend = predicted.blend()
        how = f"predicted by {model or f'the shipped model ({weights.stem})'}"
        # the mask holds the whole person now: the face's width sets the scale
        lm = predicted.faces[0].landmarks
        scale = relight.head_scale(np.ptp(lm[:, 0]))
    else:
        skin, scale, blend = None, None, None
        n = _read_normals(normals, shape)
        m = _read_mask(mask, shape) if mask else np.linalg.norm(n, axis=-1) > 0.5
        how = f"given: {normals}"
    relight.check_normals(n, m, f"{normals or image}")
    albedo, found = relight.portrait_albedo(photo, n, m, skin=skin)
    return Portrait(n, m, albedo, photo, None,
                    {"photo": str(image), "normals": how,
                     "albedo": "the photo divided by its fitted SH shading (white light, "
                               "uniform skin assumed)",
                     "photo_light_sh": np.round(found.coefficients, 5).tolist()},
                    mm_per_pixel=scale, blend=blend)


def contact_lights() -> list[tuple[str, Scene]]:
    """Eight lightings a photographer would try, for the contact sheet."""
    def key(az: float, el: float, amb: float = 0.08) -> Scene:
        return Scene([DirectionalLight(relight.direction(az, el), 1.0)], (amb,) * 3)

    return [("key left", key(-40, 25)), ("key right", key(40, 25)),
            ("butterfly", key(0, 45)), ("split", key(-90, 0, 0.03)),
            ("rim", key(130, 20, 0.05)), ("under", key(0, -40)),
            ("studio (SH)", Scene(sh=sh.PRESETS["studio"])),
            ("sunset (SH)", Scene(sh=sh.PRESETS["sunset"]))]


def _fit(img: np.ndarray, side: int) -> np.ndarray:
    """Scaled so the long side is at most ``side``, both sides even (video wants that)."""
    h, w = img.shape[:2]
    s = min(1.0, side / max(h, w))
    nh, nw = max(2, int(round(h * s / 2)) * 2), max(2, int(round(w * s / 2)) * 2)
    if (nh, nw) == (h, w):
        return img
    return cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)


def orbit_frames(r: Relighter, scene: Scene, n: int,
                 progress: Callable[[int, int], None] | None = None) -> list[np.ndarray]:
    """``n`` 8-bit sRGB frames with a light circling the face (the scene's others kept)."""
    frames = []
    buf = np.empty((*r.shape, 3), np.float32)
    key = scene.lights[0] if scene.lights else DirectionalLight((0, 0, 1), 1.0)
    for k, light in enumerate(relight.orbit(n, 25.0, key.intensity, key.color)):
        s = Scene([light, *scene.lights[1:]], scene.ambient, scene.sh, scene.specular,
                  scene.shadows)
        frames.append(_fit(response.to_srgb8(r.render(s, buf)), ORBIT_SIDE))
        if progress:
            progress(k + 1, n)
    return frames


def write_gif(path: Path, frames: list[np.ndarray], seconds: float = 4.0) -> None:
    """The frames as a looping GIF with one palette made for them (median cut over all the
    frames) and Floyd-Steinberg dithering: a GIF holds 256 colours, and the default
    per-frame quantisation turned skin grey-green."""
    from PIL import Image

    step = max(1, len(frames) // 16)  # the palette from up to 16 frames, side by side
    mosaic = Image.fromarray(np.concatenate([np.asarray(f) for f in frames[::step]], axis=1))
    palette = mosaic.quantize(256, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(np.asarray(f)).quantize(palette=palette,
                                                      dither=Image.Dither.FLOYDSTEINBERG)
              for f in frames]
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 * seconds / len(frames)), loop=0, optimize=False)


def write_mp4(path: Path, frames: list[np.ndarray], seconds: float = 4.0) -> None:
    import imageio.v2 as iio

    fps = max(1.0, len(frames) / seconds)
    with iio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", quality=8,
                        pixelformat="yuv420p", macro_block_size=2,
                        ffmpeg_log_level="error") as w:
        for f in frames:
            w.append_data(f)


def contact_sheet(r: Relighter, scene: Scene) -> np.ndarray:
    """A 4×2 grid of the eight lightings, labelled (8-bit sRGB)."""
    tiles = []
    for label, s in contact_lights():
        s.specular, s.shadows = scene.specular, scene.shadows
        t = _fit(response.to_srgb8(r.render(s)), SHEET_TILE)
        t = np.ascontiguousarray(t)
        cv2.putText(t, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(t, label, (8, 24), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1,
                    cv2.LINE_AA)
        tiles.append(t)
    rows = [np.hstack(tiles[i:i + 4]) for i in (0, 4)]
    return np.vstack(rows)


def _png(path: Path, rgb: np.ndarray) -> None:
    atomic_write(path, lambda p: imageio.write_image(p, rgb))


def output(out: str | Path) -> OutputDir:
    """``--out``, refused before any work when it is neither new, empty nor ours."""
    return OutputDir(out, COMMAND, NAMES)


def run(portrait: Portrait, scene: Scene, target: OutputDir, orbit: int = 0,
        progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Relight and write everything into ``target`` (whole or not at all); the names
    written."""
    r = Relighter(portrait.normals, portrait.mask, portrait.albedo, portrait.photo,
                  portrait.depth, portrait.mm_per_pixel, blend=portrait.blend)
    relit = r.render(scene)
    written = []
    with target as stage:
        _png(stage / "relit.png", response.to_srgb8(relit))
        _png(stage / "relit16.png", imageio.to_uint(np.clip(relit, 0.0, 1.0), 16))
        _png(stage / "albedo.png", response.to_srgb8(portrait.albedo))
        written += ["relit.png", "relit16.png", "albedo.png"]
        if r.depth is not None:
            d = r.depth
            atomic_write(stage / "depth.npy", lambda p: np.save(p, d))
            lo, hi = (float(d[r.mask].min()), float(d[r.mask].max())) if r.mask.any() else (0, 1)
            vis = np.where(r.mask, 255 - np.clip((d - lo) / max(hi - lo, 1e-6) * 255, 0, 255),
                           0).astype(np.uint8)
            _png(stage / "depth.png", vis)
            written += ["depth.npy", "depth.png"]
        if orbit:
            frames = orbit_frames(r, scene, orbit, progress)
            atomic_write(stage / "orbit.gif", lambda p: write_gif(p, frames))
            atomic_write(stage / "orbit.mp4", lambda p: write_mp4(p, frames))
            _png(stage / "contact_sheet.png", contact_sheet(r, scene))
            written += ["orbit.gif", "orbit.mp4", "contact_sheet.png"]
        meta = {"input": portrait.source,
                "lights": [_describe(light) for light in scene.lights],
                "ambient": list(scene.ambient),
                "sh": np.round(scene.sh, 5).tolist() if scene.sh is not None else None,
                "specular": (None if scene.specular is None else
                             {"roughness": scene.specular.roughness, "f0": scene.specular.f0}),
                "shadows": scene.shadows, "orbit_frames": orbit or None,
                "files": {"relit.png": "8-bit sRGB", "relit16.png": "16-bit linear",
                          "albedo.png": "8-bit sRGB",
                          "depth.npy": "float32, pixel widths along the view axis, "
                                       "0 outside the mask"}}
        write_text(stage / "relight.yaml", yaml.safe_dump(meta, sort_keys=False))
        written.append("relight.yaml")
    return written


def _describe(light: Light) -> dict:
    if isinstance(light, PointLight):
        where = {"position_mm": [round(float(x), 3) for x in light.position]}
    else:
        where = {"direction": [round(float(x), 5) for x in light.direction]}
    return {**where, "intensity": round(float(light.intensity), 5),
            "color": [round(float(c), 5) for c in light.color]}


@dataclass
class SceneArgs:
    """The command line's lighting, checked before any work; :meth:`scene` resolves flash
    names once the capture's rig is known."""

    specs: list[LightSpec]
    coeffs: np.ndarray | None
    ambient: tuple[float, float, float]
    specular: Specular | None
    shadows: bool

    @classmethod
    def parse(cls, lights: list[str] | None, sh_spec: str | None, env: str | None,
              ambient: tuple[float, ...] | None, specular: float | None,
              shadows: bool) -> SceneArgs:
        """``ambient``: one number (grey) or R, G, B, each >= 0 (``--ambient``'s parser
        checks that they are numbers >= 0)."""
        specs = [parse_light(t) for t in (lights or [])]
        coeffs = sh.load(sh_spec) if sh_spec else None
        if env:
            found = sh.project(environment.read_environment(env))
            coeffs = found if coeffs is None else coeffs + found
        if not specs and coeffs is None:  # a key light and fill, unless told otherwise
            specs = [parse_light(DEFAULT_LIGHT)]
            if ambient is None:
                ambient = (DEFAULT_AMBIENT,)
        amb = tuple(ambient) if ambient is not None else (0.0,)
        if len(amb) == 1:
            amb *= 3
        elif len(amb) != 3:
            raise InputError(f"--ambient {','.join(f'{a:g}' for a in amb)}: expected one "
                             "number or R,G,B")
        spec = Specular(specular) if specular is not None else None
        return cls(specs, coeffs, amb, spec, shadows)

    def scene(self, rig: LightRig | None, where: str) -> Scene:
        return Scene([s.light(rig, where) for s in self.specs], self.ambient, self.coeffs,
                     self.specular, self.shadows)
