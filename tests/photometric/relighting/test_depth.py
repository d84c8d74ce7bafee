"""Depth from normals and cast shadows on it, against analytic shapes: a sphere, planes, a box.

Figures measured when these tests were written (the bounds below leave room above them):
the sphere of radius 100 px integrates with an RMS error of 0.145 px (0.15 % of the radius)
over the whole disc, 0.015 px where nz > 0.2 (the rest is the silhouette's clipped slopes);
at 1200 × 900 through the reduced-resolution path, radius 400 px: 0.96 px (0.24 %) and 0.04 px.
"""

from __future__ import annotations

import numpy as np
import pytest

from photometric.errors import InputError
from photometric.relighting import depth


def sphere(h: int, w: int, radius: float, centre: tuple[float, float] | None = None):
    """Unit normals (H, W, 3), the disc's mask and the true depth (-z, pixel widths) of a
    sphere seen orthographically; normals (0, 0, 1) and depth 0 outside the disc."""
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = centre if centre is not None else ((h - 1) / 2, (w - 1) / 2)
    x, y = cols - cx, cy - rows
    rr = x * x + y * y
    mask = rr < radius * radius
    z = np.sqrt(np.maximum(radius * radius - rr, 0.0))
    n = np.stack([x, y, z], axis=-1) / radius
    n[~mask] = (0.0, 0.0, 1.0)
    return n.astype(np.float32), mask, np.where(mask, -z, 0.0)


def rms_after_offset(got: np.ndarray, truth: np.ndarray, where: np.ndarray) -> float:
    e = got[where] - truth[where]
    return float(np.sqrt(np.mean((e - e.mean()) ** 2)))


def light(from_view_deg: float, azimuth_deg: float = 0.0) -> np.ndarray:
    """A unit direction ``from_view_deg`` off the view axis, toward +x turned by azimuth."""
    t, a = np.radians(from_view_deg), np.radians(azimuth_deg)
    return np.array([np.sin(t) * np.cos(a), np.sin(t) * np.sin(a), np.cos(t)])


# --- integrate ---------------------------------------------------------------------------


def test_a_sphere_integrates_to_its_depth():
    """RMS 0.145 px over the whole disc of radius 100 (0.15 % of it), 0.015 px inside."""
    n, mask, truth = sphere(256, 256, 100.0)
    d = depth.integrate(n, mask)
    assert d.dtype == np.float32 and d.shape == mask.shape
    assert np.all(d[~mask] == 0) and abs(float(d[mask].mean())) < 1e-4
    whole = rms_after_offset(d, truth, mask)
    inner = rms_after_offset(d, truth, mask & (n[..., 2] > 0.2))
    print(f"sphere r=100: RMS {whole:.3f} px over the disc, {inner:.4f} px where nz > 0.2")
    assert whole < 0.2 and inner < 0.03
    # The sign: the centre is nearest the camera (smallest depth), the rim farthest.
    assert d[128, 128] < d[128, 60] < d[128, 40]
    # Over the whole disc the span falls 4 px short of the truth's 98.8: the outermost ring's
    # slopes are clipped (nz ≥ 0.1); where nz > 0.2 the span is right.
    off_rim = mask & (n[..., 2] > 0.2)
    assert abs(np.ptp(d[off_rim]) - np.ptp(truth[off_rim])) < 0.5  # measured 0.16
    assert 90 < np.ptp(d[mask]) < np.ptp(truth[mask])


def bumpy_scene(h: int = 160, w: int = 200):
    """An asymmetric scene: an off-centre sphere's normals over an irregular mask."""
    n, mask, _ = sphere(h, w, 70.0, centre=(70.0, 85.0))
    rows, cols = np.mgrid[0:h, 0:w]
    mask &= ~((rows - 40) ** 2 + (cols - 110) ** 2 < 12 ** 2)  # a hole
    mask &= cols < 140 + rows // 4  # a slanted cut
    return n, mask


def test_a_flipped_normal_map_gives_the_flipped_depth():
    n, mask = bumpy_scene()
    d = depth.integrate(n, mask)
    flipped = n[:, ::-1] * np.array([-1, 1, 1], np.float32)
    np.testing.assert_allclose(depth.integrate(flipped, mask[:, ::-1]), d[:, ::-1], atol=1e-3)
    flipped = n[::-1] * np.array([1, -1, 1], np.float32)
    np.testing.assert_allclose(depth.integrate(flipped, mask[::-1]), d[::-1], atol=1e-3)


