"""Second-order spherical-harmonics (SH) environment light: the basis, Lambertian shading
under 9 coefficients per channel, and the projection of an equirectangular environment onto
them. Part of the forward model: the simulated people are lit by it, and relighting
(:mod:`photometric.relighting.harmonics`, which holds the conventions and the fitting)
shades with it.
"""

from __future__ import annotations

import math

import numpy as np

from photometric.errors import InputError

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


def basis_values(n: np.ndarray, dtype: type) -> np.ndarray:
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


def as_vectors(normals: object, what: str = "normals") -> np.ndarray:
    a = np.asarray(normals)
    if a.ndim < 1 or a.shape[-1] != 3 or not np.issubdtype(a.dtype, np.number):
        raise InputError(f"{what}: expected an (..., 3) array of unit vectors, got shape "
                         f"{a.shape} ({a.dtype})")
    return a


def as_coeffs(coeffs: object) -> np.ndarray:
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
    return basis_values(as_vectors(normals), np.float32)


def matrices(coeffs: np.ndarray) -> np.ndarray:
    """Per channel the symmetric 4×4 M_c with S_c(n) = [n, 1]ᵀ M_c [n, 1]: (3, 4, 4) float64.

    Ramamoorthi & Hanrahan's quadratic form (their c1..c5, divided by π), so that a relighting
    kernel needs ten multiply-adds per pixel and channel and no per-pixel basis array.
    """
    c = as_coeffs(coeffs) * KERNEL[:, None]
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
    n = as_vectors(normals)
    w = as_coeffs(coeffs) * KERNEL[:, None]
    flat = n.reshape(-1, 3)
    out = np.empty((flat.shape[0], 3), np.float32)
    for s in range(0, flat.shape[0], CHUNK):
        out[s:s + CHUNK] = basis_values(flat[s:s + CHUNK].astype(np.float64), np.float64) @ w
    return out.reshape(n.shape)


# -- equirectangular environments ---------------------------------------------------------
def angles(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
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
    theta, phi = angles(height, width)
    ct = np.cos(theta)[:, None]
    out = np.empty((height, width, 3), np.float32)
    out[..., 0] = ct * np.sin(phi)[None, :]
    out[..., 1] = np.sin(theta)[:, None]
    out[..., 2] = ct * np.cos(phi)[None, :]
    return out


def column_integrals(width: int) -> np.ndarray:
    """(W, 6): each column's integral over azimuth of 1, sin φ, cos φ, sin φ cos φ, cos² φ,
    sin² φ."""
    e = np.linspace(-math.pi, math.pi, width + 1)
    a = np.stack([e, -np.cos(e), np.sin(e), 0.5 * np.sin(e) ** 2,
                  0.5 * e + 0.25 * np.sin(2 * e), 0.5 * e - 0.25 * np.sin(2 * e)], axis=1)
    return np.diff(a, axis=0)


def row_integrals(height: int) -> np.ndarray:
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
    az = column_integrals(w)
    rows = np.empty((h, 3, 6))
    step = max(1, CHUNK // w)
    for s in range(0, h, step):
        block = env[s:s + step].astype(np.float64)
        if not np.isfinite(block).all():
            raise InputError("environment: holds non-finite values (NaN or infinity)")
        rows[s:s + step] = np.swapaxes(block, 1, 2) @ az  # (rows, 3, 6)
    el = row_integrals(h)[:, None, :]  # (H, 1, 6)
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
