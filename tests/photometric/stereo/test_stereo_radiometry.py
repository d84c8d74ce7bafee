"""Photometric stereo on real radiometry: thresholds relative to the data, no holes in the
subject, specular highlights without cross-polarisers (run with -s to see the numbers)."""

from dataclasses import replace

import numpy as np
import pytest

from photometric import stereo
from photometric.errors import InputError
from photometric.lights import CHANNELS, LightRig
from photometric.render import SensorModel
from photometric.sim import synthetic
from photometric.stereo import fill
from tests.conftest import FACE_SEED, SKIN_PARTS

RIG = synthetic.SIM_RIG
LUMA = stereo.LUMA / stereo.LUMA.sum()


def skin(surface) -> np.ndarray:
    """A person's skin (face and neck: hair, whose clumps shadow each other, and cloth,
    which may be black, are not what these tests measure); a subject's mask otherwise."""
    if surface.parts is None:
        return surface.mask
    return surface.mask & np.isin(surface.parts, SKIN_PARTS)


def lit_by_five(surface, cos: float = 0.1) -> np.ndarray:
    """Skin pixels that all five flashes light (normal · light > ``cos``, and outside the
    subject's cast shadows)."""
    sel = skin(surface) & (synthetic.lit_bits(surface) == 0b11111)
    for c in CHANNELS:
        sel &= (surface.normals @ RIG.direction(c)) > cos
    return sel


def to_uint16(images: dict[str, np.ndarray], k: float = 1.0, top: int = 65535) -> dict:
    """Float renders × ``k``, clipped and quantised to integers up to ``top``, as uint16."""
    return {c: np.rint(np.clip(v * k, 0, 1) * top).astype(np.uint16) for c, v in images.items()}


def mean_error(result, surface, sel) -> float:
    sel = sel & result.mask
    return float(stereo.angular_error(result.normals, surface.normals)[sel].mean())


@pytest.fixture(scope="module")
def face():
    return synthetic.face(FACE_SEED, 192, glasses=False)


@pytest.fixture(scope="module")
def face_render(face):
    return synthetic.capture(face, camera=SensorModel(noise=0.003), seed=2)


# --- thresholds relative to the data ------------------------------------------------------

@pytest.mark.parametrize("method", stereo.METHODS)
def test_one_percent_of_the_range_solves_like_the_full_range(face, face_render, method):
    """A correct 16-bit capture that uses 1 % of the range: same normals, same mask."""
    full = stereo.solve(to_uint16(face_render), method, RIG)
    low = stereo.solve(to_uint16(face_render, 0.01), method, RIG)
    both = full.mask & low.mask
    err = stereo.angular_error(full.normals, low.normals)[both & skin(face)]
    iou = both.sum() / (full.mask | low.mask).sum()
    print(f"{method}: data level {full.data_level:.4f} vs {low.data_level:.6f}; normals differ "
          f"by {err.mean():.3f}° on average; mask IoU {iou:.4f}; "
          f"{100 * low.mask[skin(face)].mean():.1f}% of the skin covered at 1 %")
    assert low.data_level == pytest.approx(0.01 * full.data_level, rel=0.02)
    assert err.mean() < 0.5  # measured 0.12° (quantisation: ~330 counts at 1 %)
    assert iou > 0.99  # measured 1.0
    assert low.mask[skin(face)].mean() > 0.97