def test_a_tilted_plane_gives_a_ramp_of_its_slope():
    """Depth grows 0.3 px per column to the right and 0.2 px per row downward: the plane
    leans back toward +x and toward image-down, so its normal leans to -x and to +y."""
    a, b = 0.3, 0.2
    h, w = 90, 120
    n = np.empty((h, w, 3), np.float32)
    n[:] = np.array([a, -b, 1.0]) / np.sqrt(a * a + b * b + 1.0)
    _, mask, _ = sphere(h, w, 50.0)
    d = depth.integrate(n, mask)
    rows, cols = np.mgrid[0:h, 0:w]
    ramp = a * cols + b * rows
    ramp = ramp - ramp[mask].mean()
    np.testing.assert_allclose(d[mask], ramp[mask], atol=1e-3)


def test_each_part_of_the_mask_has_mean_zero():
    n1, m1, t1 = sphere(120, 240, 40.0, centre=(60.0, 60.0))
    n2, m2, t2 = sphere(120, 240, 30.0, centre=(60.0, 170.0))
    n = np.where(m1[..., None], n1, n2)
    mask = m1 | m2
    d = depth.integrate(n, mask)
    for part, truth in ((m1, t1), (m2, t2)):
        assert abs(float(d[part].mean())) < 1e-4
        assert rms_after_offset(d, truth, part) < 0.2
    assert np.all(d[~mask] == 0)


def test_a_large_map_is_integrated_at_reduced_resolution(monkeypatch):
    """1200 × 900, radius 400 px, through a 512 × 384 solve: RMS 0.96 px (0.24 %) over the
    disc, 0.04 px where nz > 0.2; the depth is still in the input's pixel widths."""
    n, mask, truth = sphere(1200, 900, 400.0)
    solved = []
    real = depth._solve

    def spy(normals, m, row_px, col_px):
        solved.append(m.shape)
        return real(normals, m, row_px, col_px)

    monkeypatch.setattr(depth, "_solve", spy)
    d = depth.integrate(n, mask)
    assert solved == [(512, 384)]
    assert d.shape == (1200, 900) and d.dtype == np.float32
    assert np.all(d[~mask] == 0) and abs(float(d[mask].mean())) < 1e-3
    whole = rms_after_offset(d, truth, mask)
    inner = rms_after_offset(d, truth, mask & (n[..., 2] > 0.2))
    print(f"sphere r=400 at 1200x900: RMS {whole:.3f} px, {inner:.4f} px where nz > 0.2")
    assert whole < 1.5 and inner < 0.1


def test_an_empty_mask_gives_zeros():
    n, _, _ = sphere(40, 50, 10.0)
    d = depth.integrate(n, np.zeros((40, 50), bool))
    assert d.shape == (40, 50) and d.dtype == np.float32 and not d.any()


@pytest.mark.parametrize("normals, mask", [
    (np.zeros((10, 12)), np.ones((10, 12), bool)),
    (np.zeros((10, 12, 4)), np.ones((10, 12), bool)),
    (np.zeros((10, 12, 3)), np.ones((12, 10), bool)),
    (np.zeros((10, 12, 3)), np.ones((10, 12, 1), bool)),
])
def test_bad_shapes_are_refused(normals, mask):
    with pytest.raises(InputError, match="expected"):
        depth.integrate(normals, mask)


def test_lit_refuses_bad_input():
    d, m = np.zeros((10, 12), np.float32), np.ones((10, 12), bool)
    with pytest.raises(InputError, match="depth"):
        depth.lit(np.zeros((10, 12, 1)), m, [0, 0, 1])
    with pytest.raises(InputError, match="mask"):
        depth.lit(d, m.T, [0, 0, 1])
    with pytest.raises(InputError, match="direction"):
        depth.lit(d, m, [0, 1])
    with pytest.raises(InputError, match="direction"):
        depth.lit(d, m, [0, 0, 0])
    with pytest.raises(InputError, match="depth"):
        depth.lit(np.full((10, 12), np.nan), m, [0.5, 0, 0.8])


# --- lit ---------------------------------------------------------------------------------


BOX = 20.0  # the box's height above the floor, pixel widths


def box_scene():
    """A flat floor at depth 0 with a box 20 px tall (depth -20) on rows and columns 50-69."""
    d = np.zeros((128, 128), np.float32)
    d[50:70, 50:70] = -BOX
    return d, np.ones_like(d, bool)


