import numpy as np
import pytest

from photometric.lights import DirectionalLight, PointLight, ring_flash
from photometric.render import SensorModel, Surface, expose, render, shade


def flat(n=(0.0, 0.0, 1.0), size=8, albedo=0.5, z=0.0):
    normals = np.broadcast_to(np.asarray(n, np.float32) / np.linalg.norm(n),
                              (size, size, 3)).copy()
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float32)
    pos = np.stack([cols - size / 2, -(rows - size / 2), np.full_like(cols, z)], -1)
    return Surface(normals, np.full((size, size, 3), albedo, np.float32),
                   np.ones((size, size), bool), pos)


def test_directional_light_is_lambertian():
    s = flat()
    d = np.array([np.sin(0.5), 0.0, np.cos(0.5)])
    img = render(s, [DirectionalLight(tuple(d), intensity=1.5)], SensorModel(gain=0.8))
    np.testing.assert_allclose(img, 0.8 * 0.5 * 1.5 * np.cos(0.5), rtol=1e-5)


def test_light_behind_surface_gives_black():
    img = render(flat(), [DirectionalLight((0.0, 0.0, -1.0))])
    assert img.max() == 0.0


def test_light_colour_tints_image():
    img = shade(flat(albedo=1.0), [DirectionalLight((0, 0, 1), 1.0, (1.0, 0.5, 0.25))])
    np.testing.assert_allclose(img[0, 0], [1.0, 0.5, 0.25], rtol=1e-6)


def test_point_light_inverse_square_and_direction():
    s = flat(size=3)
    near = shade(s, [PointLight((0.0, 0.0, 1000.0), 1.0, reference_distance=1000.0)])
    far = shade(s, [PointLight((0.0, 0.0, 2000.0), 1.0, reference_distance=1000.0)])
    centre = (1, 1)  # position (0.5, -0.5, 0): essentially on axis
    assert far[centre][0] == pytest.approx(near[centre][0] / 4, rel=1e-3)
    # A light off to the side lights a flat surface at its own angle at every pixel.
    side = shade(s, [PointLight((1000.0, 0.0, 1000.0), 1.0, reference_distance=1000.0)])
    assert side[1, 2, 0] > side[1, 0, 0]  # the pixel nearer the light is brighter


def test_ring_flash():
    assert len(ring_flash(None)) == 1
    ring = ring_flash(1000.0, radius=50.0, n=8, intensity=2.0)
    assert len(ring) == 8
    assert sum(light.intensity for light in ring) == pytest.approx(2.0)
    img = shade(flat(size=1), ring)
    # Each point is 50 mm off axis at 1 m: cos ≈ 0.99875, distance² ≈ 1.0025 m².
    d2 = 1000.0**2 + 50.0**2
    expected = 0.5 * 2.0 * (1000.0**2 / d2) * (1000.0 / np.sqrt(d2))
    assert img[0, 0, 0] == pytest.approx(expected, rel=1e-3)


def test_specular_off_by_default_and_on_at_mirror_angle():
    s = flat(albedo=0.0)
    light = [DirectionalLight((0.0, 0.0, 1.0))]
    assert shade(s, light).max() == 0.0
    s.specular = 0.3
    assert shade(s, light)[0, 0, 0] == pytest.approx(0.3, rel=1e-5)
    s.normals[:] = np.array([np.sin(0.6), 0, np.cos(0.6)], np.float32)
    assert shade(s, light)[0, 0, 0] < 0.3 * 0.5


def test_ambient_adds_albedo_times_room_light():
    img = shade(flat(albedo=0.5), [], ambient=(0.1, 0.2, 0.3))
    np.testing.assert_allclose(img[0, 0], [0.05, 0.1, 0.15], rtol=1e-6)


def test_mask_blackens_outside():
    s = flat()
    s.mask[0, 0] = False
    img = render(s, [DirectionalLight((0, 0, 1))])
    assert img[0, 0].max() == 0 and img[1, 1].min() > 0


def test_quantisation_and_clipping():
    rad = np.array([[[0.0, 0.5, 2.0]]], np.float32)
    img8 = expose(rad, SensorModel(gain=1.0, bits=8))
    assert img8.dtype == np.uint8 and img8.tolist() == [[[0, 128, 255]]]
    img16 = expose(rad, SensorModel(gain=1.0, bits=16))
    assert img16.dtype == np.uint16 and img16.tolist() == [[[0, 32768, 65535]]]
    with pytest.raises(ValueError):
        expose(rad, SensorModel(bits=12))


def test_noise_has_requested_spread():
    rad = np.full((200, 200, 3), 0.5, np.float32)
    img = expose(rad, SensorModel(gain=1.0, noise=0.01), np.random.default_rng(0))
    assert img.std() == pytest.approx(0.01, rel=0.05)
    assert abs(img.mean() - 0.5) < 1e-3
