"""Second-order spherical-harmonics (SH) environment light, for relighting a portrait.

Why SH: the light a Lambertian surface receives from a whole environment is a low-pass
filtered copy of that environment, and 9 coefficients per colour channel hold it to within a
few percent (Ramamoorthi & Hanrahan 2001, "An efficient representation for irradiance
environment maps"). So a new light is 27 numbers, shading a normal map costs a few
multiply-adds per pixel, and the light of one portrait can be estimated by a small linear
least-squares fit.

Conventions:

* Camera space: x right, y up, z toward the camera (the sitter faces +z). A normal map is
  float32 (H, W, 3) unit vectors; images in memory are linear float32 (H, W, 3) RGB.
* The real SH basis of Ramamoorthi & Hanrahan, in this order, with constants 0.282095,
  0.488603, 1.092548, 0.315392, 0.546274 (computed exactly: 1/(2√π), √(3/4π), √(15/4π),
  √(5/16π), √(15/16π)): Y00; Y1-1 ∝ y; Y10 ∝ z; Y11 ∝ x; Y2-2 ∝ xy; Y2-1 ∝ yz;
  Y20 ∝ 3z²-1; Y21 ∝ xz; Y22 ∝ x²-y². The basis is orthonormal over the sphere.
* Coefficients are the environment's radiance L_lm, shape (9, 3), columns R, G, B.
* Shading is irradiance / π, so that an image = albedo × shading and a uniform environment
  of radiance 1 gives shading exactly 1: S(n) = Σ (Â_l / π) L_lm Y_lm(n), with Â_0 = π,
  Â_1 = 2π/3, Â_2 = π/4. A light with only L_00 gives S = 0.282095 · L_00 everywhere.
  Second order truncates the clamped cosine: for one directional light the shading is off
  by up to ~9 % of its peak (at the terminator), ~3 % on average over the sphere.
* Equirectangular environment images: see :func:`directions`. The centre of the image is
  +z (toward the camera, what the sitter faces), right turns toward +x, the top row is +y.

Arrays in, arrays out; files are read at the edges
(:func:`photometric.io.environment.read_environment`,
:func:`read_coefficients`) and every problem there is an :class:`InputError` naming the file.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated, ClassVar

import numpy as np
import yaml
from pydantic import AfterValidator, BeforeValidator

from photometric.errors import InputError
from photometric.io.files import read_yaml, write_text
from photometric.io.schema import Number, Schema, schema_error

# -- the basis ----------------------------------------------------------------------------
#: The basis constants, exactly (they round to R&H's 0.282095 ... 0.546274).
K0 = 0.5 / math.sqrt(math.pi)
K1 = math.sqrt(3.0 / (4.0 * math.pi))
K2 = math.sqrt(15.0 / (4.0 * math.pi))
K3 = math.sqrt(5.0 / (16.0 * math.pi))
K4 = math.sqrt(15.0 / (16.0 * math.pi))
#: The coefficients' names, in order.
NAMES: tuple[str, ...] = ("Y00", "Y1-1", "Y10", "Y11", "Y2-2", "Y2-1", "Y20", "Y21", "Y22")
#: Â_l / π per coefficient: the Lambertian kernel's gain per band, scaled so that shading
#: (irradiance / π) of a uniform environment of radiance 1 is 1.
KERNEL = np.array([1.0] + [2.0 / 3.0] * 3 + [0.25] * 5)
#: Pixels per block in :func:`shading` and :func:`fit`: a (block, 9) float64 temporary is
#: 4.7 MB, so a 24 MP map never makes a (H, W, 9) one.
CHUNK = 1 << 16


def _basis(n: np.ndarray, dtype: type) -> np.ndarray:
    """(..., 3) directions -> (..., 9) basis values in ``dtype``."""
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    out = np.empty(n.shape[:-1] + (9,), dtype)
    out[..., 0] = K0
    out[..., 1] = K1 * y
    out[..., 2] = K1 * z
    out[..., 3] = K1 * x
    out[..., 4] = K2 * x * y
    out[..., 5] = K2 * y * z
    out[..., 6] = K3 * (3.0 * z * z - 1.0)
    out[..., 7] = K2 * x * z
    out[..., 8] = K4 * (x * x - y * y)
    return out


def _vectors(normals: object, what: str = "normals") -> np.ndarray:
    a = np.asarray(normals)
    if a.ndim < 1 or a.shape[-1] != 3 or not np.issubdtype(a.dtype, np.number):
        raise InputError(f"{what}: expected an (..., 3) array of unit vectors, got shape "
                         f"{a.shape} ({a.dtype})")
    return a


def _coeffs(coeffs: object) -> np.ndarray:
    """(9, 3) float64 coefficients; (9,) means grey (the same in R, G and B)."""
    c = np.asarray(coeffs, dtype=np.float64)
    if c.shape == (9,):
        c = np.repeat(c[:, None], 3, axis=1)
    if c.shape != (9, 3):
        raise InputError(f"SH coefficients: expected shape (9, 3) (rows {NAMES[0]} ... "
                         f"{NAMES[-1]}, columns R G B) or (9,), got {c.shape}")
    if not np.isfinite(c).all():
        raise InputError("SH coefficients: not all finite")
    return c


def basis(normals: np.ndarray) -> np.ndarray:
    """The 9 basis values Y_lm at each unit vector of ``normals`` (..., 3): (..., 9) float32.

    Shading is ``basis(n) @ (KERNEL[:, None] * coeffs)``; :func:`shading` does that in blocks.
    """
    return _basis(_vectors(normals), np.float32)


def matrices(coeffs: np.ndarray) -> np.ndarray:
    """Per channel the symmetric 4×4 M_c with S_c(n) = [n, 1]ᵀ M_c [n, 1]: (3, 4, 4) float64.

    Ramamoorthi & Hanrahan's quadratic form (their c1..c5, divided by π), so that a relighting
    kernel needs ten multiply-adds per pixel and channel and no per-pixel basis array.
    """
    c = _coeffs(coeffs) * KERNEL[:, None]
    m = np.zeros((3, 4, 4))
    m[:, 0, 0] = K4 * c[8]
    m[:, 1, 1] = -K4 * c[8]
    m[:, 2, 2] = 3.0 * K3 * c[6]
    m[:, 3, 3] = K0 * c[0] - K3 * c[6]
    m[:, 0, 1] = m[:, 1, 0] = 0.5 * K2 * c[4]
    m[:, 1, 2] = m[:, 2, 1] = 0.5 * K2 * c[5]
    m[:, 0, 2] = m[:, 2, 0] = 0.5 * K2 * c[7]
    m[:, 0, 3] = m[:, 3, 0] = 0.5 * K1 * c[3]
    m[:, 1, 3] = m[:, 3, 1] = 0.5 * K1 * c[1]
    m[:, 2, 3] = m[:, 3, 2] = 0.5 * K1 * c[2]
    return m


def shading(normals: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Lambertian shading (irradiance / π) of unit ``normals`` (..., 3): (..., 3) float32.

    The reference evaluation, in float64 and in blocks of :data:`CHUNK` pixels. Normals are
    used as given: a background of zero or NaN vectors gets a meaningless value, so mask it.
    """
    n = _vectors(normals)
    w = _coeffs(coeffs) * KERNEL[:, None]
    flat = n.reshape(-1, 3)
    out = np.empty((flat.shape[0], 3), np.float32)
    for s in range(0, flat.shape[0], CHUNK):
        out[s:s + CHUNK] = _basis(flat[s:s + CHUNK].astype(np.float64), np.float64) @ w
    return out.reshape(n.shape)


