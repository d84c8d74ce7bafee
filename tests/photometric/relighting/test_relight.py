"""Relighting (photometric.relighting.relighter): it reproduces the booth's own photos, light
adds, the SH constant band is shading-free, and a single portrait's albedo comes out of its
photo."""

from __future__ import annotations

import numpy as np
import pytest

from photometric import response, stereo
from photometric.errors import InputError
from photometric.lights import DirectionalLight, PointLight
from photometric.relighting import harmonics as sh
from photometric.relighting import relighter as relight
from photometric.relighting.relighter import Relighter, Scene, Specular
from photometric.render import SensorModel
from photometric.response import srgb_encode
from photometric.sim import synthetic

GAIN = SensorModel().gain  # the simulated camera's gain, in every flash photo


def psnr(a: np.ndarray, b: np.ndarray, sel: np.ndarray) -> float:
    """Peak signal-to-noise ratio over ``sel``, linear light, full scale 1."""
    mse = float(np.mean((a[sel] - b[sel]) ** 2))
    return 10 * np.log10(1.0 / mse)


def flash(channel: str, rig=synthetic.SIM_RIG, gain: float = GAIN) -> DirectionalLight:
    return DirectionalLight(tuple(rig.direction(channel)), rig.intensity(channel) * gain)


def inner(r: Relighter) -> np.ndarray:
    """The relit region proper: where the seam blend gives the relit pixel its full weight."""
    return r._alpha >= 1.0


@pytest.mark.parametrize("channel", ["left", "top"])
def test_true_normals_and_albedo_reproduce_the_flash_photo(face_subject, face_images,
                                                           channel):
    s = face_subject
    r = Relighter(s.normals, s.mask, s.albedo)
    light = flash(channel)
    out = r.render(Scene([light]))
    seen = s.lit(synthetic.Booth().lights(channel)[0])  # the render's cast shadows
    sel = inner(r) & seen
    assert sel.sum() > 0.5 * s.mask.sum()
    assert psnr(out, face_images[channel], sel) >= 40.0


def test_photometric_stereo_normals_and_albedo_reproduce_the_flash_photo(face_subject,
                                                                         face_images):
    res = stereo.solve(face_images, "lambertian", synthetic.SIM_RIG)
    ring = face_images["center"]
    r = Relighter(res.normals, res.mask, res.albedo, ring)
    for channel in ("left", "right", "top", "bottom"):
        out = r.render(Scene([flash(channel, gain=1.0)]))  # the albedo has the gain in it
        seen = face_subject.lit(synthetic.Booth().lights(channel)[0])
        sel = inner(r) & seen & face_subject.mask
        assert psnr(out, face_images[channel], sel) >= 30.0, channel


