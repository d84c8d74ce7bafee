"""Glasses: worn by at least one person in seven, fitted to each face without touching it,
carried by the head's pose, and in the truth: the frame as a part of its own, the lens as
what it covers with the normals of what lies behind it; the booth's cross-polarised
flashes see only the lens's transmission, portrait light its reflections too."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from photometric import raster
from photometric.render import SensorModel, render
from photometric.sim import glasses, parts, people, portrait, sitter, synthetic

#: A person who wears glasses (checked below) and one who does not.
WEARER, BARE = 9, 1


def test_at_least_one_person_in_seven_wears_glasses():
    ages = [people.years(people.person(pid).phenotype["age"]) for pid in range(700)]
    worn = sum(glasses.draw(np.random.default_rng(people.stable_seed("glasses", pid)), age)
               is not None for pid, age in enumerate(ages))
    assert 700 / 7 <= worn <= 700 / 3, worn
    assert synthetic.glasses_of(WEARER) is not None and synthetic.glasses_of(BARE) is None


def _head(pid: int) -> np.ndarray:
    return people.mesh(people.person(pid)).rest[people.bust().head]


def _face_depth(head: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The head's front (z, mm) at the x, y of ``points``: the head rasterised from 5 m."""
    far = 5000.0
    cam = raster.PerspectiveCamera(focal_px=far / 0.5, width=400, height=400)
    frags = raster.rasterize(head - [0.0, 0.0, far], people.template().faces, cam)
    pix = cam.project(np.column_stack([points[:, :2], points[:, 2] - far]))
    col, row = np.rint(pix[:, 0]).astype(int), np.rint(pix[:, 1]).astype(int)
    return far - frags.depth[row, col]


@pytest.mark.parametrize("shape", list(glasses.SHAPES))
@pytest.mark.parametrize("pid", [3, 12])
def test_a_frame_sits_in_front_of_the_face_and_its_temples_outside_the_head(shape, pid):
    head = _head(pid)
    spec = glasses.Glasses(shape, 52.0, 18.0, 4.0, 4.5, "black", (1.0, 1.0, 1.0))
    pair = glasses.fit(spec, head, people.template().eye_ids)
    eyes = np.stack([head[i].mean(0) for i in people.template().eye_ids])
    # The lenses: 2 mm or more in front of the face under them (but for their lower inner
    # corners, where the nose pads rest), and within 35 mm of it (the temples curve back).
    lens = pair.lens_vertices
    outer = (lens[:, 1] > eyes[:, 1].mean()) | (np.abs(lens[:, 0]) > np.abs(eyes[:, 0]).mean())
    gap = lens[outer, 2] - _face_depth(head, lens[outer])
    assert gap.min() >= 2.0 and gap.max() < 35.0, (gap.min(), gap.max())
    # The rims are centred on the eyes' heights and on either side of the nose.
    rims = pair.frame_vertices[np.abs(pair.frame_vertices[:, 2] - lens[:, 2].mean()) < 8.0]
    assert abs(np.median(rims[:, 1]) - eyes[:, 1].mean()) < 8.0
    assert rims[:, 0].min() < eyes[0, 0] < eyes[1, 0] < rims[:, 0].max()
    # The temples reach back past the eyes by 60 mm and outside the head where they pass.
    back = pair.frame_vertices[pair.frame_vertices[:, 2] < eyes[:, 2].max() - 60.0]
    assert len(back)
    band = head[np.abs(head[:, 1] - back[:, 1].mean()) < 5.0]
    for v in back[::11]:
        beside = band[np.abs(band[:, 2] - v[2]) < 3.0]
        if len(beside):
            assert abs(v[0]) > np.abs(beside[:, 0]).max() + 0.5, v