def test_highlights_at_full_scale_do_not_shadow_a_dim_face(face):
    """Linear data: a few highlights at full scale (shininess 500), the diffuse skin at 1-4 % of
    the range. The data level follows the skin, not the highlights, so nothing is shadowed."""
    from photometric.render import shade

    surf = replace(face, albedo=face.albedo * 0.1, specular=1.2, shininess=500.0)
    images = synthetic.capture(surf, camera=SensorModel(gain=1.0, noise=0.0002, bits=16), seed=1)
    grey = np.stack([(images[c] / 65535.0) @ LUMA for c in CHANNELS])
    assert grey.max() > 0.98 and np.median(grey.max(axis=0)[skin(face)]) < 0.04
    res = stereo.solve(images, "lambertian", RIG)
    # Away from the highlights (each flash's specular part under a tenth of its diffuse
    # part): where a threshold set by the highlights would have shadowed the skin.
    matte = replace(surf, specular=0.0)
    away = lit_by_five(face)
    for c in CHANNELS:
        lights = synthetic.Booth().lights(c)
        diffuse = shade(matte, lights).mean(-1)
        away &= shade(surf, lights).mean(-1) - diffuse < 0.1 * diffuse
    err = mean_error(res, face, away)
    print(f"dim face, highlights at full scale: data level {res.data_level:.4f}, "
          f"{100 * res.mask[skin(face)].mean():.1f}% covered, {err:.2f}° where lit by all five "
          f"away from highlights ({away.sum()} px), {mean_error(res, face, lit_by_five(face)):.2f}"
          f"° with them, {res.specular_pixels} px specular")
    assert res.data_level < 0.05  # measured 0.030: the skin's level, not the highlights'
    assert res.mask[skin(face)].mean() > 0.98  # 0.999; 2 % of full scale as threshold: 0.39
    assert (res.mask & ~res.filled)[skin(face)].mean() > 0.95
    assert err < 1.5
    simp = stereo.solve(images, "simplified", RIG)
    assert simp.mask[skin(face)].mean() > 0.98


def test_white_level_marks_clipping_below_full_scale(face):
    """A 12-bit sensor's data stored in uint16 without scaling clips at 4095, not 65535."""
    hot = synthetic.Booth(LightRig(dict(RIG.directions), {**RIG.intensities, "left": 1.6}))
    rig = LightRig(dict(hot.rig.directions), dict(hot.rig.intensities))
    camera = synthetic.metered(face, camera=SensorModel(), target=0.4)  # 'left' clips the cheek
    images = to_uint16(synthetic.capture(face, hot, camera), top=4095)
    given = stereo.lambertian(images, rig, white_level=4095)
    default = stereo.lambertian(images, rig)
    clipped = (given.flags & stereo.SATURATED) != 0
    print(f"clipped at 4095: {clipped.sum()} px flagged with white_level=4095, "
          f"{((default.flags & stereo.SATURATED) != 0).sum()} without")
    assert clipped.sum() > 1000 and not (default.flags & stereo.SATURATED).any()
    left = (images["left"] >= 4095).any(-1)
    assert left.sum() > 1000 and not (given.lights_used[left & ~given.filled] & 0b10).any()
    sel = clipped & given.mask & ~given.filled & default.mask
    assert mean_error(given, face, sel) < 0.5 < mean_error(default, face, sel)
    with pytest.raises(InputError, match="white_level"):
        stereo.lambertian(images, rig, white_level=0)


@pytest.mark.parametrize("method", stereo.METHODS)
def test_no_usable_pixel_is_an_input_error(method):
    black = {c: np.zeros((48, 64, 3), np.uint8) for c in CHANNELS}
    with pytest.raises(InputError, match="no pixel has a valid normal.*every flash image is dark"):
        stereo.solve(black, method)
    white = {c: np.full((48, 64, 3), 65535, np.uint16) for c in CHANNELS}
    with pytest.raises(InputError, match="everything is saturated.*white level 65535"):
        stereo.solve(white, method)
    clipped = {c: np.full((48, 64), 4000, np.uint16) for c in CHANNELS}
    with pytest.raises(InputError, match="saturated.*white level 4000"):
        stereo.solve(clipped, method, white_level=4000)


# --- specular highlights -------------------------------------------------------------------

@pytest.mark.parametrize("weight, camera", [(0.1, SensorModel()),
                                            (0.15, SensorModel(noise=0.005, bits=16))])
