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

Radiometry. Thresholds follow the data, not the bit depth: a correct 16-bit capture that uses
1 % of the range is solved like any other. The shadow threshold is a fraction of the capture's
*data level* (:func:`data_level`: a high percentile of each pixel's median flash observation,
on a subsample, so a few specular highlights at full scale cannot set it); saturation is a
fraction of the images' *white level* (``white_level``, default the type's full scale). Grey
values, and so albedo, stay in units of full scale: only the thresholds move.

No holes. Every pixel that some flash lights gets a normal: where fewer than three flashes are
usable (the subject's edges, clipped highlights) the normal is filled from its neighbours and
the observations it has (:func:`_fill`), flagged FILLED, with a lower confidence than any
solved pixel. Specular highlights (no cross-polarisers) are left out of the Lambertian fit and
flagged SPECULAR (``robust``); so are cast shadows (a flash the nose hides from the cheek),
flagged SHADOWED: with four or more usable flashes, the one that disagrees with the rest is
the one left out, highlight or shadow, whichever leaves the better fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import cv2
import numpy as np

from photometric import _kernels
from photometric.errors import InputError
from photometric.lights import CHANNELS, DIRECTIONAL, LightRig, nominal_rig
from photometric.response import CLIP_LEVEL

SHADOWED = _kernels.SHADOWED
SATURATED = _kernels.SATURATED
UNDERDETERMINED = _kernels.UNDERDETERMINED
CLAMPED = _kernels.CLAMPED
FILLED = _kernels.FILLED
SPECULAR = _kernels.SPECULAR

#: Rec. 709 luma weights: how colour observations become the grey value the normal is solved on.
LUMA = np.array([0.2126, 0.7152, 0.0722])


@dataclass(frozen=True)
class Thresholds:
    """When an observation is unusable (after ambient removal), relative to the data.

    ``dark``: fraction of the capture's data level (:func:`data_level`) below which an
    observation is shadowed (and a pixel background when all five are);
    ``relative_dark`` (lambertian): also shadowed below this fraction of the pixel's brightest
    observation (its second brightest when ``robust``, which a highlight cannot raise), which
    keeps noise in attached shadows out of the fit;
    ``saturated``: fraction of the white level at or above which, in any colour channel, an
    observation is clipped;
    ``specular_ratio``, ``specular_margin`` (lambertian, ``robust``): the brightest of four or
    more observations is a highlight when it exceeds ``specular_ratio`` × its prediction from
    the other lights plus ``specular_margin`` × the data level (the margin covers noise where
    the prediction is small);
    ``specular_half_angle`` (degrees): and only where the fit without it puts the normal
    within this angle of the half vector between that flash and the view axis (skin's
    highlights are a lobe around it; at a silhouette a poor prediction is no highlight);
    ``cast_ratio`` (lambertian, ``robust``): the darkest of four or more observations is in a
    cast shadow when it is below ``cast_ratio`` × its prediction from the other lights less
    the same margin.
    """

    dark: float = 0.04
    relative_dark: float = 0.05
    saturated: float = CLIP_LEVEL
    specular_ratio: float = 1.1
    specular_margin: float = 0.02
    specular_half_angle: float = 45.0
    cast_ratio: float = 0.5


@dataclass
class StereoResult:
    """Per-pixel output of photometric stereo.

    ``normals`` (H, W, 3) float32 unit vectors, zero outside ``mask``; ``albedo`` (H, W, C)
    float32 relative to the calibration sphere; ``mask`` (H, W) bool, valid normals;
    ``confidence`` (H, W) float32 in [0, 1]; ``lights_used`` (H, W) uint8 bitmask over
    ``CHANNELS`` order (bit 0 = center); ``flags`` (H, W) uint8 of SHADOWED, SATURATED,
    UNDERDETERMINED, CLAMPED, FILLED (normal from the neighbours, confidence at most 0.25),
    SPECULAR (the brightest observation was left out as a highlight).
    ``data_level``: the capture's data level and ``dark_level`` the shadow threshold derived
    from it, both as grey values in units of full scale (NaN for a result made by hand).
    """

    normals: np.ndarray
    albedo: np.ndarray
    mask: np.ndarray
    confidence: np.ndarray
    lights_used: np.ndarray
    flags: np.ndarray
    method: str
    data_level: float = float("nan")
    dark_level: float = float("nan")

    @property
    def underdetermined(self) -> np.ndarray:
        return (self.flags & UNDERDETERMINED) != 0

    @property
    def filled(self) -> np.ndarray:
        """Pixels whose normal was filled from their neighbours."""
        return (self.flags & FILLED) != 0

    @property
    def specular_pixels(self) -> int:
        """How many valid pixels were solved without a specular highlight."""
        return int(np.count_nonzero(((self.flags & SPECULAR) != 0) & self.mask))


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


#: About how many pixels :func:`data_level` looks at: plenty for a 99th percentile.
_LEVEL_SAMPLES = 1 << 12
#: The percentile of the per-pixel median observations that is the data level.
_LEVEL_PERCENTILE = 99.0


def data_level(imgs, amb, has_amb: bool, nch: int, full: float, luma: np.ndarray) -> float:
    """The capture's data level: the 99th percentile of each pixel's median ambient-subtracted
    grey flash observation, in units of full scale (arguments as :func:`_prepare` returns).

    On a sparse grid of about 8 000 pixels (every 8th row and column of a 512² image, every
    ~75th of a 24 MP frame: well under a millisecond), which assumes that the subject covers
    more than ~1 % of the frame. Columns are taken in mirror pairs, so that a mirrored capture
    has the same level. The median, not the brightest, because a specular highlight is one
    flash's: highlights near full scale, even over a few percent of the frame, leave it
    alone. Where no pixel is lit by three flashes, the brightest observations' percentile.
    """
    h, w = imgs[0].shape[0], imgs[0].shape[1] // nch
    step = max(1, int(np.sqrt(h * w / _LEVEL_SAMPLES)))
    rows = np.arange(step // 2, h, step)
    cols = np.arange(step // 2, w, step)
    cols = np.unique(np.concatenate([cols, w - 1 - cols]))
    med = np.empty(rows.size * cols.size, np.float32)
    top = np.empty_like(med)
    _kernels.level_sample(*imgs, amb, has_amb, nch, 1.0 / full,
                          np.ascontiguousarray(luma, np.float64), rows, cols, med, top)
    k = int(_LEVEL_PERCENTILE / 100 * (med.size - 1))
    level = float(np.partition(med, k)[k])
    if level <= _floor(full):
        level = float(np.partition(top, k)[k])
    return level


def _floor(full: float) -> float:
    """The smallest grey value that is signal: one count of integer images."""
    return 1.0 / full if full > 1.0 else 1e-6


def _radiometry(prepared, thresholds: Thresholds,
                white_level: float | None) -> tuple[float, float, float]:
    """(data level, dark threshold, saturation threshold in raw units) for a capture."""
    imgs, amb, has_amb, nch, full, luma = prepared
    if white_level is None:
        white_level = full
    elif not (np.isfinite(white_level) and white_level > 0):
        raise InputError(f"white_level: expected a positive number in the images' units, "
                         f"got {white_level!r}")
    level = data_level(imgs, amb, has_amb, nch, full, luma)
    dark = max(thresholds.dark * level, _floor(full))
    return level, dark, thresholds.saturated * float(white_level)


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


def _result(outs, method: str, level: float, dark: float) -> StereoResult:
    normals, albedo, mask, conf, used, flags = outs
    h, w = mask.shape
    albedo = albedo.reshape(h, w, -1)
    if albedo.shape[2] == 1:
        albedo = albedo[..., 0]
    return StereoResult(normals.reshape(h, w, 3), albedo, mask, conf, used, flags, method,
                        level, dark)


#: Half-widths (in prior-grid cells) of the boxes a filled pixel's prior is averaged over,
#: smallest first: the first one in which enough neighbours are solved is used.
_FILL_RADII = (1, 2, 4, 8, 16, 32, 64, 128)
#: ... "enough": this share of the box's pixels.
_FILL_SHARE = 0.1
#: The prior grid has at most about this many cells (f×f blocks of pixels).
_FILL_GRID = 1 << 14


#: Interior holes larger than this share of the subject are left empty: a region that size
#: with no usable light is not a gap between neighbours to bridge.
_HOLE_SHARE = 0.02


def _mark_holes(result: StereoResult) -> int:
    """Flag FILLED (no lights used) the pixels that lie inside the subject but that no flash
    lights above the shadow threshold: dark hair at a grazing edge, a pupil. Without this
    they are holes in the map that no observation can fill, and a relit portrait would show
    them. A hole is a connected region outside the subject that does not reach the image's
    border, at most ``_HOLE_SHARE`` of the subject. Returns how many pixels were flagged."""
    subject = result.mask | ((result.flags & FILLED) != 0)
    rows, cols = np.flatnonzero(subject.any(axis=1)), np.flatnonzero(subject.any(axis=0))
    if rows.size == 0:
        return 0
    # Holes lie inside the subject's bounding box: label only that (a portrait's box is a
    # fraction of the frame). 8-connected: OpenCV's fast labelling (0.07 s at 24 MP against
    # 0.2 s for 4-connected); a gap that touches the outside only at a corner is then
    # outside, which is conservative.
    y0, x0 = rows[0], cols[0]
    crop = np.s_[y0:rows[-1] + 1, x0:cols[-1] + 1]
    inside = subject[crop]
    total = int(inside.sum())
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~inside).view(np.uint8),
                                                           connectivity=8)
    h, w = inside.shape
    x, y, bw, bh, area = (stats[:, k] for k in range(5))
    inner = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h) & (area <= _HOLE_SHARE * total)
    inner[0] = False  # label 0: the subject itself
    flagged = 0
    for k in np.flatnonzero(inner):  # each hole within its own box: no full-image pass
        box = np.s_[y[k]:y[k] + bh[k], x[k]:x[k] + bw[k]]
        at = np.s_[y0 + y[k]:y0 + y[k] + bh[k], x0 + x[k]:x0 + x[k] + bw[k]]
        hole = labels[box] == k
        result.flags[at][hole] = FILLED
        result.lights_used[at][hole] = 0
        flagged += int(area[k])
    return flagged


