"""Face crops and landmark channels: everything stays aligned."""

import numpy as np
import pytest

from learning import preprocess


@pytest.mark.parametrize("encoding", preprocess.ENCODINGS)
def test_crop_keeps_landmarks_normals_and_mask_aligned(face_capture, encoding):
    imgs, surf, lm = face_capture
    s = preprocess.make_sample(imgs["center"], surf.normals, surf.mask, lm, 128, encoding)
    assert s.image.shape == (128, 128, 3) and s.normals.shape == (128, 128, 3)
    assert s.input.shape == (128, 128, 3 if encoding == "none" else 5)
    # Landmarks map into the crop, with the margin around them.
    assert s.landmarks[:, :2].min() > 10 and s.landmarks[:, :2].max() < 118
    # Normals are unit length inside the mask and zero outside.
    length = np.linalg.norm(s.normals, axis=-1)
    np.testing.assert_allclose(length[s.mask], 1.0, atol=1e-5)
    assert np.all(length[~s.mask] == 0)
    # The mask is the crop of the subject's mask: compare with the crop of the truth mask.
    crop = preprocess.face_crop(lm, 128)
    ref = crop.image(surf.mask.astype(np.float32)) >= 0.5
    assert (s.mask != ref).mean() < 0.01
    # Cropped normals agree with the true normals, sampled at the same place.
    true_n, _ = crop.normals(surf.normals, surf.mask)
    dots = (s.normals * true_n).sum(-1)[s.mask]
    assert np.degrees(np.arccos(np.clip(dots, -1, 1))).mean() < 0.01
    # Each landmark sits on the subject.
    xy = np.clip(s.landmarks[:, :2].astype(int), 0, 127)
    assert s.mask[xy[:, 1], xy[:, 0]].mean() > 0.95


def test_points_and_dense_channels_carry_parts_and_depth(face_capture):
    imgs, surf, lm = face_capture
    pts = preprocess.make_sample(imgs["center"], surf.normals, surf.mask, lm, 256, "points")
    parts = preprocess.part_of_landmark()
    xy = np.floor(pts.landmarks[:, :2]).astype(int)
    at = pts.channels[xy[:, 1], xy[:, 0]]
    # Each landmark's disc carries its part (a few are covered by a nearer neighbour's).
    assert (np.abs(at[:, 0] - parts / len(preprocess.PARTS)) < 1e-6).mean() > 0.9
    assert (at[:, 1] > 0).all() and (pts.channels[..., 1] > 0).mean() < 0.2  # sparse discs
    dense = preprocess.make_sample(imgs["center"], surf.normals, surf.mask, lm, 256, "dense")
    label, depth = dense.channels[..., 0], dense.channels[..., 1]
    face = label > 0
    assert 0.15 < face.mean() < 0.8 and (depth[face] > 0).mean() > 0.99
    assert (depth[~face] == 0).all()
    # The nose tip (landmark 1) is nearer the camera than the face's edge: brighter depth.
    nose = np.floor(dense.landmarks[1, :2]).astype(int)
    cheek = np.floor(dense.landmarks[234, :2] + [4, 0]).astype(int)
    assert depth[nose[1], nose[0]] > depth[cheek[1], cheek[0]]
    # Every part is present in the label map.
    assert set(np.unique(np.round(label * 9)).astype(int)) == set(range(10))


def test_crop_past_the_edge_is_padded_and_masked(face_capture):
    imgs, surf, lm = face_capture
    shifted = lm.copy()
    shifted[:, 0] -= lm[:, 0].min() - 2  # the face at the photo's left edge
    s = preprocess.make_sample(imgs["center"], surf.normals, surf.mask, shifted, 128)
    assert not s.mask[:, :10].any() and (s.image[:, :10] == 0).all()
