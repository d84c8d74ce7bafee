"""Simulated people: who they are, that their faces point the right way, that each is
someone else, that MediaPipe sees a face, and that photometric stereo recovers them."""

from __future__ import annotations

import numpy as np
import pytest

from photometric import response, stereo
from photometric.sim import parts, people, sitter, synthetic
from tests.conftest import lit_by_all

SIZE = 384


def _project(surface_size: int, points: np.ndarray) -> np.ndarray:
    """Subject-frame points (mm) -> (column, row) in the booth camera's photo."""
    cam = synthetic.camera_for(surface_size)
    return cam.project(points - [0.0, 0.0, synthetic.CAMERA_DISTANCE_MM])[:, :2]


def _still(pid: int, size: int = SIZE):
    return synthetic.face(pid, size, still=True)


def angle_between(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> float:
    """Mean angle (degrees) between two normal maps where both have a surface."""
    cos = np.clip(np.einsum("...k,...k->...", a, b)[where], -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)).mean())


def test_a_face_points_the_right_way():
    """Nose toward the camera, image-left cheek toward -x, forehead toward +y."""
    for pid in (0, 7):
        s = _still(pid)
        tpl = people.template()
        head = people.mesh(people.person(pid))
        left_eye = head.vertices[tpl.eye_ids[0]].mean(0)
        right_eye = head.vertices[tpl.eye_ids[1]].mean(0)
        mid = (left_eye + right_eye) / 2
        # The nose tip: the nearest surface point to the camera below the eyes, on the face.
        col, row = _project(SIZE, mid[None])[0]
        depth = np.where(s.mask, s.depth, np.inf)
        window = depth[int(row):int(row) + SIZE // 6, int(col) - SIZE // 16:int(col) + SIZE // 16]
        r, c = np.unravel_index(np.argmin(window), window.shape)
        nose = s.normals[int(row) + r, int(col) - SIZE // 16 + c]
        assert nose[2] > 0.9, nose
        # Cheeks: 45 mm either side of the midline, 35 mm below the eyes, on the surface.
        eye_gap = np.linalg.norm(right_eye - left_eye)
        for side, sign in ((left_eye, -1), (right_eye, 1)):
            p = side + [sign * 0.3 * eye_gap, -35.0, 0.0]
            col, row = np.rint(_project(SIZE, p[None])[0]).astype(int)
            n = s.normals[row, col]
            assert s.mask[row, col] and np.sign(n[0]) == sign and abs(n[0]) > 0.2, (pid, n)
        # Forehead: 45 mm above the eyes' midpoint (where a fringe does not cover it: its
        # edge may face down).
        col, row = np.rint(_project(SIZE, (mid + [0, 45.0, 0])[None])[0]).astype(int)
        n = s.normals[row, col]
        assert s.mask[row, col]
        assert n[1] > 0.15 or s.parts[row, col] == parts.HAIR, (pid, n)


def test_the_same_id_is_the_same_person_and_ids_differ():
    """Same id and take: the same render, bit for bit. Different ids: different faces, by
    more than what rasterising the same face half a pixel to the side changes."""
    a = _still(3)
    again = _still(3)
    np.testing.assert_array_equal(a.normals, again.normals)
    np.testing.assert_array_equal(a.albedo, again.albedo)
    assert people.person(3) == people.person(3)
    # The floor: the same head moved 0.3 mm (half a pixel at this size) and rendered again.
    record = sitter.choose(3, 0, "booth")
    record["sitting"] = {"yaw": 0.0, "pitch": 0.0, "roll": 0.0, "shift": [0.3, 0.0, 0.0],
                         "expression": {}}
    shifted = sitter.surface(record, SIZE)[0]  # with their hair, beard, lashes and teeth
    face = _face_region(a)
    floor = angle_between(a.normals, shifted.normals, face & shifted.mask)
    others = [angle_between(a.normals, _still(pid).normals, face & _still(pid).mask)
              for pid in (4, 5, 11, 12)]
    print(f"shape distance: same face moved half a pixel {floor:.2f}°, other people "
          + ", ".join(f"{d:.1f}°" for d in others))
    # Rasterising the same face half a pixel over changes the map by `floor`; people differ
    # by at least 2.5° (the mean angle between two faces' normals over the face).
    assert min(others) > max(4 * floor, 2.5)


def _face_region(s) -> np.ndarray:
    """The face, from brows to chin and eye corner to eye corner (plus a margin): where
    people's shapes are compared (not hair, ears or neck)."""
    tpl = people.template()
    eyes = np.stack([s.occluder.vertices[i].mean(0) for i in tpl.eye_ids])
    (c0, r0), (c1, r1) = _project(SIZE, eyes)
    gap = c1 - c0
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    return (s.mask & (cols > c0 - 0.4 * gap) & (cols < c1 + 0.4 * gap)
            & (rows > min(r0, r1) - 0.5 * gap) & (rows < max(r0, r1) + 1.6 * gap))


def test_takes_of_one_person_differ_a_little():
    """A second sitting moves the head a little; the person and their skin stay."""
    a = synthetic.face(2, SIZE, take=0)
    b = synthetic.face(2, SIZE, take=1)
    moved = np.abs(a.mask.astype(int) - b.mask.astype(int)).sum() / a.mask.sum()
    assert 0.002 < moved < 0.25
    first, second = people.sitting(people.person(2), 0), people.sitting(people.person(2), 1)
    assert first != second and first.expression != second.expression
    assert max(abs(first.yaw - second.yaw), abs(first.pitch - second.pitch)) < 20


def test_truth_holds_depth_and_albedo():
    s = _still(1)
    t = synthetic.truth(s)
    assert t["depth"].dtype == np.float32 and np.isnan(t["depth"][~s.mask]).all()
    d = t["depth"][s.mask]
    # The head is about a metre from the camera; from the nose to the shoulders' backs
    # 30 cm at most.
    assert 850 < d.min() < d.max() < 1200 and d.max() - d.min() < 300
    assert t["albedo"][s.mask].max() <= 1.0 and t["albedo"][s.mask].min() >= 0.0
    np.testing.assert_allclose(np.linalg.norm(t["normals"][s.mask], axis=-1), 1.0, atol=1e-4)


def test_face_mesh_finds_the_faces_of_40_people():
    """The ring-flash photo of 40 different people, as the simulated camera's JPEG shows
    it (8-bit sRGB): Face Mesh finds at least 38."""
    from learning.facemesh import NoFaceError, detect

    found = []
    for pid in range(40):
        s = synthetic.face(pid, 384)
        ring = synthetic.capture(s)["center"]
        try:
            detect(response.encode_srgb8(ring))
            found.append(pid)
        except NoFaceError:
            pass
    missed = sorted(set(range(40)) - set(found))
    print(f"Face Mesh found {len(found)}/40 simulated people; missed {missed}")
    assert len(found) >= 38, missed


def test_lambertian_stereo_on_a_person_with_cast_shadows():
    s = synthetic.face(5, 512)
    shots = synthetic.capture(s)
    res = stereo.lambertian(shots, synthetic.SIM_RIG)
    err = stereo.angular_error(res.normals, s.normals)
    everywhere = lit_by_all(s.normals, s.mask, surface=s)
    skin = everywhere & res.mask & (s.albedo.mean(-1) > 0.03)  # not black hair
    shadowed = s.mask & ~lit_by_all(s.normals, s.mask, surface=s)
    whole = s.mask & res.mask
    print(f"lambertian on a person: {err[skin].mean():.3f}° where every flash lights the "
          f"pixel ({skin.sum()} px), {err[whole].mean():.2f}° over the whole subject with its "
          f"cast and attached shadows ({shadowed.sum()} px shadowed under some flash)")
    assert err[skin].mean() < 1.0


@pytest.mark.parametrize("bad", [-1, 2**63])
def test_person_ids_are_any_integer_but_stable(bad):
    # Any integer names a person; the id is hashed, so negative or huge ids work too.
    assert people.person(bad) == people.person(bad)


def test_a_person_has_a_neck_and_shoulders():
    """The upper body below the head: a neck and shoulders well wider than the head, down
    to the chest, and the arms hanging (not anny's A-pose, whose arms reach out sideways)."""
    for pid in (0, 7):
        body = people.mesh(people.person(pid))
        v, head = body.vertices, body.head
        chin = head[:, 1].min()
        below = v[v[:, 1] < chin - 150.0]
        assert len(below) > 500
        head_width = np.ptp(head[:, 0])
        shoulders = v[(v[:, 1] < chin - 60.0) & (v[:, 1] > chin - 220.0)]
        assert np.ptp(shoulders[:, 0]) > 1.8 * head_width, (pid, np.ptp(shoulders[:, 0]))
        # Hanging arms stay within about two head widths of the midline.
        assert np.abs(v[:, 0]).max() < 1.6 * head_width, (pid, np.abs(v[:, 0]).max())
        assert (body.bust.labels == people.BODY).sum() > 2000


@pytest.mark.parametrize("yaw,pitch,roll", [(40.0, 0.0, 0.0), (-25.0, 20.0, 0.0),
                                            (0.0, -20.0, 15.0)])
def test_the_head_turns_on_the_neck_and_the_shoulders_stay(yaw, pitch, roll):
    """A sitting's turn is the head's: its face frame turns by the sitting's rotation
    (within 1°), while the shoulders' line stays level (within 2°) and the neck bends."""
    who = people.person(5)
    tpl = people.template()
    still = people.mesh(who)
    posed = people.mesh(who, people.Sitting(yaw=yaw, pitch=pitch, roll=roll))
    _, f0 = people._face_frame(still.head, tpl)
    _, f1 = people._face_frame(posed.head, tpl)
    want = people.rotation(yaw, pitch, roll)
    got = f1.T @ f0  # the rotation taking the still face frame to the posed one
    angle = np.degrees(np.arccos(np.clip((np.trace(want.T @ got) - 1) / 2, -1, 1)))
    assert angle < 1.0, angle

    def shoulder_line(body) -> float:
        v = body.vertices
        chin = body.head[:, 1].min()
        band = v[(v[:, 1] < chin - 60.0) & (v[:, 1] > chin - 200.0)]
        left, right = band[band[:, 0].argmin()], band[band[:, 0].argmax()]
        return float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))

    assert abs(shoulder_line(posed) - shoulder_line(still)) < 2.0


