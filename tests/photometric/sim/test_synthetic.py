import numpy as np
import pytest

from photometric.lights import CHANNELS
from photometric.render import SensorModel
from photometric.sim import synthetic


def test_sphere_normals_are_analytic(sphere_subject):
    s = sphere_subject
    n = s.normals[s.mask]
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-5)
    assert (n[:, 2] >= 0).all()
    size = s.mask.shape[0]
    c, r = (size - 1) / 2, 0.4 * size
    # Topmost pixel row of the sphere points up, leftmost column points left.
    assert s.normals[int(round(c - 0.9 * r)), int(round(c)), 1] > 0.85
    assert s.normals[int(round(c)), int(round(c - 0.9 * r)), 0] < -0.85
    assert s.mask.sum() == pytest.approx(np.pi * r * r, rel=0.01)


def test_face_is_deterministic_per_seed_and_differs_across_seeds():
    a, b, c = synthetic.face(5, 128), synthetic.face(5, 128), synthetic.face(6, 128)
    np.testing.assert_array_equal(a.normals, b.normals)
    np.testing.assert_array_equal(a.albedo, b.albedo)
    both = a.mask & c.mask
    assert np.abs(a.normals[both] - c.normals[both]).mean() > 0.01
    assert not np.array_equal(a.albedo, c.albedo)


def test_face_geometry_is_sane(face_subject):
    f = face_subject
    n = f.normals[f.mask]
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-5)
    # What the camera sees faces it (a surface seen from inside is turned toward it).
    view = np.array([0.0, 0.0, synthetic.CAMERA_DISTANCE_MM]) - f.positions[f.mask]
    assert (np.einsum("ij,ij->i", n, view) > 0).all()
    assert 0.15 < f.mask.mean() < 0.7
    assert f.albedo.min() >= 0 and f.albedo.max() <= 1
    assert (f.normals[~f.mask] == 0).all() and (f.albedo[~f.mask] == 0).all()
    # Real relief: normals spread well beyond a flat plate.
    assert np.degrees(np.arccos(n[:, 2])).mean() > 20


def test_normals_from_height_of_a_tilted_plane():
    rows, cols = np.mgrid[0:16, 0:16].astype(float)
    h = 0.5 * cols - 0.25 * rows  # rises to the right and toward image-bottom (y down)
    n = synthetic.normals_from_height(h)
    expected = np.array([-0.5, -0.25, 1.0]) / np.linalg.norm([-0.5, -0.25, 1.0])
    np.testing.assert_allclose(n[8, 8], expected, atol=1e-6)


def test_capture_has_five_flashes_and_optional_ambient(face_subject):
    shots = synthetic.capture(face_subject, camera=SensorModel(bits=8), ambient=True)
    assert set(shots) == {*CHANNELS, "ambient"}
    assert all(im.dtype == np.uint8 and im.shape == (384, 384, 3) for im in shots.values())
    # The room light is in every flash photo and alone in the ambient frame.
    assert 0 < shots["ambient"].mean() < shots["center"].mean()


def test_point_light_booth_renders(face_subject):
    shots = synthetic.capture(face_subject, synthetic.Booth(distance=1500.0))
    far = synthetic.capture(face_subject)
    # Close flashes differ from distant ones, but only a little at 1.5 m.
    diff = np.abs(shots["left"] - far["left"])[face_subject.mask].mean()
    assert 0 < diff < 0.05


def test_unknown_kind():
    with pytest.raises(ValueError, match="unknown subject kind"):
        synthetic.subject("cube")


def test_mediapipe_finds_the_synthetic_faces():
    """The dataset stage runs Face Mesh on the ring-flash photo: it must see a face."""
    import mediapipe as mp
    found = 0
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1) as mesh:
        for seed in range(6):
            shots = synthetic.capture(synthetic.face(seed, 384), camera=SensorModel(bits=8))
            result = mesh.process(shots["center"])
            found += result.multi_face_landmarks is not None
    assert found == 6