@pytest.mark.parametrize("elevation_deg", [45.0, 30.0])
def test_a_box_casts_a_shadow_of_its_height_over_the_tangent(elevation_deg):
    """Lit from +x at 45° (and 30°) above the floor: the shadow falls on the box's -x side,
    height / tan(elevation) long less bias / tan(elevation), and nowhere else."""
    d, m = box_scene()
    lit = depth.lit(d, m, light(90.0 - elevation_deg))
    shadow = ~lit
    tan = np.tan(np.radians(elevation_deg))
    expected = BOX / tan
    rows = np.flatnonzero(shadow.any(axis=1))
    assert rows.min() == 50 and rows.max() == 69  # only beside the box
    cols = np.flatnonzero(shadow[60])
    assert cols.max() == 49 and np.all(np.diff(cols) == 1)  # touching the box's -x face
    length = len(cols)
    print(f"elevation {elevation_deg}°: shadow {length} px, expected {expected:.1f}")
    assert abs(length - expected) <= 2
    assert abs(length - (BOX - depth.BIAS) / tan) <= 1
    assert lit[:, 70:].all() and lit[50:70, 50:70].all()  # the lit side, the box's top


def test_a_box_lit_from_above_shadows_below_it():
    """Image-up is +y: a light from +y shadows the rows below the box (larger row index)."""
    d, m = box_scene()
    shadow = ~depth.lit(d, m, light(45.0, 90.0))
    rows = np.flatnonzero(shadow[:, 60])
    assert rows.min() == 70 and abs(len(rows) - BOX) <= 2
    assert np.flatnonzero(shadow.any(axis=0)).tolist() == list(range(50, 70))


def test_a_light_on_the_view_axis_shadows_nothing():
    d, m = box_scene()
    m[:5] = False
    lit = depth.lit(d, m, [0.0, 0.0, 1.0])
    assert np.array_equal(lit, m)


def test_a_smooth_sphere_does_not_shadow_its_lit_side():
    """No acne: a sphere lit 30° (and 60°) from the view casts no shadow where n·l > 0, on
    its true depth and on the depth integrated from its normals; where n·l < 0 the ray goes
    into the sphere and the pixel is shadowed (that is the shading's job, but it shows that
    the march sees the surface)."""
    n, mask, truth = sphere(256, 256, 100.0)
    integrated = depth.integrate(n, mask)
    for deg, azimuth in ((30.0, 20.0), (60.0, 200.0)):
        ld = light(deg, azimuth)
        ndl = n @ ld
        for d in (truth.astype(np.float32), integrated):
            lit = depth.lit(d, mask, ld)
            assert not lit[~mask].any()
            assert lit[mask & (ndl > 0)].all()
            assert (~lit[mask & (ndl < -0.1)]).mean() > 0.9


def test_a_flipped_scene_under_the_flipped_light_gives_the_flipped_mask():
    """Bit for bit: the march takes its steps' offsets as magnitude and sign."""
    n, mask = bumpy_scene()
    d = depth.integrate(n, mask)
    d[60:80, 30:40] -= 15.0  # a post, for a shadow with hard edges
    for ld in (light(50.0, 30.0), light(70.0, 110.0), light(40.0, -60.0), light(100.0, 10.0)):
        lit = depth.lit(d, mask, ld)
        assert (~lit & mask).any()
        mirrored = depth.lit(d[:, ::-1], mask[:, ::-1], ld * [-1, 1, 1])
        assert np.array_equal(mirrored[:, ::-1], lit)
        mirrored = depth.lit(d[::-1], mask[::-1], ld * [1, -1, 1])
        assert np.array_equal(mirrored[::-1], lit)


def test_skipping_blocks_changes_no_answer(monkeypatch):
    """The 8 × 8 block skip is a speed-up only: with no block marked full, the same mask."""
    rng = np.random.default_rng(3)
    h, w = 96, 112
    rows, cols = np.mgrid[0:h, 0:w]
    d = np.zeros((h, w))
    for _ in range(12):  # smooth hills of random heights and widths
        r, c, s, a = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(4, 15), rng.uniform(3, 25)
        d -= a * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * s * s))
    d = d.astype(np.float32)
    mask = np.ones((h, w), bool)
    mask[40:46, 10:30] = False
    directions = [light(t, a) for t, a in ((35, 10), (60, 75), (80, 160), (50, 250), (70, 300))]
    fast = [depth.lit(d, mask, ld) for ld in directions]
    real = depth._bounds

    def no_skip(dd, mm, tmin, tfull, top):
        ok = real(dd, mm, tmin, tfull, top)
        tfull[:] = False
        return ok

    monkeypatch.setattr(depth, "_bounds", no_skip)
    for ld, got in zip(directions, fast, strict=True):
        assert np.array_equal(depth.lit(d, mask, ld), got)


def test_a_light_from_behind_lights_only_what_faces_it():
    """z < 0: the ray sinks; a sphere's rim facing the light is lit, its middle is not."""
    n, mask, truth = sphere(128, 128, 50.0)
    ld = light(100.0)  # from +x, 10° behind the image plane
    lit = depth.lit(truth.astype(np.float32), mask, ld)
    assert not lit[64, 64] and lit[64, 112]
    assert lit[mask & (n @ ld > 0.05)].all()
