"""Face Mesh landmarks: 478 points in pixels; a clear error without a face."""

import numpy as np
import pytest
import skimage.data

from learning import facemesh as landmarks


def test_astronaut_has_478_landmarks_in_pixels():
    img = skimage.data.astronaut()
    lm = landmarks.detect(img)
    assert lm.points.shape == (landmarks.N_LANDMARKS, 3)
    x0, y0, x1, y1 = lm.bbox
    # Her face is in the upper middle of the 512×512 portrait.
    assert 120 < x0 < x1 < 300 and 30 < y0 < y1 < 260
    same = landmarks.detect(img.astype(np.float32) / 255)
    np.testing.assert_allclose(same.points, lm.points, atol=1.0)


def test_no_face_is_a_clear_error():
    with pytest.raises(landmarks.NoFaceError, match="no face found"):
        landmarks.detect(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(landmarks.InputError, match="expected an RGB image"):
        landmarks.detect(np.zeros((4, 4, 4, 4), np.float32))


@pytest.mark.parametrize("seed", [0, 3, 5, 7])
def test_simulated_ring_flash_faces_have_478_landmarks(seed):
    from photometric.render import SensorModel
    from photometric.sim import synthetic

    surf = synthetic.face(seed, 320)
    ring = synthetic.capture(surf, camera=SensorModel(noise=0.003, bits=8), seed=seed)["center"]
    lm = landmarks.detect(ring)
    assert lm.points.shape == (478, 3)
    # Every landmark lies on the synthetic face (its mask), not on the background.
    x = np.clip(lm.points[:, 0].astype(int), 0, 319)
    y = np.clip(lm.points[:, 1].astype(int), 0, 319)
    assert surf.mask[y, x].mean() > 0.95


def test_calibration_sphere_is_not_a_face():
    from photometric.render import SensorModel
    from photometric.sim import synthetic

    sphere = synthetic.capture(synthetic.sphere(256), camera=SensorModel(bits=8))["center"]
    with pytest.raises(landmarks.NoFaceError):
        landmarks.detect(sphere)
