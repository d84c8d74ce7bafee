"""Painted skin: one per seed, skin tones over the human range, and the features (lips,
brows, pupils, sclera, hair) where they belong on the neutral head, seen from the front."""

from __future__ import annotations

import numpy as np
import pytest

from photometric import raster
from photometric.sim import paint, people, skin

LUMA = np.array([0.2126, 0.7152, 0.0722])


def phenotype(african: float = 0.0, asian: float = 0.0, caucasian: float = 1.0,
              gender: float = 0.0, age: float = 0.78) -> dict[str, float]:
    return {"african": african, "asian": asian, "caucasian": caucasian, "gender": gender,
            "age": age, "weight": 0.5, "muscle": 0.5}


@pytest.fixture(scope="module")
def template() -> people.Template:
    return people.template()


class FrontView:
    """The neutral head seen from far in front (near-orthographic, ``MM`` mm per pixel):
    what texture coordinates and label lie at a point (x, y) of the face."""

    MM = 0.25
    CENTRE = (0.0, 140.0)

    def __init__(self, tpl: people.Template):
        self.tpl = tpl
        self.w, self.h = int(190 / self.MM), int(250 / self.MM)
        dist = 50_000.0
        cam = raster.PerspectiveCamera(focal_px=(dist - 100.0) / self.MM, width=self.w,
                                       height=self.h)
        v = tpl.neutral.astype(np.float64) - [self.CENTRE[0], self.CENTRE[1], dist]
        self.frags = raster.rasterize(v, tpl.faces, cam)

    def pixel(self, x: float, y: float) -> tuple[int, int]:
        col = int(round((x - self.CENTRE[0]) / self.MM + (self.w - 1) / 2))
        row = int(round((self.h - 1) / 2 - (y - self.CENTRE[1]) / self.MM))
        return row, col

    def look(self, texture: paint.Texture, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Albedo (N, 3) and label (N,) at points (N, 2) x, y in mm."""
        rc = np.array([self.pixel(x, y) for x, y in np.atleast_2d(points)])
        face = self.frags.face[rc[:, 0], rc[:, 1]]
        assert (face >= 0).all(), "a point off the head"
        bary = self.frags.bary[rc[:, 0], rc[:, 1]]
        uv = (bary[:, :, None] * self.tpl.uv[self.tpl.face_uv[face]]).sum(1)
        labels = self.tpl.labels[face]
        return texture.sample(uv, labels), labels

    def eye_pixels(self, k: int) -> np.ndarray:
        """x, y (mm) of the visible eyeball pixels of eye ``k`` (0 is -x)."""
        m = self.frags.mask.copy()
        m[m] = self.tpl.labels[self.frags.face[m]] == people.EYE
        r, c = np.nonzero(m)
        x = (c - (self.w - 1) / 2) * self.MM + self.CENTRE[0]
        y = (self.h - 1) / 2 * self.MM - r * self.MM + self.CENTRE[1]
        side = x < 0 if k == 0 else x > 0
        return np.stack([x[side], y[side]], axis=1)


@pytest.fixture(scope="module")
def front(template) -> FrontView:
    return FrontView(template)


def luma(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb) @ LUMA


def test_a_seed_fixes_the_skin_and_its_texture(template):
    ph = phenotype(0.3, 0.3, 0.4)
    a, b = skin.draw(7, ph), skin.draw(7, ph)
    assert a == b
    ta, tb = paint.paint(template, a), paint.paint(template, b)
    for (la, ra, ia), (lb, rb, ib) in zip(ta.charts, tb.charts, strict=True):
        assert la == lb and ra == rb and np.array_equal(ia, ib)
    c = skin.draw(8, ph)
    assert c != a
    tc = paint.paint(template, c)
    assert not np.array_equal(ta.charts[0][2], tc.charts[0][2])


def test_texture_is_float32_in_the_unit_range(template):
    tex = paint.paint(template, skin.draw(3, phenotype(0.9, 0.05, 0.05)))
    for _, _, img in tex.charts:
        assert img.dtype == np.float32 and img.ndim == 3 and img.shape[2] == 3
        assert img.min() >= 0.0 and img.max() <= 1.0
    rng = np.random.default_rng(0)
    uv = rng.uniform(0, 1, (1000, 2))
    out = tex.sample(uv, rng.integers(0, 3, 1000))
    assert out.dtype == np.float32 and out.shape == (1000, 3)
    assert out.min() >= 0.0 and out.max() <= 1.0


def test_skin_tones_span_the_human_range():
    """Over people of every mix, the plain skin's linear luminance runs from very dark
    (below 0.08; the darkest measured skin is about 0.07) to very light (above 0.35)."""
    rng = np.random.default_rng(1)
    lum = []
    for seed in range(200):
        mix = rng.dirichlet([0.6, 0.6, 0.6])
        lum.append(luma(skin.draw(seed, phenotype(*mix)).albedo))
    lum = np.array(lum)
    print(f"skin luminance {lum.min():.3f} .. {lum.max():.3f}")
    assert lum.min() < 0.08 and lum.max() > 0.35


def test_melanin_follows_the_mix():
    dark = [skin.draw(s, phenotype(0.9, 0.05, 0.05)) for s in range(60)]
    light = [skin.draw(s, phenotype(0.05, 0.05, 0.9)) for s in range(60)]
    asian = [skin.draw(s, phenotype(0.05, 0.9, 0.05)) for s in range(60)]
    mel = [np.mean([k.melanin for k in group]) for group in (dark, asian, light)]
    assert mel[0] > mel[1] > mel[2]
    assert np.mean([luma(k.albedo) for k in dark]) < 0.5 * np.mean(
        [luma(k.albedo) for k in light])


def test_the_painted_texture_holds_the_plain_skin_on_the_cheek(template, front):
    """Away from every feature the painted albedo is the drawn skin, give or take the
    blotches, pores and flush."""
    for seed in (1, 2, 3):
        s = skin.draw(seed, phenotype(0.4, 0.2, 0.4, gender=1.0))
        tex = paint.paint(template, s)
        cheeks, _ = front.look(tex, np.array([[x, template.eyes[0, 1] - 35.0]
                                              for x in (-45, -40, 40, 45)]))
        ratio = luma(cheeks).mean() / luma(s.albedo)
        assert 0.75 < ratio < 1.2, ratio


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_features_land_where_they_belong(template, front, seed):
    tpl = template
    s = skin.draw(seed, phenotype(0.2, 0.2, 0.6, gender=float(seed % 2)))
    tex = paint.paint(tpl, s)
    eye_y = float(tpl.eyes[:, 1].mean())
    cheek, _ = front.look(tex, np.array([[-42.0, eye_y - 35.0], [42.0, eye_y - 35.0]]))
    cheek = cheek.mean(0)
    # Lips: redder than the cheek, above and below the parting line.
    m = tpl.mouth
    lips, labels = front.look(tex, np.array([[m[0], m[1] + 5.0], [m[0], m[1] - 5.0],
                                             [m[0] - 10, m[1] + 3.0]]))
    assert (labels == people.SKIN).all()
    assert (lips[:, 0] / lips[:, 1] > 1.15 * cheek[0] / cheek[1]).all(), (lips, cheek)
    # Brows: a dark band 8-25 mm above each eye, half-way out.
    for x in (-30.0, 30.0):
        strip, _ = front.look(tex, np.array([[x, eye_y + dy] for dy in np.arange(8, 25, 0.5)]))
        assert luma(strip).min() < 0.6 * luma(cheek)
    # Eyes: the pupil in the middle of the opening, sclera toward the corners.
    for k in range(2):
        pix = front.eye_pixels(k)
        mid = 0.5 * (pix.min(0) + pix.max(0))
        near = pix[np.linalg.norm(pix - mid, axis=1) < 1.0]
        centre, labels = front.look(tex, near)
        assert (labels == people.EYE).all()
        assert luma(centre).min() < 0.03  # the pupil
        side = pix[(np.abs(pix[:, 0] - mid[0]) > 8.0) & (np.abs(pix[:, 1] - mid[1]) < 1.5)]
        sclera, _ = front.look(tex, side)
        assert np.median(luma(sclera)) > 0.3


def test_hair_covers_the_scalp_and_not_the_face(template, front):
    """A young man with dark hair on light skin: the top of the head is hair-dark, the
    forehead just above the brows is skin."""
    for seed in range(200):
        s = skin.draw(seed, phenotype(0.0, 0.0, 1.0, age=0.77))
        if s.has_hair and s.grey < 0.1 and luma(np.array(s.hair)) < 0.06 and s.melanin < 0.2:
            break
    else:
        pytest.fail("no dark-haired light-skinned young man in 200 draws")
    tex = paint.paint(template, s)
    top = float(template.neutral[:, 1].max())
    eye_y = float(template.eyes[:, 1].mean())
    scalp, _ = front.look(tex, np.array([[x, top - 8.0] for x in (-15.0, 0.0, 15.0)]))
    forehead, _ = front.look(tex, np.array([[x, eye_y + 28.0] for x in (-8.0, 0.0, 8.0)]))
    assert luma(scalp).max() < 0.4 * luma(forehead).min()
    assert 0.7 < luma(forehead).mean() / luma(s.albedo) < 1.3


def test_stubble_is_for_men_only():
    women = [skin.draw(s, phenotype(gender=1.0)) for s in range(50)]
    men = [skin.draw(s, phenotype(gender=0.0)) for s in range(50)]
    assert all(w.stubble == 0 and w.baldness == 0 for w in women)
    assert 5 < sum(m.stubble > 0 for m in men) < 45


def test_grey_hair_comes_with_age():
    young = [skin.draw(s, phenotype(age=0.775)).grey for s in range(80)]  # about 20 years
    old = [skin.draw(s, phenotype(age=0.86)).grey for s in range(80)]  # about 72
    assert np.mean(young) < 0.1 and np.mean(old) > 0.5
