"""The whole sitter: the person framing, portrait-light people as training data, every face of
a group photo, and predictions pasted back with their mask and a soft seam."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data

from booth.cli import main
from learning import checkpoint, preprocess
from learning.model import UNet
from learning.prediction import Face, Predictor, paste
from photometric.sim import parts as P


@pytest.fixture(scope="module")
def portraits(tmp_path_factory):
    """Three simulated people in portrait light (portrait.jpg with its truth)."""
    from booth.population import simulate_people

    out = tmp_path_factory.mktemp("portraits") / "people"
    simulate_people(out, 3, seed=10, size=256, lighting="portrait")
    return out


def _person(folder):
    from learning.exporter import is_portrait
    from learning.facemesh import detect

    assert is_portrait(folder)
    rgb = cv2.cvtColor(cv2.imread(str(folder / "portrait.jpg")), cv2.COLOR_BGR2RGB)
    normals = np.load(folder / "truth" / "normals.npy")
    mask = cv2.imread(str(folder / "truth" / "mask.png"), cv2.IMREAD_UNCHANGED) > 0
    parts = cv2.imread(str(folder / "truth" / "parts.png"), cv2.IMREAD_UNCHANGED)
    return rgb, normals, mask, parts, detect(rgb).points


def test_the_person_framing_holds_hair_neck_and_shoulders(portraits):
    """The face framing is the face; the person framing adds what a relit portrait needs."""
    for folder in sorted(portraits.glob("person-*")):
        rgb, normals, mask, parts, lm = _person(folder)
        face = preprocess.make_sample(rgb, normals, mask, lm, 96, "points", "face", parts)
        person = preprocess.make_sample(rgb, normals, mask, lm, 96, "points", "person", parts)

        def share(s, codes):
            return np.isin(s.parts, codes).mean()

        def area(s, framing, codes, lm=lm):  # in the photo's pixels
            return share(s, codes) * preprocess.face_crop(lm, 96, framing).side ** 2

        below = P.REGIONS["neck"] + P.REGIONS["clothes"]
        assert share(person, below) > 0.08, folder.name
        box = preprocess.face_crop(lm, 96, "person")
        # (a close-up's photo ends at the shoulders: there is no more of them to show)
        more = 1.5 if box.y0 + box.side <= rgb.shape[0] else 1.0
        assert area(person, "person", below) > more * area(face, "face", below), folder.name
        assert area(person, "person", P.REGIONS["hair"]) >= area(face, "face", P.REGIONS["hair"])
        # the face's skin is whole in both (the same area of the photo)
        skin = (P.SKIN,)
        assert area(person, "person", skin) == pytest.approx(area(face, "face", skin), rel=0.1)
        # the landmarks sit in the person crop's upper middle
        cy = person.landmarks[:, 1].mean() / 96
        assert 0.3 < cy < 0.5 and 0.35 < person.landmarks[:, 0].mean() / 96 < 0.65


def test_the_person_crop_mirrors_with_the_photo(portraits):
    rgb, normals, mask, parts, lm = _person(sorted(portraits.glob("person-*"))[0])
    w = rgb.shape[1]
    flipped = lm.copy()
    flipped[:, 0] = w - lm[:, 0]
    a, b = preprocess.face_crop(lm, 96, "person"), preprocess.face_crop(flipped, 96, "person")
    assert a.side == b.side and a.y0 == b.y0 and a.x0 == w - (b.x0 + b.side)


def test_portrait_light_people_export_with_their_true_normals(portraits, tmp_path, capsys):
    from learning.sample_format import read_sample

    out = tmp_path / "ds"
    assert main(["export", str(portraits), "--out", str(out), "--size", "64",
                 "--workers", "1", "--split", "1,0,0"]) == 0
    said = capsys.readouterr().out
    assert "exported 3 captures (0 reused)" in said
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["framing"] == "person"
    keys = sorted(s["key"] for s in manifest["sources"])
    assert keys == [f"people/person-{k:04d}/portrait" for k in (10, 11, 12)]
    sample = manifest["samples"][0]
    s = read_sample(out / "samples" / sample["file"], "points")
    # the target is the truth cropped: compare with the truth cropped here
    rgb, normals, mask, parts, lm = _person(portraits / sample["subject"])
    ref = preprocess.make_sample(rgb, normals, mask, lm, 64, "points", "person", parts)
    assert (s.mask == ref.mask).mean() > 0.99 and (s.parts == ref.parts).mean() > 0.99
    both = s.mask & ref.mask
    assert (s.normals[both] * ref.normals[both]).sum(-1).min() > 0.999
    # run again: every sample reused
    assert main(["export", str(portraits), "--out", str(out), "--size", "64",
                 "--workers", "1", "--split", "1,0,0"]) == 0
    assert "exported 3 captures (3 reused)" in capsys.readouterr().out


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    """Six astronauts of 300-500 px on a 3000 × 2000 grey photo (faces about 100-170 px)."""
    a = skimage.data.astronaut()
    canvas = np.full((2000, 3000, 3), 200, np.uint8)
    where = []
    for k in range(6):
        s = 300 + 40 * k
        y, x = 200 + (k // 3) * 900, 100 + (k % 3) * 950
        canvas[y:y + s, x:x + s] = cv2.resize(a, (s, s), interpolation=cv2.INTER_AREA)
        where.append((x, y, s))
    return canvas, where


def test_every_face_of_a_group_photo_is_found(group):
    from learning.face_finder import find_faces
    from learning.facemesh import NoFaceError, detect_all

    canvas, where = group
    with pytest.raises(NoFaceError):  # Face Mesh's own detector: short-range
        detect_all(canvas, 4)
    faces = find_faces(canvas, 6)
    assert len(faces) == 6
    # each found where one was put (the astronaut's face: about 0.4-0.6 across, 0.1-0.45 down)
    for x, y, s in where:
        near = [f for f in faces if x + 0.3 * s < f[:, 0].mean() < x + 0.7 * s
                and y + 0.05 * s < f[:, 1].mean() < y + 0.5 * s]
        assert len(near) == 1, (x, y, s)
    # largest first
    sizes = [np.ptp(f[:, 0]) for f in faces]
    assert sizes == sorted(sizes, reverse=True)


def _face(x0, y0, side, size, normal, alpha=1.0):
    n = np.zeros((size, size, 3), np.float32)
    n[...] = np.asarray(normal, np.float32) / np.linalg.norm(normal)
    return Face(n, np.full((size, size), alpha, np.float32), preprocess.Crop(x0, y0, side, size))


def test_crops_paste_back_with_a_soft_seam_and_overlaps_average():
    a = _face(20, 30, 100, 32, (0, 0, 1))
    normals, alpha = paste([a], (200, 200))
    assert alpha[80, 70] == pytest.approx(1.0) and alpha[5, 5] == 0 and alpha[180, 180] == 0
    # faded out over the crop's edge, not a step
    row = alpha[80, 15:35]
    assert (np.diff(row) >= -1e-6).all() and 0.05 < row[7] < 0.95
    inside = alpha >= 0.5
    np.testing.assert_allclose(np.linalg.norm(normals[inside], axis=-1), 1.0, atol=1e-5)
    assert (normals[~inside] == 0).all()
    # a second face overlapping the first: their normals averaged by weight where both are
    b = _face(70, 30, 100, 32, (1, 0, 1))
    normals, alpha = paste([a, b], (200, 200))
    mid = normals[80, 95]
    assert 0 < mid[0] < np.sin(np.radians(45)) and mid[2] > np.cos(np.radians(45))
    assert alpha[80, 95] == pytest.approx(1.0)


def test_a_model_s_mask_decides_what_is_pasted(tmp_path):
    """A model whose mask says 'everywhere' pastes the person MediaPipe's selfie segmentation
    sees in its crop (hair, neck, suit), far past the face oval, and not the backdrop; the
    same model without its mask channel pastes the oval."""
    import torch

    from learning.face_finder import find_faces

    rgb = skimage.data.astronaut()
    lm = find_faces(rgb)[0]
    for outputs, bias in ((4, 20.0), (3, 0.0)):
        torch.manual_seed(0)
        net = UNet(5, base=8, outputs=outputs)
        with torch.no_grad():
            net.head.bias[3:] = bias
        path = checkpoint.save_model(tmp_path / f"m{outputs}.safetensors", net, {
            "dataset": {"encoding": "points", "size": 64, "framing": "person"}})
        p = Predictor.load(path)
        assert p.framing == "person"
        photo = p.photo(rgb)
        oval = np.zeros(rgb.shape[:2], np.uint8)
        cv2.fillPoly(oval, [np.round(lm[preprocess.oval_order(), :2]).astype(np.int32)], 1)
        crop = photo.faces[0].box
        if outputs == 4:
            assert photo.mask.sum() > 3 * oval.sum()
            top = int(lm[:, 1].min())  # the forehead's top landmark: hair above it
            chin = int(lm[152, 1])
            cx = int(lm[:, 0].mean())
            assert photo.mask[top - 15, cx] and photo.mask[chin + 60, cx]  # hair, the suit
            # the backdrop in the crop's top corners is not the person
            assert not photo.mask[max(crop.y0, 0) + 5, max(crop.x0, 0) + 5]
            assert not photo.mask[max(crop.y0, 0) + 5, crop.x0 + crop.side - 5]
        else:
            assert (photo.mask != oval.astype(bool)).sum() < 0.1 * oval.sum()


def test_where_a_crop_cuts_through_the_person_the_relit_photo_fades_out_wide():
    """A crop whose bottom border (inside the photo) cuts through the person: its blend fades
    over CUT of the side there (no straight line across the shoulders), while its mask (where
    normals hold) still reaches the border's narrow feather; sides that end in background or
    beyond the photo keep the narrow feather."""
    from learning.prediction import CUT, EDGE, Photo, cut_sides

    size, side = 64, 128
    f = _face(40, 20, side, size, (0, 0, 1))
    f.alpha[: size // 4] = 0.0  # background above the head: the top is not cut
    f.alpha[:, : size // 8] = 0.0  # nor the left
    assert cut_sides(f, (300, 300)) == (False, True, False, True)
    # borders outside the photo cut nothing: the photo ends there anyway
    assert cut_sides(f, (140, 160)) == (False, False, False, False)
    photo = Photo(*paste([f], (300, 300)), [f])
    blend = photo.blend()
    assert (blend <= photo.alpha + 1e-6).all()
    bottom = 20 + side
    column = blend[bottom - side // 2:bottom, 100]
    assert (np.diff(column) <= 1e-6).all()  # falls toward the border
    assert column[-1] < 0.05
    # half-way through the wide fade: half shown; the mask still holds there
    mid = bottom - int(CUT * side / 2)
    assert 0.3 < blend[mid, 100] < 0.7 and photo.mask[mid, 100]
    assert photo.mask[bottom - int(EDGE * side), 100]
    # the left side ends in background: the person's edge there is the mask's own
    np.testing.assert_allclose(blend[100, 40 + side // 8 + 2: 40 + side // 4],
                               photo.alpha[100, 40 + side // 8 + 2: 40 + side // 4])
