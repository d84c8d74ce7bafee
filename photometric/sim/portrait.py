"""Portrait light: a simulated person as a phone or a studio photographs them, with the same
exact truth as under the booth's flashes.

A :class:`Scene` is everything about the picture that is not the person: the camera (a 35 mm
equivalent focal length from a phone's wide lens to a portrait lens, and the framing from a
tight face to head and shoulders, which together set how far away it stands), the light (an
environment as second-order spherical harmonics, from a sky, a ground, windows and lamps
of mixed colour temperatures; a key light with cast shadows and a sheen on the skin; the
exposure, under or over), a background (the booth's backdrop, plain or graded, or a
procedural scene of textures and shapes, out of focus), and the camera's finish (defocus,
motion blur, sensor noise, a white-balance error, JPEG quality). The background is never in
the truth: the surface's mask says where the person is.

:func:`draw` picks a scene from a seed; :func:`photograph` renders a surface in it to the
8-bit sRGB picture a camera would save (after a JPEG round trip).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from photometric import raster, shlight
from photometric.lights import DirectionalLight
from photometric.render import Surface, irradiance
from photometric.response import encode_srgb8
from photometric.sim import parts

#: Light colours (linear RGB multipliers, green 1) by colour temperature.
TEMPERATURES: dict[str, tuple[float, float, float]] = {
    "tungsten 2700K": (1.0, 0.72, 0.42), "halogen 3200K": (1.0, 0.8, 0.55),
    "fluorescent": (0.92, 1.0, 0.82), "daylight 5500K": (1.0, 1.0, 0.95),
    "overcast 6500K": (0.9, 0.97, 1.08), "shade 8000K": (0.8, 0.92, 1.2),
}

#: Backgrounds: the booth's backdrop, and scenes.
BACKDROPS = ("plain", "gradient", "texture", "shapes", "bokeh")

#: How tall the framed region is (mm) from a tight face (0) to head and shoulders (1), and
#: how far below the head's centre its middle lies.
_FRAME_MM = (270.0, 500.0)
_FRAME_DROP_MM = (0.0, 120.0)


@dataclass(frozen=True)
class Scene:
    """Everything about a portrait that is not the person (see the module docstring)."""

    focal_mm: float  # 35 mm equivalent focal length
    framing: float  # 0 a tight face .. 1 head and shoulders
    environment: tuple[tuple[float, float, float], ...]  # (9, 3) SH radiance
    key: tuple[float, float, float]  # direction toward the key light (unit)
    key_colour: tuple[float, float, float]
    key_power: float  # irradiance relative to the environment's mean
    sheen: float  # specular weight on skin and hair
    exposure: float  # stops from a well-exposed face
    backdrop: str
    backdrop_colours: tuple[tuple[float, float, float], tuple[float, float, float]]
    backdrop_blur: float  # px at 512
    defocus: float  # Gaussian sigma, px at 512
    motion: float  # motion blur length, px at 512
    motion_angle: float  # degrees
    noise: float  # read noise (fraction of full scale); shot noise scales with it
    white_balance: tuple[float, float, float]  # gains the camera got wrong
    jpeg_quality: int
    seed: int


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def environment(rng: np.random.Generator, size: tuple[int, int] = (32, 64)) -> np.ndarray:
    """A random room or outdoor light as an equirectangular radiance image (H, W, 3): a sky
    or ceiling above and a ground or floor below in two colour temperatures, and one to three
    windows or lamps (soft lobes) of their own colours."""
    h, w = size
    d = shlight.directions(h, w)
    temps = list(TEMPERATURES.values())
    sky = np.asarray(temps[rng.integers(len(temps))]) * rng.uniform(0.3, 1.0)
    ground = np.asarray(temps[rng.integers(len(temps))]) * rng.uniform(0.05, 0.35)
    up = np.clip(d[..., 1:2], -1, 1)
    env = 0.5 * (1 + up) * sky + 0.5 * (1 - up) * ground
    for _ in range(int(rng.integers(1, 4))):
        az, el = rng.uniform(-np.pi, np.pi), rng.uniform(-0.2, 1.2)
        toward = np.array([np.cos(el) * np.sin(az), np.sin(el), np.cos(el) * np.cos(az)])
        sharp = rng.uniform(3.0, 30.0)
        lobe = np.exp(sharp * (np.clip(d @ toward, -1, 1) - 1.0))[..., None]
        env = env + lobe * np.asarray(temps[rng.integers(len(temps))]) * rng.uniform(1.0, 8.0)
    return env.astype(np.float32)


def draw(rng: np.random.Generator) -> Scene:
    """A scene: focal length log-uniform 26-85 mm, framing uniform, an environment, a key
    light in front from up to 80° aside and up to 60° above, exposure within about ±1.3
    stops, one of the backdrops, and a camera finish (most pictures sharp and clean, some
    soft, shaken or noisy)."""
    env = shlight.project(environment(rng))
    az, el = np.radians(rng.uniform(-80, 80)), np.radians(rng.uniform(0, 60))
    key = (float(np.cos(el) * np.sin(az)), float(np.sin(el)), float(np.cos(el) * np.cos(az)))
    temps = list(TEMPERATURES.values())
    backdrop = str(rng.choice(BACKDROPS, p=[0.25, 0.2, 0.2, 0.15, 0.2]))
    colours = tuple(tuple(float(x) for x in rng.uniform(0.02, 0.7) * _unit(
        rng.uniform(0.3, 1.0, 3))) for _ in range(2))
    return Scene(
        focal_mm=float(np.exp(rng.uniform(np.log(26.0), np.log(85.0)))),
        framing=float(rng.uniform(0.0, 1.0)),
        environment=tuple(tuple(float(x) for x in row) for row in env),
        key=key, key_colour=tuple(float(x) for x in temps[rng.integers(len(temps))]),
        key_power=float(rng.choice([0.0, rng.uniform(0.5, 4.0)], p=[0.2, 0.8])),
        sheen=float(rng.uniform(0.0, 0.08)),
        exposure=float(np.clip(rng.normal(0.0, 0.6), -1.5, 1.3)),
        backdrop=backdrop, backdrop_colours=colours,  # type: ignore[arg-type]
        backdrop_blur=float(rng.uniform(0.0, 8.0)),
        defocus=float(rng.choice([0.0, rng.uniform(0.3, 1.8)], p=[0.6, 0.4])),
        motion=float(rng.choice([0.0, rng.uniform(1.0, 5.0)], p=[0.85, 0.15])),
        motion_angle=float(rng.uniform(0, 180)),
        noise=float(np.exp(rng.uniform(np.log(0.001), np.log(0.02)))),
        white_balance=tuple(float(x) for x in rng.uniform(0.85, 1.15, 3)),
        jpeg_quality=int(rng.integers(60, 96)), seed=int(rng.integers(2**62)))


def view(scene: Scene, size: int) -> tuple[raster.PerspectiveCamera, np.ndarray]:
    """The camera and where it stands (subject frame, mm; level with the head's centre,
    looking down -z): a square picture whose side sees the framed height at the head, at
    the distance the focal length needs for that, the frame's middle lowered by the framing
    (a shifted principal point: a photographer at eye height framing the shoulders)."""
    half = np.arctan(12.0 / scene.focal_mm)  # half the field of a 24 mm side
    span = _FRAME_MM[0] + scene.framing * (_FRAME_MM[1] - _FRAME_MM[0])
    drop = _FRAME_DROP_MM[0] + scene.framing * (_FRAME_DROP_MM[1] - _FRAME_DROP_MM[0])
    distance = 0.5 * span / np.tan(half)
    focal_px = 0.5 * size / np.tan(half)
    cy = (size - 1) / 2.0 - focal_px * drop / distance
    return (raster.PerspectiveCamera(focal_px=float(focal_px), width=size, height=size,
                                     cy=float(cy)),
            np.array([0.0, 0.0, 120.0 + distance]))


def shade(surface: Surface, scene: Scene, eye: np.ndarray) -> np.ndarray:
    """The person's linear radiance (H, W, 3): albedo × (environment + key light outside its
    cast shadows) + a sheen of the key light (Blinn-Phong)."""
    m = surface.mask
    n = surface.normals[m].astype(np.float64)
    env = np.asarray(scene.environment)
    light = shlight.shading(n, env).astype(np.float64)
    mean = float(np.clip(env[0] * shlight.K0, 1e-3, None).mean())
    out = np.zeros((*m.shape, 3), np.float32)
    colour = np.asarray(scene.key_colour)
    if scene.key_power > 0:
        key = DirectionalLight(scene.key, scene.key_power * mean)
        e, _, _ = irradiance(surface, key)
        seen = surface.lit(key)
        vis = e[m] * (penumbra(seen, m)[m] if seen is not None else 1.0)
        light += vis[:, None] * colour[None, :]
        v = eye - surface.positions[m]
        half = np.asarray(scene.key) + v / np.linalg.norm(v, axis=1, keepdims=True)
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        spec = scene.sheen * scene.key_power * mean * np.clip(
            np.einsum("ij,ij->i", n, half), 0, 1) ** 30 * (vis > 0)
        spec = np.broadcast_to(spec[:, None] * colour[None, :], (len(n), 3)).copy()
        if surface.strands is not None:
            t = surface.strands[m].astype(np.float64)
            hair = np.linalg.norm(t, axis=1) > 0.5
            spec[hair] = hair_highlight(t[hair], n[hair], half[hair],
                                        surface.albedo[m][hair]) * (
                scene.key_power * mean * (vis[hair] > 0))[:, None] * colour[None, :]
    else:
        spec = np.zeros((len(n), 3))
    out[m] = surface.albedo[m] * light + spec
    if surface.glass is not None:
        out += reflections(surface.glass, surface.positions, scene, eye, mean)
    if surface.parts is not None:  # the corneas: a catchlight of the key light and the room
        cornea = np.where((surface.parts == parts.EYES)[..., None], surface.normals, 0.0)
        out += reflections(cornea, surface.positions, scene, eye, mean, f0=_CORNEA)
    return out


#: Hair's highlights (Kajiya and Kay's, with Scheuermann's shifted tangents): the primary
#: lobe (the light's colour) and the secondary one (through the fibre: the hair's colour),
#: each a shift of the strand toward the normal, a sharpness and a weight.
_HAIR_LOBES = ((-0.08, 140.0, 0.12), (0.12, 30.0, 0.5))


def hair_highlight(strands: np.ndarray, normals: np.ndarray, half: np.ndarray,
                   albedo: np.ndarray) -> np.ndarray:
    """Hair's anisotropic highlight (P, 3) per unit of the light's irradiance: a band across
    the strands where the half vector is perpendicular to them, twice (a white primary, a
    coloured secondary shifted toward the roots), not the round spot of a smooth surface."""
    out = np.zeros((len(strands), 3))
    for shift, sharp, weight in _HAIR_LOBES:
        t = strands + shift * normals
        t /= np.linalg.norm(t, axis=1, keepdims=True)
        th = np.clip(np.einsum("ij,ij->i", t, half), -1.0, 1.0)
        lobe = weight * np.sqrt(1.0 - th ** 2) ** sharp
        tint = np.ones(3) if shift < 0 else 2.0 * np.asarray(albedo, np.float64)
        out += lobe[:, None] * tint
    return out


#: A glass's and a cornea's reflectance at normal incidence, and the sharpness of a light's
#: glint on them.
_F0, _CORNEA, _GLINT = 0.04, 0.025, 900.0


def reflections(normals: np.ndarray, positions: np.ndarray, scene: Scene, eye: np.ndarray,
                mean: float, f0: float = _F0) -> np.ndarray:
    """What a smooth glassy surface reflects (H, W, 3) where ``normals`` (H, W, 3) are
    non-zero (the lenses of glasses, the corneas): the environment in the mirror direction
    and the key light's glint, weighted by Schlick's Fresnel term from ``f0``."""
    out = np.zeros((*normals.shape[:2], 3), np.float32)
    where = np.linalg.norm(normals, axis=-1) > 0.5
    n = normals[where].astype(np.float64)
    v = eye - positions[where]
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    cos = np.clip(np.einsum("ij,ij->i", n, v), 0.0, 1.0)
    fresnel = f0 + (1.0 - f0) * (1.0 - cos) ** 5
    r = 2.0 * cos[:, None] * n - v
    env = np.clip(shlight.basis(r) @ np.asarray(scene.environment), 0.0, None)
    light = env * fresnel[:, None]
    if scene.key_power > 0:
        half = np.asarray(scene.key) + v
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        lobe = (_GLINT + 8.0) / (8.0 * np.pi) * np.clip(
            np.einsum("ij,ij->i", n, half), 0.0, 1.0) ** _GLINT
        light += (scene.key_power * mean * fresnel * lobe)[:, None] * np.asarray(
            scene.key_colour)[None, :]
    out[where] = light
    return out


def penumbra(lit: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A cast shadow's soft edge (H, W) float32 in [0, 1]: the lit map blurred within the
    person (a key light is a lamp or a window, not a point; and the blur hides the steps a
    shadow of a coarse mesh's silhouette has), 2 px at 512 px."""
    sigma = 2.0 * mask.shape[0] / 512.0
    inside = mask.astype(np.float32)
    num = cv2.GaussianBlur(lit.astype(np.float32) * inside, (0, 0), sigma)
    den = cv2.GaussianBlur(inside, (0, 0), sigma)
    return np.where(mask, num / np.maximum(den, 1e-6), 0.0).astype(np.float32)