# -- equirectangular environments ---------------------------------------------------------
def _angles(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Elevation per row and azimuth per column (radians, float64), at pixel centres."""
    theta = (0.5 - (np.arange(height) + 0.5) / height) * math.pi
    phi = ((np.arange(width) + 0.5) / width - 0.5) * 2.0 * math.pi
    return theta, phi


def directions(height: int, width: int) -> np.ndarray:
    """Unit direction of each pixel centre of an equirectangular image: (H, W, 3) float32.

    u = (col + 0.5) / width, v = (row + 0.5) / height; azimuth φ = (u - 0.5)·2π, elevation
    θ = (0.5 - v)·π; d = (cos θ sin φ, sin θ, cos θ cos φ). So the image's centre is +z
    (toward the camera: what the sitter faces), moving right turns toward +x (φ = 90° is
    +x, three quarters across), the top row is +y and the left and right edges meet at -z.
    A direction is where light comes *from* (the pixel's radiance arrives along -d).
    """
    if height < 1 or width < 1:
        raise InputError(f"equirectangular size {height}×{width}: expected at least 1×1")
    theta, phi = _angles(height, width)
    ct = np.cos(theta)[:, None]
    out = np.empty((height, width, 3), np.float32)
    out[..., 0] = ct * np.sin(phi)[None, :]
    out[..., 1] = np.sin(theta)[:, None]
    out[..., 2] = ct * np.cos(phi)[None, :]
    return out


def _column_integrals(width: int) -> np.ndarray:
    """(W, 6): each column's integral over azimuth of 1, sin φ, cos φ, sin φ cos φ, cos² φ,
    sin² φ."""
    e = np.linspace(-math.pi, math.pi, width + 1)
    a = np.stack([e, -np.cos(e), np.sin(e), 0.5 * np.sin(e) ** 2,
                  0.5 * e + 0.25 * np.sin(2 * e), 0.5 * e - 0.25 * np.sin(2 * e)], axis=1)
    return np.diff(a, axis=0)


def _row_integrals(height: int) -> np.ndarray:
    """(H, 6): each row's integral over elevation (dω = cos θ dθ dφ) of 1, sin θ, cos θ,
    cos θ sin θ, cos² θ, sin² θ, i.e. of cos θ, sin θ cos θ, cos² θ, cos² θ sin θ, cos³ θ,
    sin² θ cos θ; rows run from the top (θ = π/2) down."""
    e = np.linspace(0.5 * math.pi, -0.5 * math.pi, height + 1)
    s, c = np.sin(e), np.cos(e)
    a = np.stack([s, 0.5 * s * s, 0.5 * e + 0.25 * np.sin(2 * e), -(c ** 3) / 3.0,
                  s - s ** 3 / 3.0, s ** 3 / 3.0], axis=1)
    return -np.diff(a, axis=0)  # from the upper edge down to the lower one


def project(environment: np.ndarray) -> np.ndarray:
    """Radiance SH coefficients of a linear equirectangular image (H, W, 3): (9, 3) float64.

    Solid-angle weighted: each pixel's radiance is taken as constant over the pixel and
    every basis function is integrated over the pixel exactly. So a pixel's weight in L_00
    is its solid angle, Δφ (sin θ₊ - sin θ₋) = 2Δφ sin(Δθ/2) · cos θ (∝ the cosine of its
    row's elevation), these sum to exactly 4π, and a uniform image gives L_00 = 2√π and
    every other coefficient 0 to rounding. Each basis function is a sum of products
    f(θ)·g(φ), so each row is first reduced against six integrals over azimuth: 18
    multiply-adds per pixel and no per-pixel basis array. Negative values are allowed (an
    SH function has them); non-finite ones are refused.
    """
    env = np.asarray(environment)
    if env.ndim != 3 or env.shape[2] != 3 or env.shape[0] < 1 or env.shape[1] < 1:
        raise InputError(f"environment: expected an (H, W, 3) RGB image, got shape {env.shape}")
    h, w, _ = env.shape
    az = _column_integrals(w)
    rows = np.empty((h, 3, 6))
    step = max(1, CHUNK // w)
    for s in range(0, h, step):
        block = env[s:s + step].astype(np.float64)
        if not np.isfinite(block).all():
            raise InputError("environment: holds non-finite values (NaN or infinity)")
        rows[s:s + step] = np.swapaxes(block, 1, 2) @ az  # (rows, 3, 6)
    el = _row_integrals(h)[:, None, :]  # (H, 1, 6)
    one, sin_, cos_, sc, cc, ss = (rows[..., k] for k in range(6))  # each (H, 3)
    c1, sc1, c2, c2s, c3, s2c = (el[..., k] for k in range(6))  # each (H, 1)
    out = np.empty((9, 3))
    out[0] = K0 * (c1 * one).sum(0)
    out[1] = K1 * (sc1 * one).sum(0)
    out[2] = K1 * (c2 * cos_).sum(0)
    out[3] = K1 * (c2 * sin_).sum(0)
    out[4] = K2 * (c2s * sin_).sum(0)
    out[5] = K2 * (c2s * cos_).sum(0)
    out[6] = K3 * (3.0 * c3 * cc - c1 * one).sum(0)
    out[7] = K2 * (c3 * sc).sum(0)
    out[8] = K4 * (c3 * ss - s2c * one).sum(0)
    return out


# -- estimating a portrait's light --------------------------------------------------------
#: A pixel at or above this (any channel) is clipped: its true value is unknown.
SATURATED = 0.98
#: A pixel at or below this (any channel) says nothing about the light (noise, black).
DARK = 1e-3
#: Fewest usable pixels for a fit of 9 coefficients that is not just noise.
MIN_FIT_PIXELS = 50
#: Most pixels fitted: a seeded random subset beyond this (the fit is 9 numbers).
MAX_FIT_PIXELS = 200_000
#: Residuals beyond this many robust sigmas (1.4826 × MAD) are dropped after each pass.
OUTLIER_SIGMAS = 2.5


def fit(image: np.ndarray, normals: np.ndarray, mask: np.ndarray,
        iterations: int = 3) -> np.ndarray:
    """The light of one portrait, as (9, 3) coefficients with the face's albedo folded in.

    Assumption: over ``mask`` the albedo is constant per channel, a_c, so image ≈ a_c · S_c(n)
    and a linear least-squares fit of each channel on the (Â_l/π-scaled) basis gives a_c·L_c.
    Dividing the image by :func:`shading` of the result then gives albedo relative to a_c.
    Eyes, brows, lips, hair and cast shadows break the assumption, so after each of
    ``iterations`` passes the residuals beyond 2.5 robust sigmas are dropped and the fit
    repeated. Limits: a hard cast shadow or a specular highlight that covers much of the
    mask is partly taken as light, and what is left stays in the albedo; light colour and
    skin colour cannot be told apart (both are in a_c·L_c); an albedo that changes slowly
    across the face is taken as light. The normals of a face cover about half the sphere,
    so light from behind is poorly determined: the result is for shading those normals.

    Left out: pixels outside ``mask``, with a non-finite or non-unit normal, or with any
    channel saturated (≥ 0.98) or about 0. At most 200 k pixels are used (a seeded subset).
    Fewer than 50 usable pixels is an InputError.
    """
    img = np.asarray(image)
    n = _vectors(normals)
    m = np.asarray(mask)
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"image: expected (H, W, 3) RGB, got shape {img.shape}")
    if n.shape != img.shape or m.shape != img.shape[:2]:
        raise InputError(f"fit: the image {img.shape}, normals {n.shape} and mask {m.shape} "
                         "must be the same size (normals (H, W, 3), mask (H, W))")
    if iterations < 0:
        raise InputError(f"fit: iterations {iterations}; expected at least 0")
    flat_n = n.reshape(-1, 3)
    flat_i = img.reshape(-1, 3)
    candidates = np.flatnonzero(m.reshape(-1).astype(bool))
    keep_idx = []
    for s in range(0, candidates.size, CHUNK):  # checks in blocks: no full-size float copies
        idx = candidates[s:s + CHUNK]
        v = flat_i[idx].astype(np.float64)
        nn = flat_n[idx].astype(np.float64)
        length = np.sqrt((nn * nn).sum(axis=1))
        ok = (np.isfinite(v).all(axis=1) & (v > DARK).all(axis=1) & (v < SATURATED).all(axis=1)
              & np.isfinite(length) & (np.abs(length - 1.0) < 0.1))
        keep_idx.append(idx[ok])
    usable = np.concatenate(keep_idx) if keep_idx else np.zeros(0, np.int64)
    if usable.size < MIN_FIT_PIXELS:
        raise InputError(f"fit: only {usable.size} usable pixels in the mask (at least "
                         f"{MIN_FIT_PIXELS} needed: inside the mask, a unit normal, not "
                         f"saturated (≥ {SATURATED}) and not black)")
    if usable.size > MAX_FIT_PIXELS:
        rng = np.random.default_rng(0)
        usable = np.sort(rng.choice(usable, MAX_FIT_PIXELS, replace=False))
    nn = flat_n[usable].astype(np.float64)
    nn /= np.linalg.norm(nn, axis=1, keepdims=True)
    a = _basis(nn, np.float64) * KERNEL
    b = flat_i[usable].astype(np.float64)
    out = np.empty((9, 3))
    for c in range(3):
        keep = np.ones(len(b), bool)
        x = np.linalg.lstsq(a, b[:, c], rcond=None)[0]
        floor = 1e-9 * float(np.median(b[:, c]))  # exact data: do not drop on rounding
        for _ in range(iterations):
            r = b[:, c] - a @ x
            med = float(np.median(r[keep]))
            sigma = max(1.4826 * float(np.median(np.abs(r[keep] - med))), floor)
            new = np.abs(r - med) <= OUTLIER_SIGMAS * sigma
            if new.sum() < MIN_FIT_PIXELS or np.array_equal(new, keep):
                break
            keep = new
            x = np.linalg.lstsq(a[keep], b[keep, c], rcond=None)[0]
        out[:, c] = x
    return out


# -- presets ------------------------------------------------------------------------------
def _lobe(d: np.ndarray, toward: tuple[float, float, float], sharpness: float) -> np.ndarray:
    """A soft round light: exp(k (cos angle - 1)), 1 at ``toward``, half at ~acos(1-0.69/k)."""
    t = np.asarray(toward, np.float64)
    return np.exp(sharpness * (d @ (t / np.linalg.norm(t)) - 1.0))[..., None]


def _preset_environments(height: int = 64, width: int = 128) -> dict[str, np.ndarray]:
    """Small analytic equirectangular environments (linear RGB) the presets project."""
    d = directions(height, width).astype(np.float64)
    y = d[..., 1:2]
    sky = np.clip(y, 0.0, 1.0)
    rgb = np.asarray
    return {
        "uniform": np.ones((height, width, 3)),
        # key upper-left-front (camera's left, -x), a weaker fill right-front, a dim room
        "studio": (8.0 * _lobe(d, (-1.0, 0.9, 1.2), 10.0) + 2.0 * _lobe(d, (1.0, -0.1, 1.0), 4.0)
                   + 0.15) * rgb([1.0, 0.98, 0.95]),
        # CIE overcast sky (zenith 3× the horizon), grey ground
        "overcast": np.where(y > 0, (1.0 + 2.0 * sky) / 3.0 * rgb([0.95, 0.98, 1.0]),
                             0.25 * rgb([1.0, 0.95, 0.85])),
        # a bright daylight window to the sitter's left (camera's right, +x), a dim room
        "window": np.where(
            (np.abs(np.arctan2(d[..., :1], d[..., 2:]) - np.radians(55.0)) < np.radians(25.0))
            & (np.abs(np.arcsin(np.clip(y, -1, 1)) - np.radians(12.0)) < np.radians(27.0)),
            6.0 * rgb([0.95, 1.0, 1.05]), 0.12 * rgb([1.0, 0.9, 0.8])),
        # a warm sun low to the camera's left, a blue sky above, dark ground
        "sunset": (150.0 * _lobe(d, (-math.sin(math.radians(50)), math.sin(math.radians(8)),
                                    math.cos(math.radians(50))), 200.0) * rgb([1.0, 0.5, 0.18])
                   + np.where(y > 0, (0.3 + 0.7 * sky) * rgb([0.25, 0.4, 0.85]),
                              0.06 * rgb([1.0, 0.8, 0.6]))),
    }


PRESET_INFO: dict[str, str] = {
    "uniform": "radiance 1 from every direction: shading 1 everywhere (the albedo itself)",
    "studio": "a soft key light upper left in front of the face, a weaker fill from the right",
    "overcast": "an overcast sky, brightest overhead, over darker grey ground",
    "window": "a bright daylight window to the sitter's left (camera's right) in a dim room",
    "sunset": "a warm low sun to the camera's left under a blue sky",
}
#: Shading of a normal facing the camera, brightest channel, that each preset (but uniform)
#: is scaled to: a relit face is neither black nor clipped.
PRESET_FRONT = 0.9


def _presets() -> dict[str, np.ndarray]:
    out = {}
    front = _basis(np.array([0.0, 0.0, 1.0]), np.float64) * KERNEL
    for name, env in _preset_environments().items():
        c = project(env)
        if name != "uniform":
            c *= PRESET_FRONT / float((front @ c).max())
        c.setflags(write=False)
        out[name] = c
    return out


#: Named lights, (9, 3) radiance coefficients (read-only; :func:`load` returns a copy).
PRESETS: dict[str, np.ndarray] = _presets()
assert PRESETS.keys() == PRESET_INFO.keys()


# -- coefficients files -------------------------------------------------------------------
def _grey(v: object) -> object:
    """9 single numbers mean grey: each becomes [v, v, v]."""
    if isinstance(v, list) and v and not any(isinstance(x, list | dict) for x in v):
        return [[x, x, x] for x in v]
    return v


def _nine(rows: list[list[float]]) -> list[list[float]]:
    if len(rows) != 9:
        raise schema_error(f"{len(rows)} rows; expected 9 rows [r, g, b] (one per SH "
                           f"coefficient, {NAMES[0]} ... {NAMES[-1]}) or 9 numbers (grey)")
    return rows


def _rgb(row: list[float]) -> list[float]:
    if len(row) != 3:
        raise schema_error(f"{len(row)} values; expected [r, g, b]")
    return row


Row = Annotated[list[Number], AfterValidator(_rgb)]


class CoefficientsFile(Schema):
    """A light file: ``coefficients: [[r, g, b], ...]`` (9 rows, Y00 ... Y22) or 9 numbers."""

    expected: ClassVar[str] = ("a mapping with 'coefficients: [[r, g, b], ...]' (9 rows of "
                               "SH radiance coefficients)")

    coefficients: Annotated[list[Row], BeforeValidator(_grey), AfterValidator(_nine)]


def read_coefficients(path: str | Path) -> np.ndarray:
    """A light file's (9, 3) radiance coefficients (float64); errors name the file and field."""
    return np.array(read_yaml(path, CoefficientsFile).coefficients, dtype=np.float64)


def write_coefficients(path: str | Path, coeffs: np.ndarray) -> None:
    """Write (9, 3) coefficients (or (9,) grey) as a light file, replaced whole or not at all.
    Floats are written in full (``repr``), so reading them back gives the same numbers."""
    c = _coeffs(coeffs)
    header = ("# Second-order SH environment light (Ramamoorthi & Hanrahan 2001): radiance\n"
              f"# coefficients, rows {' '.join(NAMES)}, columns R G B.\n")
    body = yaml.safe_dump({"coefficients": [[float(v) for v in row] for row in c]},
                          default_flow_style=None, sort_keys=False)
    write_text(path, header + body)


def load(spec: str | Path) -> np.ndarray:
    """A light by preset name (see :data:`PRESETS`) or from a coefficients file: (9, 3)."""
    key = str(spec)
    if key in PRESETS:
        return PRESETS[key].copy()
    if os.path.lexists(key):
        return read_coefficients(key)
    raise InputError(f"light {key!r}: neither a preset ({', '.join(PRESETS)}) nor an "
                     "existing coefficients file")