def test_glasses_move_with_the_head():
    who = people.person(WEARER)
    still = people.mesh(who)
    turned = people.mesh(who, people.Sitting(yaw=-25.0, pitch=12.0, roll=-8.0))
    a = synthetic.worn_glasses(synthetic.glasses_of(WEARER), still)[0]
    b = synthetic.worn_glasses(synthetic.glasses_of(WEARER), turned)[0]
    skull = still.rest[still.bust.head][:, 1] > 20.0
    s0, s1 = still.head[skull][::40], turned.head[skull][::40]
    pick = a.frame_vertices[::53]
    d0 = np.linalg.norm(pick[:, None] - s0[None], axis=-1)
    d1 = np.linalg.norm(b.frame_vertices[::53][:, None] - s1[None], axis=-1)
    assert np.abs(d0 - d1).max() < 0.5


@pytest.fixture(scope="module")
def worn_and_bare():
    """The wearer rendered as they sit, and the same body without the glasses."""
    who = people.person(WEARER)
    body = synthetic.dress(people.mesh(who, people.sitting(who, 0)),
                           synthetic.person_garment(WEARER))
    args = (synthetic.person_texture(WEARER), 160, 0.0, synthetic.person_garment(WEARER),
            synthetic.person_hair(WEARER, body))
    worn = synthetic.render_mesh(body, *args,
                                 glasses=synthetic.worn_glasses(synthetic.glasses_of(WEARER), body))
    return worn, synthetic.render_mesh(body, *args)


def test_the_truth_behind_a_lens_is_what_lies_behind_it(worn_and_bare):
    worn, bare = worn_and_bare
    lens = worn.parts == parts.LENS
    frame = worn.parts == parts.GLASSES
    assert lens.sum() > 200 and frame.sum() > 50
    # Behind the lens: the eyes and skin, with their own normals; the albedo dimmed.
    assert np.isin(bare.parts[lens], [parts.SKIN, parts.EYES, parts.BROWS]).all()
    np.testing.assert_array_equal(worn.normals[lens], bare.normals[lens])
    tint = np.asarray(synthetic.glasses_of(WEARER).tint, np.float32)
    np.testing.assert_allclose(worn.albedo[lens], bare.albedo[lens] * glasses.TRANSMISSION
                               * tint, rtol=1e-5)
    # The lens's own normals point at the camera, and only where the lens is.
    assert (worn.glass[lens][:, 2] > 0.8).all()
    assert not worn.glass[~lens].any()
    # The frame has its own normals (not the skin's behind it).
    assert np.degrees(np.arccos(np.clip(np.einsum(
        "ij,ij->i", worn.normals[frame], bare.normals[frame]), -1, 1))).mean() > 5.0


def test_booth_flashes_see_through_a_lens_portrait_light_sees_its_reflections(worn_and_bare):
    worn, bare = worn_and_bare
    lens = worn.parts == parts.LENS
    booth = synthetic.Booth()
    ring = render(worn, booth.lights("center"), SensorModel())
    plain = render(bare, booth.lights("center"), SensorModel())
    ratio = np.median(ring[lens] / np.maximum(plain[lens], 1e-6), axis=0)
    tint = np.asarray(synthetic.glasses_of(WEARER).tint)
    np.testing.assert_allclose(ratio, glasses.TRANSMISSION * tint, atol=0.02)
    # A key light where the lens mirrors it into the camera (lenses tilt down a little,
    # their lower rims nearer the cheeks, as a sitter's head does).
    n = np.median(worn.glass[lens], axis=0)
    n /= np.linalg.norm(n)
    key = 2.0 * n[2] * n - np.array([0.0, 0.0, 1.0])
    scene = replace(portrait.draw(np.random.default_rng(3)), key_power=2.0,
                    key=tuple(float(k) for k in key))
    eye = np.array([0.0, 0.0, synthetic.CAMERA_DISTANCE_MM])
    glare = portrait.reflections(worn.glass, worn.positions, scene, eye, mean=1.0)
    assert glare[lens].max() > 1.0 and not glare[~lens].any()


def test_a_wearers_record_names_their_glasses_and_renders_them_in_both_lights():
    for lighting in sitter.LIGHTINGS:
        record = sitter.choose(WEARER, 1, lighting)
        assert record["glasses"]["shape"] in glasses.SHAPES
        found = np.unique(sitter.surface(record, size=128)[0].parts)
        assert parts.GLASSES in found and parts.LENS in found
    assert sitter.choose(BARE, 0)["glasses"] is None