def background(scene: Scene, size: int, level: float) -> np.ndarray:
    """The backdrop or scene behind the person, linear (size, size, 3), around ``level``."""
    rng = np.random.default_rng(scene.seed)
    a, b = (np.asarray(c, np.float32) for c in scene.backdrop_colours)
    rows = np.linspace(0, 1, size, dtype=np.float32)[:, None, None]
    if scene.backdrop == "plain":
        img = np.broadcast_to(a, (size, size, 3)).copy()
    elif scene.backdrop == "gradient":
        img = np.broadcast_to(a * (1 - rows) + b * rows, (size, size, 3)).copy()
    elif scene.backdrop == "texture":
        noise = cv2.resize(rng.random((8, 8)).astype(np.float32), (size, size),
                           interpolation=cv2.INTER_CUBIC)[..., None]
        fine = cv2.GaussianBlur(rng.random((size, size)).astype(np.float32), (0, 0), 2.0)
        img = a * (1 - noise) + b * noise
        img = img * (0.8 + 0.4 * fine[..., None])
    else:
        img = np.broadcast_to(a * (1 - rows) + b * rows, (size, size, 3)).copy()
        for _ in range(int(rng.integers(6, 30 if scene.backdrop == "shapes" else 60))):
            colour = rng.uniform(0.02, 0.8, 3).astype(np.float32)
            x, y = (int(v) for v in rng.integers(0, size, 2))
            r = int(rng.integers(size // 40 + 1, size // 5))
            if scene.backdrop == "bokeh":
                cv2.circle(img, (x, y), r // 2 + 1, colour.tolist(), -1, cv2.LINE_AA)
            else:
                w, h = (int(v) for v in rng.integers(size // 30 + 1, size // 3, 2))
                cv2.rectangle(img, (x, y), (x + w, y + h), colour.tolist(), -1)
    img = np.clip(img, 0, None).astype(np.float32)
    img *= level / max(float(img.mean()), 1e-4)
    sigma = scene.backdrop_blur * size / 512.0 + (6.0 * size / 512 if scene.backdrop == "bokeh"
                                                   else 0.0)
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    return img


def jpeg(surface: Surface, scene: Scene, eye: np.ndarray) -> bytes:
    """The JPEG file the camera at ``eye`` saves of ``surface`` in ``scene``: the exposure,
    the background, the lens and motion blur, noise, the white-balance error, sRGB encoding
    and the scene's JPEG quality."""
    size = surface.shape[0]
    rng = np.random.default_rng(scene.seed + 1)
    person = shade(surface, scene, eye)
    m = surface.mask
    skin = m if surface.parts is None else m & (surface.parts == 1)
    face = float(np.median(person[skin].mean(1))) if skin.any() else 0.2
    gain = 0.22 * 2.0 ** scene.exposure / max(face, 1e-4)
    person *= gain
    img = background(scene, size, level=float(np.clip(0.15 * 2 ** scene.exposure, 0.02, 0.6)))
    img[m] = person[m]
    scale = size / 512.0
    if scene.defocus > 0:
        img = cv2.GaussianBlur(img, (0, 0), scene.defocus * scale)
    if scene.motion > 0:
        length = max(2, int(round(scene.motion * scale)))
        kernel = np.zeros((length * 2 + 1, length * 2 + 1), np.float32)
        c = np.array([length, length], np.float64)
        t = np.radians(scene.motion_angle)
        p0 = c - length * np.array([np.cos(t), np.sin(t)])
        p1 = c + length * np.array([np.cos(t), np.sin(t)])
        cv2.line(kernel, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 1.0, 1)
        img = cv2.filter2D(img, -1, kernel / kernel.sum())
    img = img * np.asarray(scene.white_balance, np.float32)
    sd = np.sqrt(scene.noise ** 2 + 0.3 * scene.noise * np.clip(img, 0, None))
    img = np.clip(img + rng.standard_normal(img.shape).astype(np.float32) * sd, 0.0, 1.0)
    srgb = encode_srgb8(img.astype(np.float32))
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(srgb, cv2.COLOR_RGB2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, scene.jpeg_quality])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image
        raise OSError("could not encode a portrait")
    return data.tobytes()


def photograph(surface: Surface, scene: Scene, eye: np.ndarray) -> np.ndarray:
    """The picture :func:`jpeg` saves, decoded: 8-bit sRGB (H, W, 3)."""
    data = np.frombuffer(jpeg(surface, scene, eye), np.uint8)
    return cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