def test_specular_highlights_are_left_out(face, weight, camera):
    shiny = synthetic.face(FACE_SEED, 192, specular=weight, glasses=False)
    sel = lit_by_five(face)
    camera = synthetic.metered(face, camera=camera)  # exposed for the skin, as the booth does
    matte_im = synthetic.capture(face, camera=camera, seed=4)
    shiny_im = synthetic.capture(shiny, camera=camera, seed=4)
    matte = stereo.solve(matte_im, "lambertian", RIG)
    robust = stereo.solve(shiny_im, "lambertian", RIG)
    plain = stereo.solve(shiny_im, "lambertian", RIG, robust=False)
    e_matte, e_robust, e_plain = (mean_error(r, face, sel) for r in (matte, robust, plain))
    print(f"specular {weight}, noise {camera.noise}: matte {e_matte:.2f}°, with highlight "
          f"rejection {e_robust:.2f}° ({robust.specular_pixels} px), without {e_plain:.2f}°")
    # On skin a Blinn-Phong lobe of shininess 40 is broad: at a fifth of the face's pixels
    # two or three flashes' highlights overlap, and one left out cannot remove them all.
    # Measured on a light-skinned person: +1.89° over matte (0.1, noise-free), +1.68° (0.15,
    # noisy); on this one, skin type IV (the same highlight over less diffuse light), +2.43°
    # and +2.53° (exposed for the skin); without rejection 1.58° and 2.12° worse again.
    assert e_robust < e_matte + 2.8
    assert e_plain > e_robust + 0.75
    assert robust.specular_pixels > 0.05 * sel.sum()
    assert plain.specular_pixels == 0 and not (plain.flags & stereo.SPECULAR).any()
    # Few false alarms on matte skin.
    assert (((matte.flags & stereo.SPECULAR) != 0) & sel).sum() < 0.01 * sel.sum()
    # Where all five light the skin, the highlight's light is left out, not called shadowed.
    spec = ((robust.flags & stereo.SPECULAR) != 0) & sel
    used = np.unpackbits(robust.lights_used[spec][:, None], axis=1).sum(axis=1)
    assert (used == 4).mean() > 0.95
    assert ((robust.flags[spec] & stereo.SHADOWED) == 0).mean() > 0.95
    assert (robust.confidence[spec] >= 0.4).all()  # 4/5 lights, above any filled pixel


# --- no holes ----------------------------------------------------------------------------

def lit_pixels(images, result, surface) -> np.ndarray:
    """Pixels of ``surface`` that some flash lights above the result's shadow threshold, or
    clips: the subject, which must all have a normal."""
    full = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(
        images["center"].dtype, 1.0)
    grey = np.stack([(images[c] / full) @ LUMA for c in CHANNELS])
    clipped = np.stack([(images[c] >= 0.98 * full).any(axis=-1) for c in CHANNELS]).any(0)
    return ((grey.max(axis=0) > result.dark_level) | clipped) & surface.mask


SPHERES = {
    # name: (specular weight, camera, bound on the filled pixels' mean error; measured)
    "matte": (0.0, SensorModel(), 4.0),  # 2.4° over 24 px
    "shiny": (0.6, SensorModel(bits=16), 4.0),  # 2.3° over 32 px
    "shiny, overexposed": (0.6, SensorModel(gain=1.0, bits=16), 12.0),  # 9.2° over 494 px
    "very shiny, overexposed": (1.5, SensorModel(gain=1.0, bits=16), 12.0),  # 10.3° over 1545 px
}


@pytest.mark.parametrize("name", SPHERES)
def test_every_lit_pixel_of_a_sphere_has_a_normal(name):
    weight, camera, bound = SPHERES[name]
    sphere = replace(synthetic.sphere(192), specular=weight)
    images = synthetic.capture(sphere, camera=camera, seed=3)
    res = stereo.lambertian(images, RIG)
    lit = lit_pixels(images, res, sphere)
    filled = res.filled & sphere.mask
    err = stereo.angular_error(res.normals, sphere.normals)
    solved = res.mask & ~res.filled
    print(f"{name} sphere: {lit.sum()} lit px, {(lit & ~res.mask).sum()} without a normal, "
          f"{filled.sum()} filled ({100 * filled.sum() / lit.sum():.1f}%), mean error "
          f"{err[filled].mean():.2f}° filled, {err[solved & sphere.mask].mean():.2f}° solved")
    assert res.mask[lit].all()
    assert not (res.mask & ~sphere.mask).any()
    assert filled.any() and err[filled].mean() < bound
    assert ((res.flags[res.filled] & stereo.FILLED) != 0).all()
    assert res.confidence[res.filled].max() < res.confidence[solved].min()
    assert res.confidence[res.filled].max() <= 0.25
    # Filled where fewer than three lights were usable (or no fit): never a solved pixel.
    used = np.unpackbits(res.lights_used[res.filled][:, None], axis=1).sum(axis=1)
    assert (used < 3).mean() > 0.9
    n = res.normals[res.mask]
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1, atol=1e-5)
    assert (n[:, 2] > 0).all()


