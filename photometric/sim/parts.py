"""The parts map of a simulated photo: what each pixel shows (``truth/parts.png``).

One code per pixel, so that training and evaluation can weigh and report regions (face,
hair, neck, clothes) apart. The codes are part of the truth file format
(``docs/formats.md``): never renumber one, only add.
"""

from __future__ import annotations

import numpy as np

(BACKGROUND, SKIN, HAIR, BROWS, EYES, MOUTH, NECK, CLOTHES, GLASSES, LIPS, LENS, TEETH, BEARD,
 LASHES) = range(14)

#: Each code's name, as ``docs/formats.md`` and reports call it.
NAMES: dict[int, str] = {
    BACKGROUND: "background", SKIN: "skin", HAIR: "hair", BROWS: "brows", EYES: "eyes",
    MOUTH: "mouth", NECK: "neck", CLOTHES: "clothes", GLASSES: "glasses", LIPS: "lips",
    LENS: "lens", TEETH: "teeth", BEARD: "beard",
    LASHES: "lashes",
}

#: The regions reports group the parts into.
REGIONS: dict[str, tuple[int, ...]] = {
    "face": (SKIN, BROWS, EYES, MOUTH, LIPS, TEETH, LASHES),
    "hair": (HAIR, BEARD),
    "neck": (NECK,),
    "clothes": (CLOTHES,),
    "glasses": (GLASSES, LENS),
}

#: sRGB colours to show a parts map to a person (:func:`colourise`).
_COLOURS = np.array([
    (0, 0, 0), (230, 180, 150), (120, 70, 30), (60, 40, 20), (250, 250, 250),
    (150, 20, 40), (200, 140, 110), (40, 90, 200), (120, 230, 230), (220, 60, 90),
    (170, 210, 255), (255, 250, 200), (90, 50, 20),
    (30, 20, 60),
], np.uint8)


def colourise(parts: np.ndarray) -> np.ndarray:
    """(H, W) part codes as an sRGB picture (H, W, 3) uint8, a colour per part."""
    return _COLOURS[np.clip(parts, 0, len(_COLOURS) - 1)]