def sphere(size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = (np.mgrid[0:size, 0:size] + 0.5 - size / 2) / (0.45 * size)
    r2 = xx ** 2 + yy ** 2
    mask = r2 < 1
    n = np.stack([xx, -yy, np.sqrt(np.clip(1 - r2, 0, 1))], axis=-1).astype(np.float32)
    n[~mask] = 0
    return n, mask


def test_light_is_additive_in_linear_space():
    n, mask = sphere()
    rng = np.random.default_rng(0)
    albedo = rng.uniform(0.2, 0.8, (*mask.shape, 3)).astype(np.float32)
    r = Relighter(n, mask, albedo)
    a = DirectionalLight(relight.direction(-40, 20), 0.7, (1.0, 0.9, 0.8))
    b = PointLight((300.0, 200.0, 600.0), 1.3, (0.6, 0.7, 1.0),
                   reference_distance=float(np.linalg.norm((300, 200, 600))))
    for shadows in (False, True):
        for spec in (None, Specular(0.3)):
            both = r.render(Scene([a, b], specular=spec, shadows=shadows))
            each = (r.render(Scene([a], specular=spec, shadows=shadows))
                    + r.render(Scene([b], specular=spec, shadows=shadows)))
            np.testing.assert_allclose(both, each, atol=2e-6)
    env = sh.PRESETS["studio"]
    np.testing.assert_allclose(r.render(Scene([a], sh=env)),
                               r.render(Scene([a])) + r.render(Scene(sh=env)), atol=2e-6)


def test_sh_constant_band_is_shading_free():
    n, mask = sphere()
    albedo = np.random.default_rng(1).uniform(0.1, 0.9, (*mask.shape, 3)).astype(np.float32)
    coeffs = np.zeros((9, 3))
    coeffs[0] = (1.0, 2.0, 0.5)
    r = Relighter(n, mask, albedo)
    out = r.render(Scene(sh=coeffs))
    sel = inner(r)
    expect = albedo * (0.282095 * coeffs[0]).astype(np.float32)
    np.testing.assert_allclose(out[sel], expect[sel], rtol=1e-4)


def test_outside_the_mask_keeps_the_photo_and_the_edge_blends():
    n, mask = sphere()
    photo = np.full((*mask.shape, 3), 0.3, np.float32)
    r = Relighter(n, mask, np.full_like(photo, 0.5), photo)
    out = r.render(Scene([DirectionalLight((0, 0, 1), 1.0)]))
    np.testing.assert_array_equal(out[~mask], photo[~mask])
    # Across the edge the picture changes gradually: no step bigger than the seam allows.
    row = out[48, :, 1]
    assert np.abs(np.diff(row)).max() < 0.25


def test_a_blend_weight_fades_the_relit_portrait_back_to_the_photo():
    n, mask = sphere()
    photo = np.full((*mask.shape, 3), 0.3, np.float32)
    scene = Scene([DirectionalLight((0, 0, 1), 1.0)])
    blend = np.zeros(mask.shape, np.float32)
    blend[:, mask.shape[1] // 2:] = 1.0
    full = Relighter(n, mask, np.full_like(photo, 0.5), photo).render(scene)
    out = Relighter(n, mask, np.full_like(photo, 0.5), photo, blend=blend).render(scene)
    left, right = blend == 0, blend == 1
    np.testing.assert_array_equal(out[left], photo[left])
    np.testing.assert_allclose(out[right], full[right], atol=1e-6)
    with pytest.raises(InputError, match="blend: expected shape"):
        Relighter(n, mask, np.full_like(photo, 0.5), photo, blend=blend[1:])


def test_specular_peaks_at_the_mirror_direction():
    n, mask = sphere(128)
    albedo = np.zeros((*mask.shape, 3), np.float32)  # specular alone
    light = DirectionalLight(relight.direction(30, 0), 1.0)
    r = Relighter(n, mask, albedo)
    out = r.render(Scene([light], specular=Specular(0.2)))[..., 0]
    i, j = np.unravel_index(np.argmax(out), out.shape)
    half = np.array(relight.direction(30, 0)) + (0, 0, 1)
    half /= np.linalg.norm(half)
    assert np.degrees(np.arccos(np.clip(n[i, j] @ half, -1, 1))) < 4.0
    assert out.min() >= 0.0
    rough = r.render(Scene([light], specular=Specular(0.6)))[..., 0]
    assert rough.max() < out.max()  # a rougher lobe is broader and lower


def test_ring_albedo_inverts_the_ring_flash(face_subject, face_images):
    s = face_subject
    alb = relight.ring_albedo(face_images["center"], s.normals, s.mask, GAIN)
    ring_lit = (synthetic.lit_bits(s) & 1) != 0  # the shadow map's few stray pixels aside
    sel = s.mask & ring_lit & (s.normals[..., 2] > 0.3)
    sel &= face_images["center"].max(axis=-1) < 0.99
    np.testing.assert_allclose(alb[sel], s.albedo[sel], atol=2e-3)


def test_portrait_albedo_divides_out_the_photos_light():
    n, mask = sphere(160)
    rng = np.random.default_rng(2)
    skin = np.array([0.55, 0.38, 0.3], np.float32)
    albedo = skin * rng.uniform(0.9, 1.1, (*mask.shape, 1)).astype(np.float32)
    light = np.repeat(sh.PRESETS["window"].mean(axis=1, keepdims=True), 3, axis=1)  # white
    photo = albedo * sh.shading(n, light)
    photo[~mask] = 0.5
    est, found = relight.portrait_albedo(photo, n, mask)
    # Where the face is lit (shading above the floor that keeps a dark side from blowing up):
    # one scale for the whole face (the photo's light is known only up to it), the same in
    # every channel, whatever the shading did.
    sel = mask & (found.shading > 0.15)
    assert sel.sum() > 0.6 * mask.sum()
    ratio = est[sel] / albedo[sel]
    assert np.std(ratio) / np.mean(ratio) < 0.03
    assert found.shading.shape == mask.shape


def test_portrait_albedo_keeps_the_skin_s_hue_where_the_shading_is_wrong():
    """A patch whose normals say 'in shadow' though the photo is bright there (a wrong
    prediction): its albedo passes 1 and is scaled down whole, red skin staying red, not
    clipped channel by channel to grey-green (the relit astronaut's green cheek)."""
    n, mask = sphere(96)
    skin = np.array([0.8, 0.5, 0.4], np.float32)
    light = np.repeat(sh.PRESETS["window"].mean(axis=1, keepdims=True), 3, axis=1)
    photo = skin * sh.shading(n, light)
    photo[~mask] = 0.5
    wrong = n.copy()
    patch = np.zeros(mask.shape, bool)
    patch[40:56, 40:56] = True
    wrong[patch] = (0.0, -0.995, 0.0999)  # facing down, away from the light
    wrong[patch] /= np.linalg.norm(wrong[patch], axis=-1, keepdims=True)
    est, _ = relight.portrait_albedo(photo, wrong, mask)
    hue = est[patch] / est[patch].sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(hue, np.broadcast_to(skin / skin.sum(), hue.shape), atol=0.02)
    assert est[patch].max() <= 1.0


def test_check_normals_refuses_a_colour_photo():
    photo = np.random.default_rng(3).uniform(0, 1, (32, 32, 3)).astype(np.float32)
    with pytest.raises(InputError, match="not of unit length"):
        relight.check_normals(photo * 2 - 1, np.ones((32, 32), bool))
    n, mask = sphere(32)
    with pytest.raises(InputError, match="mask is 16×16"):
        relight.check_normals(n, np.ones((16, 16), bool))
    with pytest.raises(InputError, match="albedo is 16×16"):
        Relighter(n, mask, np.zeros((16, 16, 3), np.float32))


def test_to_srgb8_is_srgb_within_a_code():
    x = np.linspace(-0.1, 1.1, 5001, dtype=np.float32)
    got = response.to_srgb8(x).astype(int)
    want = np.rint(srgb_encode(x) * 255).astype(int)
    assert np.abs(got - want).max() <= 1


def test_orbit_circles_the_view_axis():
    lights = relight.orbit(8, 25.0)
    d = np.array([light.direction for light in lights])
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(d[:, 1], np.sin(np.radians(25.0)), atol=1e-9)
    np.testing.assert_allclose(d[0], relight.direction(90, 25), atol=1e-12)
    assert len({tuple(np.round(x, 6)) for x in d}) == 8