def test_simplified_fills_with_the_neighbours():
    sphere = replace(synthetic.sphere(192), specular=0.6)
    images = synthetic.capture(sphere, camera=SensorModel(gain=1.0, bits=16), seed=3)
    res = stereo.simplified(images, rig=RIG)
    lit = lit_pixels(images, res, sphere)
    err = stereo.angular_error(res.normals, sphere.normals)
    filled = res.filled & sphere.mask
    print(f"simplified, shiny overexposed sphere: {filled.sum()} px filled, mean error "
          f"{err[filled].mean():.2f}°")
    assert res.mask[lit].all() and filled.sum() > 100
    assert err[filled].mean() < 20.0  # measured 12.6°: the neighbours' mean, no per-light model
    assert res.confidence[res.filled].max() <= 0.25


def test_filling_costs_nothing_when_every_lit_pixel_is_solved():
    plane = np.zeros((32, 32, 3), np.float32)
    plane[..., 2] = 1
    surf = synthetic.Surface(plane, np.full((32, 32, 3), 0.7, np.float32), np.ones((32, 32), bool))
    res = stereo.lambertian(synthetic.capture(surf), RIG)
    assert res.mask.all() and not res.filled.any() and res.specular_pixels == 0


@pytest.mark.parametrize("method", stereo.METHODS)
def test_a_dark_patch_inside_the_subject_is_no_hole(face, method):
    """A patch of near-black albedo inside the face (dark hair, a pupil): no flash lights it
    above the shadow threshold, yet it lies inside the subject. It gets a normal from its
    neighbours, flagged FILLED; a dark region that reaches the frame's edge stays empty."""
    surface = replace(face, albedo=face.albedo.copy())
    rows, cols = np.nonzero(surface.mask)
    cy, cx = int(rows.mean()), int(cols.mean())
    yy, xx = np.mgrid[:192, :192]
    patch = (yy - cy) ** 2 + (xx - cx - 20) ** 2 < 8 ** 2
    surface.albedo[patch] = 0.003
    images = to_uint16(synthetic.capture(surface, synthetic.Booth(), SensorModel(), seed=1))
    res = stereo.solve(images, method, RIG)
    assert res.mask[patch].all() and res.filled[patch].all()
    assert (res.confidence[patch] <= 0.25).all()
    err = stereo.angular_error(res.normals, surface.normals)[patch].mean()
    print(f"{method}: dark patch of {patch.sum()} px filled, mean error {err:.1f}°")
    assert err < 8.0
    assert not res.mask[~surface.mask & (yy < 5)].any()  # the background is not filled


@pytest.mark.parametrize("method", stereo.METHODS)
def test_nothing_is_labelled_when_nothing_is_missing(monkeypatch, method):
    """A capture with no hole inside its subject (a sphere over a dark background, a
    subject that fills the frame) costs the fill no labelling: the flood of the background
    between the subject's runs finds nothing enclosed, and neither the labelling of holes
    nor OpenCV's connected components are called."""
    import cv2

    calls = []
    real = fill._label_holes

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    def forbidden(*args, **kwargs):
        raise AssertionError("connected components labelled")

    monkeypatch.setattr(fill, "_label_holes", spy)
    monkeypatch.setattr(cv2, "connectedComponentsWithStats", forbidden)
    monkeypatch.setattr(cv2, "connectedComponents", forbidden)
    plane = np.zeros((48, 64, 3), np.float32)
    plane[..., 2] = 1
    wall = synthetic.Surface(plane, np.full((48, 64, 3), 0.7, np.float32),
                             np.ones((48, 64), bool))
    for surface in (synthetic.sphere(128), wall):
        res = stereo.solve(synthetic.capture(surface, camera=SensorModel(), seed=1), method, RIG)
        assert res.mask.any()
    assert calls == []