def test_subject_names_map_to_people_of_their_own():
    """Subject names (the app's simulated booth) are people above ``simulate people``'s ids,
    the same name the same person, no two of 50,000 names (alike ones too) the same."""
    names = [f"p{i}" for i in range(25_000)] + [f"P{i:05d}" for i in range(25_000)]
    ids = [people.subject_id(n) for n in names]
    assert len(set(ids)) == len(names)
    assert min(ids) >= people.SUBJECT_IDS == 2**32
    assert people.subject_id("alice", 3) == people.subject_id("alice", 3)
    assert people.person(ids[0]).id == ids[0]


def test_brows_are_a_layer_of_hairs_in_the_normals():
    """The brows tilt the normals across their hairs (a normal-mapped layer, in the truth
    as in the photos): neighbouring brow pixels differ several times more than the skin's."""
    s = synthetic.face(3, 384, still=True, glasses=False)
    n = s.normals
    step = np.degrees(np.arccos(np.clip(np.einsum("ijk,ijk->ij", n[:, 1:], n[:, :-1]), -1, 1)))
    both = lambda code: (s.parts[:, 1:] == code) & (s.parts[:, :-1] == code)  # noqa: E731
    brows, skin = step[both(parts.BROWS)], step[both(parts.SKIN)]
    assert len(brows) > 300
    assert np.median(brows) > 3 * np.median(skin), (np.median(brows), np.median(skin))
