"""Portrait light: scenes vary the camera, the light, the background and the finish, never
the truth; the same person and pose renders in both kinds of light."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from photometric.sim import parts, people, portrait, synthetic

SIZE = 192


def _surface(pid: int, scene: portrait.Scene):
    who = people.person(pid)
    body = people.mesh(who, people.sitting(who, 0, portrait=True))
    g = synthetic.person_garment(pid)
    view = portrait.view(scene, SIZE)
    surf = synthetic.render_mesh(synthetic.dress(body, g), synthetic.person_texture(pid), SIZE,
                                 0.0, g, synthetic.person_hair(pid, body), view=view)
    return surf, view[1]


@pytest.fixture(scope="module")
def scene() -> portrait.Scene:
    return replace(portrait.draw(np.random.default_rng(5)), defocus=0.0, motion=0.0)


def test_a_portrait_is_a_photo_of_the_person_on_a_background(scene):
    surf, eye = _surface(2, scene)
    img = portrait.photograph(surf, scene, eye)
    assert img.shape == (SIZE, SIZE, 3) and img.dtype == np.uint8
    assert np.array_equal(img, portrait.photograph(surf, scene, eye))  # deterministic
    # The background fills what the mask leaves: not black, and unlike the person.
    assert img[~surf.mask].mean() > 5
    other = portrait.photograph(surf, replace(scene, seed=scene.seed + 1,
                                              backdrop="shapes"), eye)
    assert np.abs(other[~surf.mask].astype(int) - img[~surf.mask]).mean() > 3


def test_exposure_and_key_light_change_the_picture_not_the_truth(scene):
    surf, eye = _surface(2, scene)
    dark = portrait.photograph(surf, replace(scene, exposure=-1.0), eye)
    bright = portrait.photograph(surf, replace(scene, exposure=1.0), eye)
    skin = surf.parts == parts.SKIN
    assert bright[skin].mean() > dark[skin].mean() + 30
    keyed = replace(scene, key_power=3.0, key=(0.7, 0.3, 0.648))
    a = portrait.shade(surf, keyed, eye)
    b = portrait.shade(surf, replace(keyed, key=(-0.7, 0.3, 0.648)), eye)
    cols = np.arange(SIZE)[None, :].repeat(SIZE, 0)
    right, left = skin & (cols > SIZE / 2), skin & (cols < SIZE / 2)
    assert a[right].mean() > a[left].mean() and b[left].mean() > b[right].mean()
    again, _ = _surface(2, scene)
    np.testing.assert_array_equal(again.normals, surf.normals)


def test_the_lens_and_framing_set_the_view(scene):
    """A wide lens stands close and a long one far; a head-and-shoulders framing shows the
    clothes that a tight face leaves out."""
    wide = portrait.view(replace(scene, focal_mm=26.0, framing=0.5), SIZE)[1][2]
    long = portrait.view(replace(scene, focal_mm=85.0, framing=0.5), SIZE)[1][2]
    assert long > 2.5 * wide
    tight, _ = _surface(4, replace(scene, framing=0.0))
    loose, _ = _surface(4, replace(scene, framing=1.0))
    assert (loose.parts == parts.CLOTHES).mean() > (tight.parts == parts.CLOTHES).mean() + 0.1
    assert (tight.parts == parts.SKIN).mean() > (loose.parts == parts.SKIN).mean()


def test_one_person_and_pose_in_both_kinds_of_light(scene):
    """The surface a portrait is rendered from takes the booth's five flashes too: the pair
    shares one truth."""
    surf, eye = _surface(6, scene)
    flashes = synthetic.capture(surf)
    photo = portrait.photograph(surf, scene, eye)
    assert set(flashes) >= {"center", "left", "right", "top", "bottom"}
    assert flashes["center"].shape[:2] == photo.shape[:2] == surf.mask.shape
    assert flashes["center"][surf.mask].mean() > 0.02


def test_hair_has_strands_along_its_surface_and_an_anisotropic_highlight():
    """The surface knows the strands' direction on the hair (in the hair's surface, running
    down a long style's curtain), and the highlight is a band: brightest where the half
    vector is across the strands, falling off along them, the same all around them."""
    pid = next(p for p in range(40) if synthetic.grown_hair(p)[0].style == "long")
    s = synthetic.face(pid, 256, still=True, glasses=False)
    have = np.linalg.norm(s.strands, axis=-1) > 0.5
    assert have.sum() > 1000 and (s.parts[have] == parts.HAIR).all()
    along = np.abs(np.einsum("...k,...k->...", s.strands, s.normals))[have]
    assert np.median(along) < 0.2
    low = have & (np.arange(256)[:, None] > 170)  # the curtain, below the chin
    assert np.median(np.abs(s.strands[low][:, 1])) > 0.8
    t = np.array([[0.0, 1.0, 0.0]] * 3)
    n = np.array([[0.0, 0.0, 1.0]] * 3)
    tilt = np.radians([0.0, 20.0, 0.0])
    half = np.stack([np.zeros(3), np.sin(tilt), np.cos(tilt)], 1)
    half[2] = [np.sin(0.5), 0.0, np.cos(0.5)]  # turned around the strand, not along it
    lit = portrait.hair_highlight(t, n, half, np.full((3, 3), 0.1))
    assert lit[1].sum() < 0.5 * lit[0].sum()
    assert lit[2].sum() == pytest.approx(lit[0].sum(), rel=0.3)


def test_a_key_lights_shadow_has_a_soft_edge():
    """The key light's cast shadow is blurred within the person (a lamp, not a point): 1
    deep in the light, 0 deep in the shadow, between only near the edge, 0 outside."""
    mask = np.zeros((512, 512), bool)
    mask[64:448, 64:448] = True
    lit = mask.copy()
    lit[:, 256:] = False
    soft = portrait.penumbra(lit, mask)
    assert soft[300, 200] == pytest.approx(1.0, abs=1e-3) and soft[300, 300] < 1e-3
    assert 0.5 < soft[300, 255] < 0.8 and 0.2 < soft[300, 256] < 0.5
    assert soft[300, 250] > 0.95 and soft[300, 262] < 0.05
    assert not soft[~mask].any()


def test_the_corneas_catch_the_key_light(scene):
    """The eyes reflect the key light and the room (a catchlight), the skin does not."""
    surf, eye = _surface(2, scene)
    front = replace(scene, key=(0.0, 0.0, 1.0), key_power=2.0)
    with_eyes = portrait.shade(surf, front, eye)
    no_eyes = portrait.shade(replace(surf, parts=np.where(
        surf.parts == parts.EYES, parts.SKIN, surf.parts).astype(np.uint8)), front, eye)
    diff = (with_eyes - no_eyes).sum(-1)
    eyes = surf.parts == parts.EYES
    assert eyes.sum() > 20 and diff[eyes].max() > 0.05 and (diff[eyes] >= 0).all()
    assert not diff[~eyes].any()
