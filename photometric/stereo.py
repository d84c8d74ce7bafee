"""Photometric stereo: a surface-normal map (and albedo, mask, confidence) from a capture.

A capture is a mapping ``channel -> image`` with the five flash images ``center, left,
right, top, bottom`` and optionally ``ambient`` (room light only, subtracted from each).
Images are (H, W, 3) RGB or (H, W) grey, uint8, uint16 or float in [0, 1], all the same
shape and type; any size. Two methods:

* :func:`simplified` (Chang & Lin, Applied Optics 61(15), 2022): ratios of each directional
  image to the shade-less ring-flash image, combined linearly with coefficients calibrated on
  a white sphere (or derived from nominal light directions), clamped to the range of normals
  seen on the sphere.
* :func:`lambertian`: classical least squares with calibrated light directions, excluding
  per pixel the observations that are shadowed or saturated.

Both run as one fused pass (see ``_kernels``) and return a :class:`StereoResult`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from photometric import _kernels
from photometric.errors import InputError
from photometric.lights import CHANNELS, DIRECTIONAL, LightRig, nominal_rig

SHADOWED = _kernels.SHADOWED
SATURATED = _kernels.SATURATED
UNDERDETERMINED = _kernels.UNDERDETERMINED
CLAMPED = _kernels.CLAMPED

#: Rec. 709 luma weights: how colour observations become the grey value the normal is solved on.
LUMA = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class Thresholds:
    """When an observation is unusable, as fractions of full scale (after ambient removal).

    ``dark``: below it a pixel is shadowed (or background when every image is below it);
    ``relative_dark`` (lambertian): also shadowed below this fraction of the pixel's brightest
    observation, which keeps noise in attached shadows out of the fit;
    ``saturated``: at or above it, in any colour channel, an observation is clipped.
    """

    dark: float = 0.02
    relative_dark: float = 0.05
    saturated: float = 0.98


@dataclass
class StereoResult:
    """Per-pixel output of photometric stereo.

    ``normals`` (H, W, 3) float32 unit vectors, zero outside ``mask``; ``albedo`` (H, W, C)
    float32 relative to the calibration sphere; ``mask`` (H, W) bool, valid normals;
    ``confidence`` (H, W) float32 in [0, 1]; ``lights_used`` (H, W) uint8 bitmask over
    ``CHANNELS`` order (bit 0 = center); ``flags`` (H, W) uint8 of SHADOWED, SATURATED,
    UNDERDETERMINED, CLAMPED.
    """

    normals: np.ndarray
    albedo: np.ndarray
    mask: np.ndarray
    confidence: np.ndarray
    lights_used: np.ndarray
    flags: np.ndarray
    method: str

    @property
    def underdetermined(self) -> np.ndarray:
        return (self.flags & UNDERDETERMINED) != 0


@dataclass
class SimplifiedModel:
    """Coefficients of the simplified method.

    ``coeffs`` (3, 5): n ∝ coeffs · [r_left, r_right, r_top, r_bottom, 1]; ``clamp``:
    (p_min, p_max, q_min, q_max), the range of the gradient (n_x/n_z, n_y/n_z) seen on the
    calibration sphere; ``center``: ring flash intensity × direction, for the albedo.
    """

    coeffs: np.ndarray
    clamp: tuple[float, float, float, float]
    center: np.ndarray

    @classmethod
    def nominal(cls, rig: LightRig, max_angle_deg: float = 75.0) -> SimplifiedModel:
        """Coefficients from light directions alone, assuming the ring flash on the view axis.

        With distant lights r_k = (s_k · n) / (e_c n_z) = (s_k · g) / e_c for g = (p, q, 1),
        so (p, q) = pinv(S[:, :2]) (e_c r - S[:, 2]).
        """
        s = rig.scaled(DIRECTIONAL)
        e_c = rig.intensity("center")
        a = np.linalg.pinv(s[:, :2])  # (2, 4)
        coeffs = np.zeros((3, 5))
        coeffs[:2, :4] = a * e_c
        coeffs[:2, 4] = -a @ s[:, 2]
        coeffs[2, 4] = 1.0
        t = float(np.tan(np.radians(max_angle_deg)))
        center = rig.scaled(("center",))[0] if "center" in rig.directions else np.array(
            [0.0, 0.0, e_c])
        return cls(coeffs, (-t, t, -t, t), center)


def _prepare(images: Mapping[str, np.ndarray]):
    """Validate a capture. Returns the five images and the ambient one as flat (H, W·C)
    views (no copy for contiguous input), the channel count, the full-scale value and the
    luma weights."""
    missing = [c for c in CHANNELS if c not in images]
    if missing:
        raise InputError(f"capture is missing image(s) {missing}; expected {list(CHANNELS)}")
    names = list(CHANNELS) + (["ambient"] if images.get("ambient") is not None else [])
    arrays = []
    ref = np.asarray(images["center"])
    for name in names:
        a = np.asarray(images[name])
        if a.shape != ref.shape:
            raise InputError(f"image '{name}' is {a.shape[1::-1] if a.ndim >= 2 else a.shape} "
                             f"(w×h) but 'center' is {ref.shape[1::-1]}; all images of a "
                             "capture must be the same size")
        if a.dtype != ref.dtype:
            raise InputError(f"image '{name}' is {a.dtype} but 'center' is {ref.dtype}; all "
                             "images of a capture must have the same bit depth")
        if a.ndim == 2:
            a = a[..., None]
        if a.ndim != 3 or a.shape[2] not in (1, 3):
            raise InputError(f"image '{name}' has shape {a.shape}; expected (H, W) or (H, W, 3)")
        if a.dtype == np.float64:
            a = a.astype(np.float32)
        elif a.dtype not in (np.uint8, np.uint16, np.float32):
            raise InputError(f"image '{name}' has type {a.dtype}; expected uint8, uint16 "
                             "or float")
        a = np.ascontiguousarray(a)
        arrays.append(a.reshape(a.shape[0], -1))
    nch = ref.shape[2] if ref.ndim == 3 else 1
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(arrays[0].dtype, 1.0)
    has_amb = len(arrays) == 6
    amb = arrays[5] if has_amb else np.zeros((1, arrays[0].shape[1]), arrays[0].dtype)
    luma = LUMA / LUMA.sum() if nch == 3 else np.ones(1)
    return tuple(arrays[:5]), amb, has_amb, nch, full, luma


def _outputs(h: int, w: int, c: int):
    # np.empty: the kernels write every pixel, so zeroing first would be a wasted pass.
    return (
        np.empty((h, w * 3), np.float32),
        np.empty((h, w * c), np.float32),
        np.empty((h, w), np.bool_),
        np.empty((h, w), np.float32),
        np.empty((h, w), np.uint8),
        np.empty((h, w), np.uint8),
    )


def _result(outs, method: str) -> StereoResult:
    normals, albedo, mask, conf, used, flags = outs
    h, w = mask.shape
    albedo = albedo.reshape(h, w, -1)
    if albedo.shape[2] == 1:
        albedo = albedo[..., 0]
    return StereoResult(normals.reshape(h, w, 3), albedo, mask, conf, used, flags, method)


def simplified(
    images: Mapping[str, np.ndarray],
    model: SimplifiedModel | None = None,
    rig: LightRig | None = None,
    thresholds: Thresholds = Thresholds(),
) -> StereoResult:
    """Normals by the simplified method; ``model`` from calibration, else nominal from ``rig``."""
    if model is None:
        model = SimplifiedModel.nominal(rig if rig is not None else nominal_rig())
    imgs, amb, has_amb, nch, full, luma = _prepare(images)
    outs = _outputs(imgs[0].shape[0], imgs[0].shape[1] // nch, nch)
    _kernels.simplified_kernel(
        *imgs, amb, has_amb, nch, 1.0 / full, luma, thresholds.saturated * full, thresholds.dark,
        # C-contiguous float64 always: another layout would compile another kernel.
        np.ascontiguousarray(model.coeffs, np.float64), np.ascontiguousarray(model.clamp,
                                                                              np.float64),
        np.ascontiguousarray(model.center, np.float64), *outs,
    )
    return _result(outs, "simplified")


def lambertian(
    images: Mapping[str, np.ndarray],
    rig: LightRig | None = None,
    thresholds: Thresholds = Thresholds(),
) -> StereoResult:
    """Normals by per-pixel least squares over the usable flashes (ring flash included when
    ``rig`` gives its direction). ``rig`` defaults to the nominal booth."""
    if rig is None:
        rig = nominal_rig()
    imgs, amb, has_amb, nch, full, luma = _prepare(images)
    has_center = "center" in rig.directions
    lights = np.array([
        rig.intensity(c) * rig.direction(c) if c in rig.directions else np.array([0, 0, 1.0])
        for c in CHANNELS
    ])
    allowed = 0b11111 if has_center else 0b11110
    outs = _outputs(imgs[0].shape[0], imgs[0].shape[1] // nch, nch)
    _kernels.lambertian_kernel(
        *imgs, amb, has_amb, nch, 1.0 / full, luma, thresholds.saturated * full, thresholds.dark,
        thresholds.relative_dark, np.ascontiguousarray(lights, np.float64), allowed, *outs,
    )
    return _result(outs, "lambertian")


METHODS = ("simplified", "lambertian")
#: The method used wherever none is named: least squares over the calibrated lights.
DEFAULT_METHOD = "lambertian"


def solve(images: Mapping[str, np.ndarray], method: str = DEFAULT_METHOD,
          rig: LightRig | None = None, model: SimplifiedModel | None = None) -> StereoResult:
    """A capture's normals the one way every caller computes them (``booth normals``, a
    capture's ``derived/``, the dataset export): ``method`` with ``rig`` (and, for the
    simplified method, the calibrated ``model``), then :func:`despeckle`."""
    if method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {method!r}")
    result = (simplified(images, model, rig) if method == "simplified"
              else lambertian(images, rig))
    return despeckle(result)


def despeckle(result: StereoResult) -> StereoResult:
    """Drop isolated valid pixels (sensor noise over a dark background) from the mask.

    A 3×3 morphological opening: regions narrower than 3 pixels go, larger ones keep their
    outline. Works in place on ``result`` and returns it.
    """
    kept = cv2.morphologyEx(result.mask.view(np.uint8), cv2.MORPH_OPEN,
                            np.ones((3, 3), np.uint8)).view(np.bool_)
    dropped = result.mask & ~kept
    for arr in (result.normals, result.albedo, result.confidence, result.lights_used,
                result.flags):
        arr[dropped] = 0
    result.mask = kept
    return result


def flip_capture(images: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The capture a mirror-image subject would give: images flipped, left and right swapped."""
    swap = {"left": "right", "right": "left"}
    return {swap.get(k, k): np.ascontiguousarray(v[:, ::-1]) for k, v in images.items()}


def flip_normals(normals: np.ndarray) -> np.ndarray:
    """A normal map flipped horizontally: columns reversed, x negated."""
    out = np.array(normals[:, ::-1])
    out[..., 0] *= -1
    return out


def angular_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between two normal maps, per pixel."""
    dot = np.einsum("...k,...k->...", a.astype(np.float64), b.astype(np.float64))
    na = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.degrees(np.arccos(np.clip(dot / na, -1.0, 1.0)))
