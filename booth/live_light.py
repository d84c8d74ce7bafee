"""The light an operator moves by keys while a sitter watches their portrait relit.

What the app's relight screen holds, apart from the screen: a key light's azimuth, elevation
and intensity, a preset (the key light with ambient fill, with a studio SH environment, or one
of the booth's own flashes), shadows and a specular lobe on or off. :meth:`LiveLight.scene`
turns it into the :class:`~photometric.relighting.relighter.Scene` that ``booth relight``
renders; the app saves with the command's own writer (:func:`booth.lighting.run`), whose
``relight.yaml`` records the light. :func:`preview` prepares a small copy of the
portrait that renders in a few milliseconds, so a key is answered at once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from booth.choices import RELIGHT_AMBIENT
from booth.lighting import Portrait
from photometric.lights import CHANNELS, DirectionalLight, LightRig, nominal_rig
from photometric.relighting import harmonics as sh
from photometric.relighting import relighter as relight
from photometric.relighting.relighter import Relighter, Scene, Specular

#: Key light plus fill; the SH environments; the booth's flashes alone.
PRESETS = ("key light", "studio", "overcast", "window", "sunset",
           *(f"flash {c}" for c in CHANNELS))
STEP_DEG = 10.0
INTENSITY_STEP = 1.15
SPECULAR = Specular(0.4)


@dataclass(frozen=True)
class LiveLight:
    azimuth: float = -35.0  # toward the image's right from the view axis
    elevation: float = 25.0
    intensity: float = 1.0
    preset: str = "key light"
    shadows: bool = False
    specular: bool = False

    def moved(self, d_az: float = 0.0, d_el: float = 0.0) -> LiveLight:
        az = (self.azimuth + d_az + 180.0) % 360.0 - 180.0
        return replace(self, azimuth=az, elevation=float(np.clip(self.elevation + d_el,
                                                                 -85.0, 85.0)))

    def scaled(self, factor: float) -> LiveLight:
        return replace(self, intensity=float(np.clip(self.intensity * factor, 0.05, 8.0)))

    def next_preset(self) -> LiveLight:
        return replace(self, preset=PRESETS[(PRESETS.index(self.preset) + 1) % len(PRESETS)])

    @property
    def flash(self) -> str | None:
        return self.preset.removeprefix("flash ") if self.preset.startswith("flash ") else None

    def scene(self, rig: LightRig | None) -> Scene:
        """The scene: a flash of ``rig`` (the nominal booth's when None), the key light with
        ambient fill, or an SH environment (studio and the rest) scaled by the intensity."""
        spec = replace(SPECULAR, weight=self.intensity) if self.specular else None
        flash = self.flash
        if flash is not None:
            rig = rig or nominal_rig()
            light = DirectionalLight(tuple(rig.direction(flash)),
                                     rig.intensity(flash) * self.intensity)
            return Scene([light], (0.02,) * 3, specular=spec, shadows=self.shadows)
        if self.preset == "key light":
            key = DirectionalLight(relight.direction(self.azimuth, self.elevation),
                                   self.intensity)
            return Scene([key], (RELIGHT_AMBIENT,) * 3, specular=spec, shadows=self.shadows)
        # an environment has no one direction to cast shadows from or to move
        return Scene(sh=sh.PRESETS[self.preset] * self.intensity, specular=spec)

    @property
    def movable(self) -> bool:
        """Whether the arrows move this preset's light (the key light only)."""
        return self.preset == "key light"

    def describe(self) -> str:
        if self.flash:
            where = f"the booth's {self.flash} flash"
        elif self.movable:
            where = f"az {self.azimuth:+.0f}° el {self.elevation:+.0f}° (arrows move it)"
        else:
            where = f"{sh.PRESET_INFO[self.preset]} (p: next preset)"
        extra = [w for w, on in (("shadows", self.shadows), ("specular", self.specular)) if on]
        return (f"{self.preset}: {where}, intensity {self.intensity:.2f}"
                + (f", {' and '.join(extra)}" if extra else ""))


def preview(portrait: Portrait, side: int) -> Relighter:
    """A relighter of ``portrait`` at most ``side`` pixels on its long side (area-averaged,
    normals renormalised, mask by majority), for redrawing at the terminal's resolution."""
    h, w = portrait.mask.shape
    s = min(1.0, side / max(h, w))
    size = (max(1, round(w * s)), max(1, round(h * s)))

    def small(a: np.ndarray) -> np.ndarray:
        return cv2.resize(np.ascontiguousarray(a, np.float32), size,
                          interpolation=cv2.INTER_AREA)

    mask = small(portrait.mask.astype(np.float32)) > 0.5
    n = small(portrait.normals)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.where(norm > 1e-6, n / np.maximum(norm, 1e-6), 0.0).astype(np.float32)
    mask &= norm[..., 0] > 0.5
    n[~mask] = 0.0
    mm = None if portrait.mm_per_pixel is None else portrait.mm_per_pixel / s
    blend = None if portrait.blend is None else small(portrait.blend)
    return Relighter(n, mask, small(portrait.albedo), small(portrait.photo), None, mm,
                     blend=blend)
