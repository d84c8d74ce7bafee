"""The left-right landmark correspondence used by the flip augmentation."""

import numpy as np
import skimage.data

from learning import mirror
from learning.preprocess import part_indices


def test_mirror_table_is_an_involution_that_swaps_left_and_right():
    m = mirror.mirror_index()
    assert m.shape == (478,) and np.array_equal(np.sort(m), np.arange(478))
    assert np.array_equal(m[m], np.arange(478))
    parts = {k: set(v.tolist()) for k, v in part_indices().items()}
    for left, right in [("left_eye", "right_eye"), ("left_iris", "right_iris"),
                        ("left_eyebrow", "right_eyebrow")]:
        assert {int(m[i]) for i in parts[left]} == parts[right]
    for own in ("lips", "nose", "face"):
        assert {int(m[i]) for i in parts[own]} == parts[own]


def test_table_agrees_with_face_mesh_on_a_mirrored_portrait():
    derived = mirror.derive([skimage.data.astronaut()])
    assert (derived == mirror.mirror_index()).mean() > 0.9