def _fill(result: StereoResult, prepared, lights: np.ndarray | None, count: int) -> int:
    """Give the pixels the kernel marked FILLED (lit, but fewer than three usable lights or
    no valid fit) a normal, albedo and confidence. Returns how many were filled.

    The prior is the confidence-weighted mean of b = ρ n (and colour albedo) over the solved
    pixels in the smallest box around the pixel that holds enough of them: normalised
    convolution at several scales, from one summed-area table over f×f blocks (about 16 000
    of them: f = 4 at 512², 39 at 24 MP), so its cost hardly grows with the image or the
    scale, and it is mirror-symmetric. With ``lights`` (lambertian), the prior is then moved
    the least distance that satisfies the observations the pixel does have:
    b = b_p + Sᵀ(S Sᵀ)⁻¹(I - S b_p) over its k usable lights (k = 0: the prior itself).
    That trusts the neighbours' albedo; where the pixel's own differs by more than 1.5×
    (dark hair beside skin), the prior is first rescaled to it and, with one or two lights,
    only their albedo-free content is kept (nothing / the ratio of the two): on a face's
    filled pixels 5° mean error against 9°, the same on a sphere (see ``fill_pixels``).
    The simplified method has no per-light model, so it takes the prior alone. Confidence is
    0.25 × usable / 5, below any solved pixel's. A pixel with no solved neighbour in reach
    stays invalid and loses its FILLED flag. ``count``: how many pixels the kernel flagged.

    Two numba passes (``_kernels.fill_grid``, ``fill_pixels``): in numpy, the gathers and
    small solves cost more than the whole kernel (measured 3× at 512², 1300 pixels).
    """
    imgs, amb, has_amb, nch, full, luma = prepared
    h, w = result.mask.shape
    f = min(max(1, int(np.ceil(np.sqrt(h * w / _FILL_GRID)))), h, w)
    gh, gw = h // f, w // f
    table = np.empty((gh + 1, gw + 1, 5 + nch))
    cand = np.empty(count, np.int64)  # how many the kernel flagged
    luma = np.ascontiguousarray(luma, np.float64)
    n = _kernels.fill_grid(result.normals.reshape(h, -1), result.albedo.reshape(h, -1),
                           result.mask, result.confidence, result.flags, nch, luma, f, table,
                           cand)
    idx = cand[:n]
    project = lights is not None
    return _kernels.fill_pixels(
        idx, table, f, np.array(_FILL_RADII, np.int64), _FILL_SHARE, *imgs, amb, has_amb, nch,
        1.0 / full, luma, lights if project else np.zeros((5, 3)), project,
        result.normals.reshape(h, -1), result.albedo.reshape(h, -1), result.mask,
        result.confidence, result.lights_used, result.flags)


