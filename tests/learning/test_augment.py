"""The flip of a sample equals the sample of the flipped capture."""

import numpy as np
import pytest

from learning import augment, preprocess
from learning.mirror import mirror_landmarks
from photometric import stereo


@pytest.mark.parametrize("encoding", ["points", "dense"])
def test_flipped_sample_equals_sample_of_flipped_capture(face_capture, encoding):
    imgs, surf, lm = face_capture
    w = imgs["center"].shape[1]
    flipped = augment.flip(preprocess.make_sample(imgs["center"], surf.normals, surf.mask, lm,
                                                  160, encoding))
    fimgs = stereo.flip_capture(imgs)
    of_flipped = preprocess.make_sample(fimgs["center"], stereo.flip_normals(surf.normals),
                                        surf.mask[:, ::-1], mirror_landmarks(lm, w), 160,
                                        encoding)
    np.testing.assert_allclose(flipped.image, of_flipped.image, atol=1e-6)
    np.testing.assert_allclose(flipped.normals, of_flipped.normals, atol=1e-6)
    np.testing.assert_array_equal(flipped.mask, of_flipped.mask)
    np.testing.assert_allclose(flipped.landmarks, of_flipped.landmarks, atol=1e-3)
    np.testing.assert_allclose(flipped.channels, of_flipped.channels, atol=1e-4)
    # ... and the left eye is still the left eye: the subject's left is the image's right
    # (MediaPipe's convention), before and after the flip.
    left_eye = preprocess.part_indices()["left_eye"]
    assert flipped.landmarks[left_eye, 0].mean() > 80
    assert of_flipped.landmarks[left_eye, 0].mean() > 80


def test_flip_twice_is_identity_and_brightness(face_capture):
    imgs, surf, lm = face_capture
    s = preprocess.make_sample(imgs["center"], surf.normals, surf.mask, lm, 96)
    back = augment.flip(augment.flip(s))
    np.testing.assert_allclose(back.normals, s.normals)
    np.testing.assert_allclose(back.channels, s.channels)
    np.testing.assert_allclose(back.landmarks, s.landmarks, atol=1e-4)
    dark = augment.brightness(s, 0.5)
    np.testing.assert_allclose(dark.image, s.image * 0.5, atol=1e-6)
    assert sorted(augment.variants(s)) == ["", "flip", "flip-x0.7", "flip-x1.3", "x0.7", "x1.3"]
    with pytest.raises(ValueError):
        augment.brightness(s, 0)
