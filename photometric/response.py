"""The camera's response: how a JPEG's code values map back to light.

Photometric stereo needs pixel values proportional to light. A camera's JPEG is not: its
values went through a tone curve (sRGB's, or the maker's). A :class:`Response` is the
*inverse* of that curve, code value in [0, 1] -> linear light in [0, 1]. Three kinds:

* ``srgb``: the inverse of IEC 61966-2-1's curve, the default until one is fitted;
* ``linear``: the values already are linear (a 16-bit TIFF from a RAW converter, our PNGs);
* ``polynomial``: fitted on the calibration sphere (``photometric.calibration``). Mitsunaga &
  Nayar's polynomial model (CVPR 1999), written on sRGB-linearised values so that zero
  coefficients *are* sRGB: ``g(x) = x + Σ_j c_j (x^j - x)``, ``x = srgb⁻¹(v)``, j = 2..K.
  g(0) = 0 and g(1) = 1 for any coefficients, and g is linear in them, so the fit with the
  light directions is one linear least-squares problem.

Applied at the I/O edge as a lookup table from 8-bit codes to 16-bit linear values
(:func:`linearize`): a 24 MP JPEG is one table lookup per value, and photometric stereo keeps
working on compact integer images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

KINDS = ("srgb", "linear", "polynomial")
#: Fraction of full scale at or above which a pixel counts as clipped: a camera's codes
#: flatten there, on its tone curve's shoulder (photometric stereo's default threshold).
CLIP_LEVEL = 0.98


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """sRGB code values in [0, 1] to linear light (float64)."""
    v = np.asarray(v, np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def srgb_encode(x: np.ndarray) -> np.ndarray:
    """Linear light in [0, 1] to sRGB code values in [0, 1] (float64)."""
    x = np.clip(np.asarray(x, np.float64), 0.0, 1.0)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055)


def basis(v: np.ndarray, degree: int) -> tuple[np.ndarray, np.ndarray]:
    """The polynomial model's terms at code values ``v``: (x, B) with x = srgb⁻¹(v) and B's
    columns x^j - x for j = 2..degree, so that g(v) = x + B @ c."""
    x = srgb_decode(v).ravel()
    cols = [x**j - x for j in range(2, degree + 1)]
    return x, (np.stack(cols, axis=1) if cols else np.zeros((x.size, 0)))


@dataclass(frozen=True)
class Response:
    """An inverse camera response, code value in [0, 1] -> linear light in [0, 1]."""

    kind: str = "srgb"
    coeffs: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"response kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        if self.kind != "polynomial" and self.coeffs:
            raise ValueError(f"a {self.kind} response has no coefficients")

    def __call__(self, v: np.ndarray) -> np.ndarray:
        """Linear light (float64) for code values ``v`` in [0, 1]."""
        v = np.asarray(v, np.float64)
        if self.kind == "linear":
            return v
        x, b = basis(v, len(self.coeffs) + 1)
        out = x + (b @ np.asarray(self.coeffs, np.float64) if self.coeffs else 0.0)
        return out.reshape(v.shape)

    def monotonic(self) -> bool:
        """True when the curve never falls: a falling one would map two lights to one code."""
        y = self(np.linspace(0.0, 1.0, 1024))
        return bool(np.all(np.diff(y) >= -1e-9) and y[0] >= -1e-9 and y[-1] <= 1 + 1e-9)

    def lut(self, bits: int = 8) -> np.ndarray:
        """Code value -> linear value × 65535 as uint16, for every code of ``bits`` bits."""
        codes = np.arange(2**bits, dtype=np.float64) / (2**bits - 1)
        return np.rint(np.clip(self(codes), 0.0, 1.0) * 65535.0).astype(np.uint16)

    def describe(self) -> str:
        """One line for people: what kind, and where mid-grey goes."""
        mid = float(self(np.array([0.5]))[0])
        if self.kind == "srgb":
            return f"sRGB (code 0.5 -> {mid:.3f} linear)"
        if self.kind == "linear":
            return "linear (values are proportional to light)"
        cs = ", ".join(f"c{j}={c:+.4f}" for j, c in enumerate(self.coeffs, start=2))
        srgb = float(srgb_decode(np.array([0.5]))[0])
        return f"fitted: sRGB × polynomial ({cs}); code 0.5 -> {mid:.3f} linear (sRGB {srgb:.3f})"

    def summary(self) -> str:
        """:meth:`describe` without the coefficients, for narrow places (the app)."""
        if self.kind != "polynomial":
            return self.describe()
        mid = float(self(np.array([0.5]))[0])
        srgb = float(srgb_decode(np.array([0.5]))[0])
        return f"fitted, code 0.5 -> {mid:.3f} linear (sRGB {srgb:.3f})"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "coeffs": [round(float(c), 6) for c in self.coeffs]}


SRGB = Response("srgb")
LINEAR = Response("linear")

_LUTS: dict[Response, np.ndarray] = {}


def linearize(img: np.ndarray, response: Response = SRGB) -> np.ndarray:
    """An 8-bit image (a JPEG's pixels) as uint16 values proportional to light: one table
    lookup per value. Other depths are returned unchanged: only 8-bit camera output carries
    a tone curve here."""
    if img.dtype != np.uint8 or response.kind == "linear":
        return img
    lut = _LUTS.get(response)
    if lut is None:
        lut = _LUTS.setdefault(response, response.lut(8))
    src = np.ascontiguousarray(img)
    out = np.empty(src.shape, np.uint16)
    lookup(src.reshape(-1), lut, out.reshape(-1))
    return out


# -- the one sRGB conversion: tables and kernels ---------------------------------------------
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": True}


@njit(**_JIT)
def lookup(src, table, out):
    """``out[i] = table[src[i]]`` over flat arrays: a JPEG's 8-bit codes to 16-bit linear
    values in one pass (numpy's take or two 8-bit cv2.LUT passes: 7-8× slower on one core,
    measured 300-350 ms against 43 ms at 24 MP)."""
    for i in range(src.size):
        out[i] = table[src[i]]


def srgb_table(bits: int) -> np.ndarray:
    """Linear float32 value of every 8- or 16-bit sRGB code (indexing beats a float64 pass)."""
    top = (1 << bits) - 1
    return srgb_decode(np.arange(top + 1) / top).astype(np.float32)


def encode_srgb8(img: np.ndarray, white_level: float | None = None) -> np.ndarray:
    """A linear image (uint8, uint16 or float) as 8-bit sRGB, ``white_level`` mapping to 255
    (default: the type's full scale). Integer images go through a lookup table."""
    if img.dtype.kind == "f":
        scale = 1.0 / (white_level or 1.0)
        return np.rint(srgb_encode(img * scale) * 255.0).astype(np.uint8)
    top = float(np.iinfo(img.dtype).max)
    codes = np.arange(int(top) + 1, dtype=np.float64) / (white_level or top)
    lut = np.rint(srgb_encode(codes) * 255.0).astype(np.uint8)
    return np.take(lut, img)


@njit(**_JIT)
def _srgb8_kernel(lin, lut, out):
    scale = np.float32(lut.shape[0] - 1)
    for p in range(lin.shape[0]):
        v = lin[p]
        if v <= 0.0:
            out[p] = lut[0]
        elif v >= 1.0:
            out[p] = lut[-1]
        else:
            out[p] = lut[int(v * scale + 0.5)]


_LUT8: np.ndarray | None = None


def to_srgb8(linear: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Linear float [0, 1] to 8-bit sRGB through a 4096-entry table (one numba pass; exact to
    within one code value of :func:`encode_srgb8`), for showing frames as fast as they are
    relit."""
    global _LUT8
    if _LUT8 is None:
        _LUT8 = np.rint(srgb_encode(np.linspace(0.0, 1.0, 4096)) * 255).astype(np.uint8)
    if out is None:
        out = np.empty(linear.shape, np.uint8)
    _srgb8_kernel(np.ascontiguousarray(linear, np.float32).reshape(-1), _LUT8, out.reshape(-1))
    return out
