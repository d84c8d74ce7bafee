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

# The basis, shading and projection are the forward model's (the simulated people are lit by
# them too); relighting names them here as it always has.
from photometric.shlight import (  # noqa: F401  (re-exported)
    CHUNK,
    KERNEL,
    NAMES,
    as_coeffs,
    as_vectors,
    basis,
    basis_values,
    directions,
    matrices,
    project,
    shading,
)

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
    n = as_vectors(normals)
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
    a = basis_values(nn, np.float64) * KERNEL
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
    front = basis_values(np.array([0.0, 0.0, 1.0]), np.float64) * KERNEL
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
    c = as_coeffs(coeffs)
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
