"""Shared fixtures: simulated captures are rendered once per test session."""

from __future__ import annotations

import numpy as np
import pytest

from photometric.calibration import calibrate
from photometric.lights import DIRECTIONAL
from photometric.render import SensorModel
from photometric.sim import synthetic


def lit_by_all(normals: np.ndarray, mask: np.ndarray, rig=synthetic.SIM_RIG,
               surface=None) -> np.ndarray:
    """Pixels of ``mask`` that all four directional flashes of ``rig`` light: facing each
    one, and, for a ``surface`` that casts shadows (a simulated person), outside its cast
    shadows too."""
    sel = mask.copy()
    for c in DIRECTIONAL:
        sel &= (normals @ rig.direction(c)) > 0
        if surface is not None:
            for light in synthetic.Booth(rig).lights(c):
                seen = surface.lit(light)
                if seen is not None:
                    sel &= seen
    return sel


@pytest.fixture(scope="session")
def sphere_subject():
    return synthetic.sphere(384)


@pytest.fixture(scope="session")
def sphere_images(sphere_subject):
    return synthetic.capture(sphere_subject)


@pytest.fixture(scope="session")
def calibration(sphere_images):
    return calibrate(sphere_images)


@pytest.fixture(scope="session")
def face_subject():
    return synthetic.face(seed=3, size=384)


@pytest.fixture(scope="session")
def face_images(face_subject):
    return synthetic.capture(face_subject)


NOISY = SensorModel(noise=0.01, bits=8)


@pytest.fixture(scope="session")
def noisy_calibration(sphere_subject):
    return calibrate(synthetic.capture(sphere_subject, camera=NOISY, seed=11))


@pytest.fixture(scope="session")
def noisy_face_images(face_subject):
    return synthetic.capture(face_subject, camera=NOISY, seed=12)
