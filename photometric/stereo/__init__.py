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

Both run as one fused numba pass (:mod:`.simplified_fit`, :mod:`.lambertian_fit`, over the
row bookkeeping of :mod:`.rows`) and return a :class:`StereoResult` (:mod:`.result`).

Radiometry. Thresholds follow the data, not the bit depth: a correct 16-bit capture that uses
1 % of the range is solved like any other. The shadow threshold is a fraction of the capture's
*data level* (:func:`data_level`: a high percentile of each pixel's median flash observation,
on a subsample, so a few specular highlights at full scale cannot set it); saturation is a
fraction of the images' *white level* (``white_level``, default the type's full scale). Grey
values, and so albedo, stay in units of full scale: only the thresholds move.

No holes. Every pixel that some flash lights gets a normal: where fewer than three flashes are
usable (the subject's edges, clipped highlights) the normal is filled from its neighbours and
the observations it has (:mod:`.fill`), flagged FILLED, with a lower confidence than any
solved pixel. Specular highlights (no cross-polarisers) are left out of the Lambertian fit and
flagged SPECULAR (``robust``); so are cast shadows (a flash the nose hides from the cheek),
flagged SHADOWED: with four or more usable flashes, the one that disagrees with the rest is
the one left out, highlight or shadow, whichever leaves the better fit.

The package: :mod:`.inputs` (a capture made ready, :class:`Thresholds`), :mod:`.rows`,
:mod:`.simplified_fit`, :mod:`.lambertian_fit`, :mod:`.fill`, :mod:`.flags`, :mod:`.result`
and :mod:`.solver` (:func:`solve`). ``from photometric import stereo`` is light: the methods' names
are defined here and each solver module (numba, OpenCV) is imported on first use, so the
command line can offer ``METHODS`` without compiling anything.
"""

from __future__ import annotations

import importlib

#: The methods, by name, and the default of the whole booth (``booth normals``, a capture's
#: ``derived/``, ``booth export``).
METHODS = ("simplified", "lambertian")
DEFAULT_METHOD = "lambertian"

#: Where each public name lives, imported on first use (PEP 562).
_WHERE = {
    **dict.fromkeys(("SHADOWED", "SATURATED", "UNDERDETERMINED", "CLAMPED", "FILLED",
                     "SPECULAR"), "flags"),
    **dict.fromkeys(("LUMA", "Thresholds", "prepare", "data_level", "radiometry"), "inputs"),
    **dict.fromkeys(("SimplifiedModel", "simplified"), "simplified_fit"),
    "lambertian": "lambertian_fit",
    "fill_holes": "fill",
    **dict.fromkeys(("StereoResult", "despeckle", "flip_capture", "flip_normals",
                     "angular_error"), "result"),
    "solve": "solver",
}

__all__ = ["DEFAULT_METHOD", "METHODS", *_WHERE]


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'photometric.stereo' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"photometric.stereo.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
