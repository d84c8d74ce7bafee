"""The rasteriser against analytic geometry: a tessellated sphere's normals and depth, and a
cast shadow, computed by ray-sphere intersection."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from photometric import raster, stereo

SIZE = 256
CAMERA = raster.PerspectiveCamera(focal_px=900.0, width=SIZE, height=SIZE)
CENTRE = np.array([10.0, -5.0, -1000.0])  # mm, in front of the camera
RADIUS = 100.0


def ray_sphere(origins: np.ndarray, dirs: np.ndarray, centre: np.ndarray, radius: float):
    """Nearest positive hit distance along unit ``dirs`` (inf where none)."""
    oc = origins - centre
    b = np.einsum("...k,...k->...", oc, dirs)
    c = np.einsum("...k,...k->...", oc, oc) - radius * radius
    disc = b * b - c
    t = -b - np.sqrt(np.where(disc >= 0, disc, 0.0))
    return np.where((disc >= 0) & (t > 1e-6), t, np.inf)


@pytest.fixture(scope="module")
def sphere():
    verts, faces, normals = raster.uv_sphere(RADIUS, tuple(CENTRE), rings=96, segments=192)
    frags = raster.rasterize(verts, faces, CAMERA)
    return verts, faces, normals, frags


def test_a_tessellated_sphere_renders_the_analytic_normals_and_depth(sphere):
    """Interpolated vertex normals within 0.5° of the analytic sphere's, depth within one
    pixel's footprint (the faces are chords: their sag is ~0.01 mm here), on every pixel
    both cover."""
    verts, faces, normals, frags = sphere
    rays = CAMERA.rays()
    t = ray_sphere(np.zeros(3), rays, CENTRE, RADIUS)
    truth_mask = np.isfinite(t)
    hit = rays * np.where(truth_mask, t, 0.0)[..., None]
    truth_n = (hit - CENTRE) / RADIUS
    got_n = raster.interpolate(frags, faces, normals)
    got_n /= np.maximum(np.linalg.norm(got_n, axis=-1, keepdims=True), 1e-12)
    both = truth_mask & frags.mask
    # The silhouettes agree but for pixels at the very rim (the polygon is inscribed).
    assert (truth_mask ^ frags.mask).sum() < 0.01 * truth_mask.sum()
    err = stereo.angular_error(got_n, truth_n)
    # At the outermost pixel ring the view ray grazes the sphere: a chord a hundredth of a
    # millimetre inside it moves the hit point, and the normal with it, by up to ~1°. One
    # pixel in from the silhouette the normals are exact to the interpolation.
    inner = both & cv2.erode(both.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    print(f"sphere: normals mean {err[both].mean():.3f}°, max {err[inner].max():.3f}° inside "
          f"the rim, {err[both].max():.3f}° on it")
    assert err[inner].max() < 0.5 and err[both].mean() < 0.05
    depth_truth = -hit[..., 2]
    footprint = depth_truth / CAMERA.focal_px  # mm a pixel spans at that depth
    gap = np.abs(frags.depth - depth_truth) / footprint
    print(f"depth: within {gap[inner].max():.3f} of a pixel's footprint inside the rim")
    assert gap[inner].max() < 1.0
    # Positions interpolate onto the faces, chords of the sphere: inside it by their sag.
    pts = raster.interpolate(frags, faces, verts.astype(np.float32))
    r = np.linalg.norm(pts[both] - CENTRE, axis=-1)
    assert (r <= RADIUS + 1e-3).all() and (RADIUS - r).max() < 0.05


def test_back_faces_are_culled_and_the_nearest_surface_wins(sphere):
    verts, faces, _, frags = sphere
    culled = raster.rasterize(verts, faces, CAMERA, cull_back=True)
    assert (culled.face == frags.face).all()  # the front faces alone give the same picture
    inside_out = raster.rasterize(verts, faces[:, ::-1], CAMERA, cull_back=True)
    # Reversed winding: only the far half survives culling, seen from inside.
    far = inside_out.mask & frags.mask
    assert far.sum() > 0.9 * frags.mask.sum()
    assert (inside_out.depth[far] > frags.depth[far]).all()


def test_a_cast_shadow_matches_ray_casting():
    """A small ball between a point light and a big ball: the shadow map marks the big ball's
    pixels that a ray toward the light finds blocked (measured 12 of 20 393 pixels differ,
    at the shadow's edge; without the slope-scaled bias 846 lit pixels shadowed themselves)."""
    big = raster.uv_sphere(RADIUS, tuple(CENTRE), rings=64, segments=128)
    small_c = CENTRE + np.array([-140.0, 40.0, 120.0])
    small = raster.uv_sphere(30.0, tuple(small_c), rings=32, segments=64)
    verts = np.vstack([big[0], small[0]])
    faces = np.vstack([big[1], small[1] + len(big[0])])
    normals = np.vstack([big[2], small[2]])
    light = np.array([-600.0, 200.0, -400.0])
    frags = raster.rasterize(verts, faces, CAMERA)
    pts = raster.interpolate(frags, faces, verts.astype(np.float32)).astype(np.float64)
    on_big = frags.mask & (frags.face < len(big[1]))
    lit = raster.shadow_mask(pts, on_big, verts, faces, light,
                             raster.interpolate(frags, faces, normals), size=1024)
    # Truth: from the analytic big sphere's point under each pixel toward the light, does
    # the small sphere block the way? Only where the big sphere faces the light (attached
    # shadow is the shading's business, not the shadow map's).
    to_light = light - pts
    dist = np.linalg.norm(to_light, axis=-1)
    dirs = to_light / np.maximum(dist, 1e-9)[..., None]
    blocked = ray_sphere(pts, dirs, small_c, 30.0) < dist
    facing = np.einsum("...k,...k->...", (pts - CENTRE) / RADIUS, dirs) > 0.05
    sel = on_big & facing
    assert blocked[sel].sum() > 200  # the test has a shadow to find
    agree = (lit[sel] == ~blocked[sel]).mean()
    print(f"cast shadow: {blocked[sel].sum()} shadowed pixels, {100 * agree:.2f}% agree")
    assert agree > 0.998


def test_bad_meshes_are_refused():
    with pytest.raises(ValueError, match="expected vertices"):
        raster.rasterize(np.zeros((3, 2)), np.zeros((1, 3), int), CAMERA)
    with pytest.raises(ValueError, match="does not exist"):
        raster.rasterize(np.zeros((3, 3)) - [0, 0, 1], np.array([[0, 1, 3]]), CAMERA)
