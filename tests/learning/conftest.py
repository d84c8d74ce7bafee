"""Simulated ring-flash captures of synthetic faces, shared by the learning tests."""

import pytest

from learning import landmarks
from photometric import synthetic
from photometric.render import Camera


@pytest.fixture(scope="session")
def face_capture():
    """(images, surface, landmarks) of synthetic face 2 at 384 px, 8-bit."""
    surf = synthetic.face(2, 384)
    imgs = synthetic.capture(surf, camera=Camera(noise=0.003, bits=8), seed=2)
    return imgs, surf, landmarks.detect(imgs["center"]).points
