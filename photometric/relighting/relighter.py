"""Relighting: a portrait re-rendered under new light from its normal map and albedo.

The image model is the forward model's (:mod:`photometric.render`), in linear light:

    relit = albedo × (Σ_lights V · E · colour · max(n·l, 0) + ambient + S_sh(n)) + specular

with ``albedo`` in image units (a white matte surface facing a light of intensity 1 shows 1),
as photometric stereo measures it, so relighting a capture with one of its flashes' direction
and intensity gives back that flash's photo. ``V`` is 1 where the light reaches the pixel
(cast shadows from a depth map integrated from the normals,
:mod:`photometric.relighting.depth`, when asked for), ``S_sh`` the shading of a second-order
spherical-harmonics environment (:mod:`photometric.relighting.harmonics`), and ``specular`` an
optional GGX microfacet lobe (Cook–Torrance with Smith–Schlick masking and Schlick's Fresnel,
skin's F0 = 0.028), white, not tinted by the albedo. The view is orthographic along +z (a
camera about a metre from a face sees it within a
few degrees of that).

Outside the mask the original photo's pixels are kept; at the mask's edge the two are blended
over a few pixels (``alpha``: 0 outside, 1 a feather's width inside), so there is no seam;
a ``blend`` weight, where given, fades it further (a predicted person whose crop cuts through
the shoulders fades back to the photo there instead of ending at the crop's straight edge).
All of it is one numba pass per frame (:func:`_kernel`): no per-pixel Python and no
full-size temporaries, so a light can move at video rate in the operator's app and a 24 MP
capture relights in little more memory than its inputs and output.

For a single portrait whose normals are predicted, :func:`portrait_albedo` estimates the
albedo by fitting the photo's own light as second-order spherical harmonics over the face and
dividing its shading out, under the assumptions stated there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
from numba import njit

from photometric.errors import InputError
from photometric.lights import DirectionalLight, Light, PointLight
from photometric.relighting import harmonics as sh

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}
#: Skin's reflectance at normal incidence (refractive index about 1.4).
SKIN_F0 = 0.028
#: Width of the seam blend at the mask's edge, as a share of the image's diagonal.
FEATHER = 0.004
#: A point light's positions need the face's size in millimetres; without one given, the
#: mask's width is taken as this (an adult head's breadth, about 150-160 mm).
HEAD_WIDTH_MM = 155.0
#: Normals must be unit vectors inside the mask: the median |n| within this of 1.
UNIT_TOLERANCE = 0.02


@dataclass(frozen=True)
class Specular:
    """A GGX lobe: ``roughness`` in (0, 1] (GGX alpha = roughness²), ``f0`` the reflectance
    at normal incidence, ``weight`` a scale for the whole lobe (1: physically plausible)."""

    roughness: float = 0.4
    f0: float = SKIN_F0
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not 0.02 <= self.roughness <= 1.0:
            raise InputError(f"specular roughness {self.roughness}: expected 0.02 to 1")


@dataclass
class Scene:
    """What to light with: lights, an ambient colour, an SH environment, a specular lobe."""

    lights: Sequence[Light] = ()
    ambient: tuple[float, float, float] = (0.0, 0.0, 0.0)
    sh: np.ndarray | None = None  # (9, 3) radiance coefficients (photometric.relighting.harmonics)
    specular: Specular | None = None
    shadows: bool = False


def head_scale(width_px: float) -> float:
    """Millimetres per pixel of a head ``width_px`` pixels wide (``HEAD_WIDTH_MM``)."""
    return HEAD_WIDTH_MM / max(float(width_px), 1.0)


def check_normals(normals: np.ndarray, mask: np.ndarray, source: str = "the normal map") -> None:
    """Refuse a map that is not unit vectors inside its mask (say, a colour photo)."""
    if normals.ndim != 3 or normals.shape[2] != 3:
        raise InputError(f"{source}: expected an (H, W, 3) normal map, got shape "
                         f"{normals.shape}")
    if mask.shape != normals.shape[:2]:
        raise InputError(f"{source}: its mask is {mask.shape[1]}×{mask.shape[0]}, the map "
                         f"{normals.shape[1]}×{normals.shape[0]}")
    if not mask.any():
        raise InputError(f"{source}: the mask is empty; nothing to relight")
    n = normals[mask]
    length = np.linalg.norm(n, axis=1)
    off = float(np.median(np.abs(length - 1.0)))
    if off > UNIT_TOLERANCE or not np.isfinite(length).all():
        raise InputError(f"{source}: not a normal map: its vectors are not of unit length "
                         f"(median | |n| - 1 | = {off:.3f}); expected a 16-bit normal map as "
                         "'booth normals' or 'booth predict' write it, (n + 1) / 2 per channel")
    facing = float(np.mean(n[:, 2] > 0))
    if facing < 0.5:
        raise InputError(f"{source}: only {facing:.0%} of its normals face the camera; "
                         "expected z toward the camera (the booth's convention)")


def feather(mask: np.ndarray, width: float | None = None) -> np.ndarray:
    """(H, W) float32 blend weight: 0 outside ``mask``, rising to 1 a feather's width inside
    it, so the relit face meets the original photo without a seam and never borrows a
    pixel outside the mask (where the normals mean nothing)."""
    h, w = mask.shape
    width = width if width is not None else max(2.0, FEATHER * float(np.hypot(h, w)))
    inside = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3)
    return np.clip(inside / np.float32(width), 0.0, 1.0).astype(np.float32)


@njit(inline="always", **_JIT)
def _ggx(nx, ny, nz, lx, ly, lz, alpha2, f0):
    """π × the GGX BRDF × n·l, for the view +z (image units; see the module docstring)."""
    hx = lx
    hy = ly
    hz = lz + 1.0
    hn = np.sqrt(hx * hx + hy * hy + hz * hz)
    hx /= hn
    hy /= hn
    hz /= hn
    nh = max(nx * hx + ny * hy + nz * hz, 0.0)
    nl = max(nx * lx + ny * ly + nz * lz, 0.0)
    nv = max(nz, 1e-4)
    vh = hz
    d = nh * nh * (alpha2 - 1.0) + 1.0
    dist = alpha2 / (d * d)  # × 1/π, cancelled by the image units' π
    k = np.sqrt(alpha2) * 0.5
    g = (nl / (nl * (1.0 - k) + k)) * (nv / (nv * (1.0 - k) + k))
    fres = f0 + (1.0 - f0) * (1.0 - vh) ** 5
    return dist * g * fres / (4.0 * nv)


@njit(**_JIT)
def _kernel(normals, albedo, alpha, original, has_orig, kinds, dirs, colors, lpos, refd2,
            pos, shadows, has_shadow, ambient, shm, has_sh, spec_a2, spec_f0, spec_w, out):
    """One frame: every array flat per pixel (normals (N, 3), alpha (N,), ...)."""
    npx = alpha.shape[0]
    nl_ = kinds.shape[0]
    for p in range(npx):
        a = alpha[p]
        o0 = original[p, 0] if has_orig else 0.0
        o1 = original[p, 1] if has_orig else 0.0
        o2 = original[p, 2] if has_orig else 0.0
        if a <= 0.0:
            out[p, 0] = o0
            out[p, 1] = o1
            out[p, 2] = o2
            continue
        nx = normals[p, 0]
        ny = normals[p, 1]
        nz = normals[p, 2]
        e0 = ambient[0]
        e1 = ambient[1]
        e2 = ambient[2]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        if has_sh:
            for c in range(3):
                m = shm[c]
                acc = (m[0, 0] * nx * nx + m[1, 1] * ny * ny + m[2, 2] * nz * nz + m[3, 3]
                       + 2.0 * (m[0, 1] * nx * ny + m[0, 2] * nx * nz + m[1, 2] * ny * nz
                                + m[0, 3] * nx + m[1, 3] * ny + m[2, 3] * nz))
                acc = max(acc, 0.0)
                if c == 0:
                    e0 += acc
                elif c == 1:
                    e1 += acc
                else:
                    e2 += acc
        for k in range(nl_):
            if has_shadow[k] and shadows[k, p] == 0:
                continue
            if kinds[k] == 0:
                lx = dirs[k, 0]
                ly = dirs[k, 1]
                lz = dirs[k, 2]
                fall = 1.0
            else:
                lx = lpos[k, 0] - pos[p, 0]
                ly = lpos[k, 1] - pos[p, 1]
                lz = lpos[k, 2] - pos[p, 2]
                d2 = lx * lx + ly * ly + lz * lz
                d = np.sqrt(d2)
                lx /= d
                ly /= d
                lz /= d
                fall = refd2[k] / d2
            cos = nx * lx + ny * ly + nz * lz
            if cos <= 0.0:
                continue
            e = cos * fall
            e0 += e * colors[k, 0]
            e1 += e * colors[k, 1]
            e2 += e * colors[k, 2]
            if spec_w > 0.0:
                f = spec_w * fall * _ggx(nx, ny, nz, lx, ly, lz, spec_a2, spec_f0)
                s0 += f * colors[k, 0]
                s1 += f * colors[k, 1]
                s2 += f * colors[k, 2]
        r0 = albedo[p, 0] * e0 + s0
        r1 = albedo[p, 1] * e1 + s1
        r2 = albedo[p, 2] * e2 + s2
        out[p, 0] = a * r0 + (1.0 - a) * o0
        out[p, 1] = a * r1 + (1.0 - a) * o1
        out[p, 2] = a * r2 + (1.0 - a) * o2


def _rgb(img: np.ndarray, name: str, shape: tuple[int, int]) -> np.ndarray:
    if img.shape[:2] != shape:
        raise InputError(f"the {name} is {img.shape[1]}×{img.shape[0]}, the normal map "
                         f"{shape[1]}×{shape[0]}; expected the same size")
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"the {name}: expected an RGB image, got shape {img.shape}")
    return np.ascontiguousarray(img, np.float32)


@dataclass
class Relighter:
    """One portrait's geometry and reflectance, prepared once and relit per frame.

    ``normals`` (H, W, 3) unit vectors and ``mask`` (H, W) bool; ``albedo`` (H, W, 3) linear;
    ``original`` the linear photo kept outside the mask (None: black there). ``depth``
    (optional, pixel widths along the view axis) is integrated from the normals when cast
    shadows or point lights first need it. ``mm_per_pixel`` places point lights; without it
    the mask's width is taken as a head's (``HEAD_WIDTH_MM``). ``blend`` (optional, (H, W)
    in [0, 1]) scales how much of the relit portrait shows over ``original``.
    """

    normals: np.ndarray
    mask: np.ndarray
    albedo: np.ndarray
    original: np.ndarray | None = None
    depth: np.ndarray | None = None
    mm_per_pixel: float | None = None
    feather_px: float | None = None
    blend: np.ndarray | None = None
    _alpha: np.ndarray = field(init=False, repr=False)
    _lit: dict = field(default_factory=dict, init=False, repr=False)
    _pos: np.ndarray | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.mask = np.asarray(self.mask, bool)
        check_normals(self.normals, self.mask)
        shape = self.mask.shape
        self.normals = np.ascontiguousarray(self.normals, np.float32)
        self.albedo = _rgb(self.albedo, "albedo", shape)
        if self.original is not None:
            self.original = _rgb(self.original, "photo", shape)
        self._alpha = feather(self.mask, self.feather_px)
        if self.blend is not None:
            blend = np.asarray(self.blend, np.float32)
            if blend.shape != shape:
                raise InputError(f"blend: expected shape {shape}, got {blend.shape}")
            self._alpha *= np.clip(blend, 0.0, 1.0)

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape

    def depth_map(self) -> np.ndarray:
        """The depth (pixel widths, away from the camera), integrated once when first asked."""
        if self.depth is None:
            from photometric.relighting import depth

            self.depth = depth.integrate(self.normals, self.mask)
        return self.depth

    def scale_mm(self) -> float:
        """Millimetres per pixel: given, or the mask's width taken as a head's."""
        if self.mm_per_pixel is not None:
            return float(self.mm_per_pixel)
        cols = np.flatnonzero(self.mask.any(axis=0))
        return head_scale(int(cols[-1] - cols[0] + 1))

    def positions(self) -> np.ndarray:
        """(H·W, 3) float32 surface points in mm, camera space, the mask's centroid at the
        origin (a point light's ``pos`` is relative to the face)."""
        if self._pos is None:
            h, w = self.shape
            s = self.scale_mm()
            rows, cols = np.nonzero(self.mask)
            cy, cx = rows.mean(), cols.mean()
            z = -self.depth_map() * s
            zc = float(z[self.mask].mean())
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            self._pos = np.stack([(xx - cx) * s, (cy - yy) * s, z - zc], axis=-1).reshape(
                -1, 3).astype(np.float32)
        return self._pos

    def lit(self, light: Light) -> np.ndarray:
        """(H·W,) uint8: where ``light`` reaches the surface (cast shadows), cached per light.
        A point light's shadow is cast from its direction seen from the face's centre."""
        if isinstance(light, DirectionalLight):
            d = np.asarray(light.direction, np.float64)
        else:
            d = np.asarray(light.position, np.float64)
        d = d / np.linalg.norm(d)
        key = tuple(np.round(d, 6))
        if key not in self._lit:
            from photometric.relighting import depth

            self._lit[key] = depth.lit(self.depth_map(), self.mask, d).reshape(-1).astype(
                np.uint8)
        return self._lit[key]

    def render(self, scene: Scene, out: np.ndarray | None = None) -> np.ndarray:
        """(H, W, 3) float32 linear: the portrait under ``scene``, the original outside."""
        h, w = self.shape
        n = len(scene.lights)
        kinds = np.zeros(n, np.int64)
        dirs = np.zeros((n, 3), np.float32)
        colors = np.zeros((n, 3), np.float32)
        lpos = np.zeros((n, 3), np.float32)
        refd2 = np.ones(n, np.float32)
        for k, light in enumerate(scene.lights):
            colors[k] = np.asarray(light.color, np.float32) * np.float32(light.intensity)
            if isinstance(light, DirectionalLight):
                d = np.asarray(light.direction, np.float64)
                dirs[k] = d / np.linalg.norm(d)
            elif isinstance(light, PointLight):
                kinds[k] = 1
                lpos[k] = light.position
                refd2[k] = light.reference_distance ** 2
            else:
                raise TypeError(f"unknown light {light!r}")
        pos = self.positions() if kinds.any() else np.zeros((1, 3), np.float32)
        if scene.shadows and n:
            shadows = np.stack([self.lit(light) for light in scene.lights])
            has_shadow = np.ones(n, np.bool_)
        else:
            shadows = np.zeros((max(n, 1), 1), np.uint8)
            has_shadow = np.zeros(max(n, 1), np.bool_)
        shm = (sh.matrices(np.asarray(scene.sh, np.float64)).astype(np.float32)
               if scene.sh is not None else np.zeros((3, 4, 4), np.float32))
        spec = scene.specular
        if out is None:
            out = np.empty((h, w, 3), np.float32)
        original = (self.original.reshape(-1, 3) if self.original is not None
                    else np.zeros((1, 3), np.float32))
        _kernel(self.normals.reshape(-1, 3), self.albedo.reshape(-1, 3),
                self._alpha.reshape(-1), original, self.original is not None, kinds, dirs,
                colors, lpos, refd2, pos, shadows, has_shadow,
                np.asarray(scene.ambient, np.float32), shm, scene.sh is not None,
                np.float32(spec.roughness ** 4 if spec else 0.0),
                np.float32(spec.f0 if spec else 0.0),
                np.float32(spec.weight if spec else 0.0), out.reshape(-1, 3))
        return out


def ring_albedo(ring: np.ndarray, normals: np.ndarray, mask: np.ndarray,
                intensity: float = 1.0, floor: float = 0.1) -> np.ndarray:
    """A capture's albedo from its ring-flash photo alone: the ring flash lights along the
    view axis, so its shading is n_z × intensity and dividing it out leaves the albedo
    (floored at ``floor`` where the surface turns away, so a silhouette does not blow up)."""
    shade = np.maximum(normals[..., 2], floor) * np.float32(intensity)
    out = np.where(mask[..., None], ring / shade[..., None], 0.0)
    return np.clip(out, 0.0, None).astype(np.float32)


@dataclass(frozen=True)
class PortraitLight:
    """What :func:`portrait_albedo` found: the photo's light as SH coefficients (grey, on the
    albedo's scale) and the shading it divided out."""

    coefficients: np.ndarray  # (9, 3)
    shading: np.ndarray  # (H, W) float32


def portrait_albedo(photo: np.ndarray, normals: np.ndarray, mask: np.ndarray,
                    floor: float = 0.08, skin: np.ndarray | None = None
                    ) -> tuple[np.ndarray, PortraitLight]:
    """The albedo of a single portrait from its photo and (predicted) normals.

    Assumptions: the photo's light is distant and smooth (second-order spherical harmonics hold
    about 98 % of the shading a distant environment gives a convex Lambertian surface), white,
    and the face's skin is of one albedo on the scale of that shading: so the fitted SH shading
    of the face (:func:`photometric.relighting.harmonics.fit`, robust to eyes, brows, lips and
    hair) is the light, and the photo divided by it is the albedo. Its luminance is divided
    out, so the skin keeps its colour; its scale is set so the best-lit 2 % of the face have
    shading 1 (the albedo there equals the photo). Limits: hard cast shadows (under the nose,
    the chin) and specular highlights are not low-frequency, so they stay in the albedo and
    move with it; a coloured light is taken as skin colour; make-up or tan lines that vary
    slowly across the face are partly taken as light. ``skin`` (within ``mask``; the face
    oval, say, when the mask holds the whole person) is where the light is fitted: hair and
    clothes are not of the skin's albedo, and a fit over them takes their colours for light.
    """
    check_normals(normals, mask)
    photo = _rgb(photo, "photo", mask.shape)
    fit = mask if skin is None else (mask & skin)
    if not fit.any():
        fit = mask
    coeffs = sh.fit(photo, normals, fit)
    luma = np.array([0.2126, 0.7152, 0.0722])
    grey = coeffs @ luma  # (9,) the shading's luminance
    grey3 = np.repeat(grey[:, None], 3, axis=1)
    shade = sh.shading(normals, grey3)[..., 0]
    top = float(np.percentile(shade[fit], 98))
    if not top > 0:
        raise InputError("the photo's light could not be fitted over the face (its shading "
                         "is not positive there); is the face lit?")
    shade = (shade / top).astype(np.float32)
    safe = np.maximum(shade, floor)
    albedo = np.where(mask[..., None], photo / safe[..., None], photo)
    # Where the fitted shading is too dark for the photo (a cast shadow missed, a normal
    # wrong) the quotient passes 1: scaled down whole, keeping its hue. Clipping each channel
    # at 1 took red skin's red first and left it grey-green.
    albedo = albedo / np.maximum(albedo.max(axis=-1, keepdims=True), 1.0)
    albedo = np.clip(albedo, 0.0, 1.0).astype(np.float32)
    return albedo, PortraitLight(grey3 / top, shade)


def orbit(n: int, elevation_deg: float = 25.0, intensity: float = 1.0,
          color: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> list[DirectionalLight]:
    """``n`` directional lights circling the face: azimuth 0..360° at a fixed elevation,
    starting from the camera's right (azimuth 90°). Azimuth turns from the view axis toward
    +x, elevation toward +y (camera space)."""
    out = []
    for k in range(n):
        out.append(DirectionalLight(direction(90.0 + 360.0 * k / n, elevation_deg),
                                    intensity, color))
    return out


def direction(azimuth_deg: float, elevation_deg: float) -> tuple[float, float, float]:
    """A unit vector from azimuth (from the view axis toward +x) and elevation (toward +y)."""
    az, el = np.radians(azimuth_deg), np.radians(elevation_deg)
    return (float(np.cos(el) * np.sin(az)), float(np.sin(el)), float(np.cos(el) * np.cos(az)))