@pytest.mark.parametrize("method", stereo.METHODS)
def test_holes_are_labelled_only_around_the_pixels_that_need_it(face, monkeypatch, method):
    """With a dark patch inside the face, the labelling sees only the enclosed pixels: the
    patch and the face's own small holes, a few percent of the subject's box at most, not
    the box."""
    calls = []
    real = fill._label_holes

    def spy(result, rows, starts, ends, total):
        calls.append((rows.copy(), starts.copy(), ends.copy()))
        return real(result, rows, starts, ends, total)

    monkeypatch.setattr(fill, "_label_holes", spy)
    surface = replace(face, albedo=face.albedo.copy())
    rows, cols = np.nonzero(surface.mask)
    cy, cx = int(rows.mean()), int(cols.mean())
    yy, xx = np.mgrid[:192, :192]
    patch = (yy - cy) ** 2 + (xx - cx - 20) ** 2 < 8 ** 2
    surface.albedo[patch] = 0.003
    res = stereo.solve(to_uint16(synthetic.capture(surface, synthetic.Booth(), SensorModel(),
                                                   seed=1)), method, RIG)
    assert res.filled[patch].all() and len(calls) == 1
    r, s, e = calls[0]
    enclosed = np.zeros_like(patch)
    for row, a, b in zip(r, s, e, strict=True):
        enclosed[row, a:b] = True
    assert enclosed[patch].all()
    box = (rows.max() + 1 - rows.min()) * (cols.max() + 1 - cols.min())
    print(f"{method}: {enclosed.sum()} enclosed px labelled ({patch.sum()} in the patch), "
          f"subject's box {box} px")
    assert enclosed.sum() < 0.05 * box


def test_a_sphere_at_one_percent_of_range_calibrates():
    """Calibration follows the data too: a sphere shot at 1 % of a 16-bit range gives the
    same light directions as at full range, and solves its own sphere to a fraction of a
    degree (tiny calibrated intensities must not fail the solver's determinant test)."""
    from photometric import calibration as calib

    shots = synthetic.capture(synthetic.sphere(160), synthetic.Booth(), SensorModel(), seed=1)
    full = calib.calibrate(to_uint16(shots))
    dim = calib.calibrate(to_uint16(shots, 0.01))
    for c in CHANNELS:
        assert np.degrees(np.arccos(np.clip(full.rig.direction(c) @ dim.rig.direction(c),
                                            -1, 1))) < 0.5
    assert dim.residuals["lambertian_mean_deg"] < 0.5


@pytest.mark.parametrize("method", stereo.METHODS)
def test_a_white_level_past_the_images_range_clips_nothing(method):
    """Clipping is tested on the raw values in the images' own type: a uint8 capture with
    pixels at 255 clips there under its default white level, and nowhere under a white
    level whose 98 % no uint8 value reaches (300: 294)."""
    shots = synthetic.capture(synthetic.sphere(96), synthetic.Booth(),
                              SensorModel(gain=1.5, noise=0.002, bits=None), seed=1)
    images = {c: np.rint(np.clip(v, 0, 1) * 255).astype(np.uint8) for c, v in shots.items()}
    assert any((v == 255).any() for v in images.values())
    solve = stereo.simplified if method == "simplified" else stereo.lambertian
    default = solve(images, rig=RIG) if method == "simplified" else solve(images, RIG)
    assert ((default.flags & stereo.SATURATED) != 0).any()
    wide = (solve(images, rig=RIG, white_level=300.0) if method == "simplified"
            else solve(images, RIG, white_level=300.0))
    assert not ((wide.flags & stereo.SATURATED) != 0).any()
