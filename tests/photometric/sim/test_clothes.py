"""Clothes and the parts map: the garment covers the body below its neckline and stands off
the skin, and the parts map says what each pixel shows."""

from __future__ import annotations

from dataclasses import replace

import cv2
import numpy as np
import pytest

from photometric.sim import clothes, parts, people, synthetic

SIZE = 256


@pytest.fixture(scope="module")
def body() -> people.Mesh:
    return people.mesh(people.person(4))


def test_necklines_cover_what_their_style_says(body):
    """At the front of the neck, a turtleneck reaches up to below the chin, a crew neck to
    the neck's base, a V-neck lower still; at the back each is higher than at the front."""
    where = clothes.neck(body.rest, body.bust.head)
    base = clothes.Garment("crew", "red", "white", "solid", 10.0, 3.0, 1.0, 0)

    def top(style: str, phi: float) -> float:
        """The highest covered height along the neck's surface at azimuth ``phi``."""
        g = replace(base, style=style)
        ys = np.linspace(where.base_y - 150.0, where.chin_y + 40.0, 400)
        pts = np.stack([60.0 * np.sin(phi) * np.ones_like(ys), ys,
                        where.axis_z + 60.0 * np.cos(phi) * np.ones_like(ys)], axis=1)
        covered = clothes.neckline(pts, g, where) > 0
        return float(ys[covered].max())

    front = {s: top(s, 0.0) for s in clothes.STYLES}
    assert front["turtleneck"] > where.chin_y - 30.0
    assert front["turtleneck"] > front["crew"] > front["scoop"] > front["v-neck"]
    for style in clothes.STYLES:
        assert top(style, np.pi) >= front[style], style


def test_the_cloth_stands_off_the_skin(body):
    """Covered vertices move out by at least the cloth's thickness, the face not at all."""
    g = clothes.Garment("crew", "navy", "white", "stripes", 12.0, 3.0, 2.0, 7)
    dressed = synthetic.dress(body, g)
    moved = np.linalg.norm(dressed.vertices - body.vertices, axis=1)
    where = clothes.neck(body.rest, body.bust.head)
    deep = clothes.neckline(body.rest, g, where) > 5.0
    assert deep.sum() > 1000
    assert moved[deep].min() >= 3.0 - 1e-6
    face = body.rest[:, 1] > where.chin_y
    assert moved[face].max() == 0.0


def test_a_person_s_parts_map():
    """A simulated person's photo has skin, eyes, lips, neck and clothes in its parts map;
    the background is background exactly where nothing was rendered; the clothes lie below
    the face; the map is written to truth/parts.png and reads back the same."""
    surface = synthetic.face(4, SIZE, still=True)
    p = surface.parts
    assert p is not None and p.shape == surface.mask.shape
    np.testing.assert_array_equal(p == parts.BACKGROUND, ~surface.mask)
    present = set(np.unique(p).tolist())
    for code in (parts.SKIN, parts.EYES, parts.LIPS, parts.NECK, parts.CLOTHES):
        assert code in present, parts.NAMES[code]
    rows = np.arange(SIZE)[:, None].repeat(SIZE, 1)
    assert rows[p == parts.CLOTHES].mean() > rows[p == parts.EYES].mean() + SIZE / 8
    assert rows[p == parts.NECK].mean() > rows[p == parts.LIPS].mean()
    files = synthetic.truth_files(surface)
    back = cv2.imdecode(np.frombuffer(files["truth/parts.png"], np.uint8),
                        cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(back, p)


def test_a_person_wears_the_same_garment_every_take():
    assert synthetic.person_garment(9) == synthetic.person_garment(9)
    drawn = {synthetic.person_garment(pid) for pid in range(40)}
    assert len({g.style for g in drawn}) == len(clothes.STYLES)
    assert len({g.colour for g in drawn}) >= 8
    assert len({g.pattern for g in drawn}) == len(clothes.PATTERNS)


def test_a_very_slight_person_s_chin_is_found():
    """Person 739 (slight, sloping shoulders): the face reaches less than 75 mm ahead of the
    neck's axis as it is estimated; the chin is still the lowest point of the face's front,
    below the mouth and ahead of the neck (rendering them crashed at the population's 740th)."""
    from photometric.sim import people

    m = people.mesh(people.person(739))
    where = clothes.neck(m.rest, m.bust.head)
    face = m.rest[m.bust.head]
    assert face[:, 1].min() - 1.0 <= where.chin_y < -40.0  # below the mouth, on the face
    assert where.chin_z > where.axis_z + 40.0