def simplified(
    images: Mapping[str, np.ndarray],
    model: SimplifiedModel | None = None,
    rig: LightRig | None = None,
    thresholds: Thresholds = Thresholds(),
    white_level: float | None = None,
) -> StereoResult:
    """Normals by the simplified method; ``model`` from calibration, else nominal from ``rig``.

    ``white_level``: the raw value the sensor clips at, in the images' units (default the
    type's full scale: 255, 65535, 1.0). Lit pixels it cannot solve are filled with their
    neighbours' normals (FILLED)."""
    if model is None:
        model = SimplifiedModel.nominal(rig if rig is not None else nominal_rig())
    prepared = _prepare(images)
    imgs, amb, has_amb, nch, full, luma = prepared
    level, dark, sat_raw = _radiometry(prepared, thresholds, white_level)
    outs = _outputs(imgs[0].shape[0], imgs[0].shape[1] // nch, nch)
    n_fill = _kernels.simplified_kernel(
        *imgs, amb, has_amb, nch, 1.0 / full, luma, sat_raw, dark,
        # C-contiguous float64 always: another layout would compile another kernel.
        np.ascontiguousarray(model.coeffs, np.float64), np.ascontiguousarray(model.clamp,
                                                                              np.float64),
        np.ascontiguousarray(model.center, np.float64), *outs,
    )
    result = _result(outs, "simplified", level, dark)
    n_fill += _mark_holes(result)
    if n_fill:
        _fill(result, prepared, None, n_fill)
    return result


def lambertian(
    images: Mapping[str, np.ndarray],
    rig: LightRig | None = None,
    thresholds: Thresholds = Thresholds(),
    white_level: float | None = None,
    robust: bool = True,
) -> StereoResult:
    """Normals by per-pixel least squares over the usable flashes (ring flash included when
    ``rig`` gives its direction). ``rig`` defaults to the nominal booth.

    ``white_level``: the raw value the sensor clips at, in the images' units (default the
    type's full scale: 255, 65535, 1.0). ``robust``: leave a specular highlight out of the
    fit where four or more flashes are usable (SPECULAR); off for cross-polarised captures,
    whose brightest observation is never a highlight. Lit pixels with fewer than three usable
    flashes are filled from their neighbours and their own observations (FILLED)."""
    if rig is None:
        rig = nominal_rig()
    prepared = _prepare(images)
    imgs, amb, has_amb, nch, full, luma = prepared
    level, dark, sat_raw = _radiometry(prepared, thresholds, white_level)
    has_center = "center" in rig.directions
    lights = np.array([
        rig.intensity(c) * rig.direction(c) if c in rig.directions else np.array([0, 0, 1.0])
        for c in CHANNELS
    ])
    allowed = 0b11111 if has_center else 0b11110
    # The kernel's float32 determinant tests are absolute: lights calibrated on a sphere shot
    # at 1 % of range (intensities ~0.007) would fail them. Solve with the brightest light at
    # unit power and scale the albedo back: albedo ∝ 1 / power, normals do not change.
    power = float(np.linalg.norm(lights, axis=1).max()) or 1.0
    lights = np.ascontiguousarray(lights / power, np.float64)
    outs = _outputs(imgs[0].shape[0], imgs[0].shape[1] // nch, nch)
    n_fill, _ = _kernels.lambertian_kernel(
        *imgs, amb, has_amb, nch, 1.0 / full, luma, sat_raw, dark, thresholds.relative_dark,
        lights, allowed, bool(robust), thresholds.specular_ratio,
        thresholds.specular_margin * level,
        float(np.cos(np.radians(thresholds.specular_half_angle))), thresholds.cast_ratio, *outs,
    )
    result = _result(outs, "lambertian", level, dark)
    n_fill += _mark_holes(result)
    if n_fill:
        _fill(result, prepared, lights, n_fill)  # a light not ``allowed`` is never used
    if power != 1.0:
        result.albedo /= np.float32(power)
    return result


METHODS = ("simplified", "lambertian")
#: The method used wherever none is named: least squares over the calibrated lights.
DEFAULT_METHOD = "lambertian"


def solve(images: Mapping[str, np.ndarray], method: str = DEFAULT_METHOD,
          rig: LightRig | None = None, model: SimplifiedModel | None = None,
          white_level: float | None = None, robust: bool = True) -> StereoResult:
    """A capture's normals the one way every caller computes them (``booth normals``, a
    capture's ``derived/``, the dataset export): ``method`` with ``rig`` (and, for the
    simplified method, the calibrated ``model``), then :func:`despeckle`.

    ``white_level`` and ``robust`` as for :func:`lambertian` (``robust`` is lambertian's
    only). A capture with no valid pixel is an :class:`InputError` saying why."""
    if method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {method!r}")
    result = (simplified(images, model, rig, white_level=white_level) if method == "simplified"
              else lambertian(images, rig, white_level=white_level, robust=robust))
    result = despeckle(result)
    if not result.mask.any():
        raise InputError(_empty_reason(result, method, images, white_level))
    return result


def _empty_reason(result: StereoResult, method: str, images: Mapping[str, np.ndarray],
                  white_level: float | None) -> str:
    """Why a capture gave no valid pixel, in words for the operator."""
    level = result.data_level
    dtype = np.asarray(images["center"]).dtype
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(dtype, 1.0)
    white = full if white_level is None else float(white_level)
    lit = np.count_nonzero(result.flags)
    clipped = np.count_nonzero(result.flags & SATURATED)
    head = f"no pixel has a valid normal ({method} method): "
    where = f"data level {level:.3g} of full scale, shadow threshold {result.dark_level:.3g}"
    if level <= _floor(full) or lit == 0:
        return (f"{head}every flash image is dark ({where}); did the flashes fire, and is the "
                "exposure right?")
    if clipped >= 0.5 * lit:
        return (f"{head}everything is saturated ({100 * clipped / lit:.0f}% of the lit pixels "
                f"clip at {Thresholds.saturated:.0%} of the white level {white:g}; {where}); "
                "lower the flash power or exposure, or give the right white level")
    return f"{head}{lit} pixels are lit, but none by three usable flashes ({where})"


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
