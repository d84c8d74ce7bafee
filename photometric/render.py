"""The forward model: how the booth's camera sees a surface under one flash.

Start here. Everything else in ``photometric`` inverts this: a pixel's value is
``gain × (albedo × Σ_lights V · E · max(n·l, 0) + specular + albedo × ambient)`` plus sensor
noise, clipped and quantised. Directional lights have one direction; point lights have a
per-pixel direction and inverse-square falloff, which needs the surface's 3-D positions.
V is 1 where the light sees the point and 0 in a cast shadow: a surface rendered from a mesh
(a simulated person) carries that mesh as its ``occluder``, and each light's shadow is found
with a shadow map (:func:`photometric.raster.shadow_mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from photometric import raster
from photometric.lights import DirectionalLight, Light, PointLight

#: How far a distant light's shadow map is rendered from (mm): far enough that its rays are
#: parallel to within 0.2° across a head.
_DISTANT_MM = 1.0e5


@dataclass
class Occluder:
    """The mesh a surface was rendered from (subject frame, mm), to cast its shadows."""

    vertices: np.ndarray
    faces: np.ndarray
    map_size: int = 512


@dataclass
class Surface:
    """What the camera looks at, per pixel: geometry and reflectance.

    ``normals`` (H, W, 3) unit vectors, ``albedo`` (H, W, 3) in [0, 1], ``mask`` (H, W) bool,
    ``positions`` (H, W, 3) in mm, camera space (needed by point lights and specular).
    ``specular`` is the Blinn-Phong weight; 0 models the booth's cross-polarised flashes.
    ``occluder``: the mesh that casts shadows (None: nothing is shadowed); ``depth`` (H, W)
    the distance along the view axis (mm) where known; ``parts`` (H, W) uint8 what each
    pixel shows (:mod:`photometric.sim.parts`) where known; ``glass`` (H, W, 3) the unit
    normals of a clear glass in front of the surface (glasses' lenses), zero where there is
    none: what a camera sees through it is the surface (its albedo already holds the glass's
    transmission), plus the glass's own reflections where those are modelled; ``strands``
    (H, W, 3) the unit direction of hair's strands where there is hair (zero elsewhere),
    for its anisotropic highlight where that is modelled.
    """

    normals: np.ndarray
    albedo: np.ndarray
    mask: np.ndarray
    positions: np.ndarray | None = None
    specular: float = 0.0
    shininess: float = 40.0
    occluder: Occluder | None = None
    depth: np.ndarray | None = None
    parts: np.ndarray | None = None
    glass: np.ndarray | None = None
    strands: np.ndarray | None = None
    # Shadow masks per light position; not an init field, so dataclasses.replace() (a surface
    # with other normals or positions) starts with none rather than stale ones.
    _lit: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.normals.shape[:2]

    def lit(self, light: Light) -> np.ndarray | None:
        """(H, W) bool: where ``light`` reaches the surface, None when nothing casts shadows.
        Kept per light, so the five flashes' maps are made once per subject."""
        if self.occluder is None:
            return None
        if isinstance(light, DirectionalLight):
            d = np.asarray(light.direction, np.float64)
            source = tuple(d / np.linalg.norm(d) * _DISTANT_MM)
        else:
            source = tuple(float(x) for x in light.position)
        if source not in self._lit:
            if self.positions is None:
                raise ValueError("cast shadows need surface.positions")
            occ = self.occluder
            self._lit[source] = raster.shadow_mask(
                self.positions, self.mask, occ.vertices, occ.faces, np.asarray(source),
                self.normals, size=occ.map_size)
        return self._lit[source]


@dataclass(frozen=True)
class SensorModel:
    """Sensor model: linear gain, additive Gaussian noise (fraction of full scale), bit depth.

    ``bits=None`` returns float32 in [0, 1] after clipping; 8 or 16 returns uint8/uint16.
    ``distance`` (mm) puts the camera on the +z axis for the specular view vector; ``None`` is
    an orthographic view along +z.
    """

    gain: float = 0.8
    noise: float = 0.0
    bits: int | None = None
    distance: float | None = None


def irradiance(
    surface: Surface, light: Light
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(E · cos, unit direction per pixel or broadcastable, falloff) for one light."""
    return _irradiance(surface.normals, surface.positions, light)


def _irradiance(n: np.ndarray, positions: np.ndarray | None, light: Light
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`irradiance` of normals ``n`` (..., 3) at ``positions`` (..., 3)."""
    if isinstance(light, DirectionalLight):
        d = np.asarray(light.direction, np.float32)
        d = d / np.linalg.norm(d)
        cos = n @ d
        return np.maximum(cos, 0.0) * np.float32(light.intensity), d, np.float32(1.0)
    if isinstance(light, PointLight):
        if positions is None:
            raise ValueError("point lights need surface.positions")
        v = np.asarray(light.position, np.float32) - positions
        dist2 = np.einsum("...k,...k->...", v, v)
        d = v / np.sqrt(dist2)[..., None]
        falloff = np.float32(light.reference_distance**2) / dist2
        cos = np.einsum("...k,...k->...", n, d)
        return np.maximum(cos, 0.0) * falloff * np.float32(light.intensity), d, falloff
    raise TypeError(f"unknown light type {type(light).__name__}")


def shade(
    surface: Surface,
    lights: Sequence[Light],
    ambient: Sequence[float] = (0.0, 0.0, 0.0),
    camera: SensorModel = SensorModel(),
) -> np.ndarray:
    """Noise-free linear radiance (H, W, 3) float32 of ``surface`` under ``lights``, zero
    outside its mask. Worked out on the masked pixels alone (a person covers about half a
    portrait: half the work of the whole frame)."""
    h, w = surface.shape
    out = np.zeros((h, w, 3), np.float32)
    idx = np.flatnonzero(surface.mask)
    n = surface.normals.reshape(-1, 3)[idx]
    pos = None if surface.positions is None else surface.positions.reshape(-1, 3)[idx]
    albedo = surface.albedo.reshape(-1, 3)[idx]
    acc = albedo * np.asarray(ambient, np.float32)
    if surface.specular > 0:
        if camera.distance is None or pos is None:
            view = np.array([0.0, 0.0, 1.0], np.float32)
        else:
            view = np.array([0.0, 0.0, camera.distance], np.float32) - pos
            view = view / np.linalg.norm(view, axis=-1, keepdims=True)
    for light in lights:
        e, d, falloff = _irradiance(n, pos, light)
        seen = surface.lit(light)
        if seen is not None:
            e = np.where(seen.reshape(-1)[idx], e, np.float32(0.0))
        color = np.asarray(light.color, np.float32)
        acc += e[:, None] * (albedo * color)
        if surface.specular > 0:
            half = d + view
            half = half / np.linalg.norm(half, axis=-1, keepdims=True)
            nh = np.maximum(np.einsum("...k,...k->...", n, half), 0.0)
            spec = np.where(e > 0, nh**surface.shininess, 0.0) * falloff * light.intensity
            acc += (surface.specular * spec)[:, None].astype(np.float32) * color
    out.reshape(-1, 3)[idx] = acc
    return out


def expose(
    radiance: np.ndarray, camera: SensorModel = SensorModel(),
    rng: np.random.Generator | None = None
) -> np.ndarray:
    """Apply gain, noise, clipping and quantisation to a radiance image."""
    img = radiance * np.float32(camera.gain)
    if camera.noise > 0:
        rng = rng if rng is not None else np.random.default_rng()
        # numpy's float64 draws, as the tests' accuracy bounds were measured with (OpenCV's
        # generator is four times faster, but the JPEG path's response fit, without an
        # ambient frame, moves by half a degree between noise draws: see the note in
        # tests/photometric/calibration/test_response_fit.py).
        img = img + rng.normal(0.0, camera.noise, img.shape).astype(np.float32)
    img = np.clip(img, 0.0, 1.0, out=img)
    if camera.bits is None:
        return img.astype(np.float32, copy=False)
    if camera.bits not in (8, 16):
        raise ValueError(f"camera bits must be 8 or 16, got {camera.bits}")
    top = 255 if camera.bits == 8 else 65535
    return np.rint(img * top).astype(np.uint8 if camera.bits == 8 else np.uint16)


def render(
    surface: Surface,
    lights: Sequence[Light],
    camera: SensorModel = SensorModel(),
    ambient: Sequence[float] = (0.0, 0.0, 0.0),
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """One photo of ``surface`` under ``lights`` plus ``ambient``, through ``camera``."""
    return expose(shade(surface, lights, ambient, camera), camera, rng)
