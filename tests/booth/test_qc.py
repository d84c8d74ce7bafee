"""Quality checks on simulated captures: a clean capture passes, each fault is named."""

import numpy as np
import pytest

from booth import qc
from photometric.render import SensorModel
from photometric.sim import synthetic


@pytest.fixture(scope="module")
def images():
    face = synthetic.face(0, 256)
    # Exposed as the booth exposes a sitter (for the skin), not at unit gain.
    camera = synthetic.metered(face, camera=SensorModel(noise=0.003, bits=8))
    return qc.as_float(synthetic.capture(face, camera=camera, ambient=True, seed=1))


def checks(images, **kw):
    return {(w.check, w.channel) for w in qc.assess(images, **kw)}


def test_clean_capture_has_no_warnings(images):
    assert qc.assess(images) == []


def test_moved_subject_is_reported(images):
    moved = dict(images, top=np.roll(images["top"], (4, 3), axis=(0, 1)))
    assert checks(moved, find_face=False) == {("moved", "top")}
    assert qc.shift_px(qc.grey(images["center"]), qc.grey(moved["top"])) == pytest.approx(5, 0.1)


def test_swapped_flashes_clipping_darkness_and_no_face(images):
    swapped = dict(images, left=images["right"], right=images["left"])
    assert checks(swapped, find_face=False) == {("side", "left"), ("side", "right")}
    hot = dict(images, bottom=np.clip(images["bottom"] * 3, 0, 1))
    assert ("clipped", "bottom") in checks(hot, find_face=False)
    dim = {k: v * 0.2 for k, v in images.items()}
    assert ("dark", "center") in checks(dim, find_face=False)
    sphere = synthetic.capture(synthetic.sphere(256), camera=SensorModel(bits=8))
    assert ("face", "center") in checks(sphere)



def test_white_hair_that_clips_is_not_blamed_on_the_flash(images):
    """Clipping beside the face (white hair, a collar) at an exposure right for the skin is
    named for what it is; clipping on the face asks for less flash."""
    from learning.facemesh import detect

    points = detect(images["center"]).points
    face = qc.face_region(points, images["center"].shape[:2])
    top = int(points[:, 1].min())
    hair = np.zeros_like(face)
    hair[max(0, top - 40):top - 2] = True  # a band of hair above the brow line
    hair &= ~face

    def burnt(where):
        out = {}
        for k, v in images.items():
            v = v.copy()
            if k != "ambient":
                v[where] = 1.0
            out[k] = v
        return out

    def find(_):
        return points

    said = [w.message for w in qc.assess(burnt(hair), find_face=find) if w.check == "clipped"]
    assert said and all("beside the face" in m and "flash" not in m for m in said), said
    said = [w.message for w in qc.assess(burnt(face), find_face=find) if w.check == "clipped"]
    assert said and all("of the face is clipped: lower the flash" in m for m in said), said

def test_many_highlights_warn_of_a_misaligned_polariser():
    """A matte face through a camera JPEG, room light included and not subtracted (no
    ambient frame): no warning; a shiny one (polarisers not crossed): a warning naming the
    polarisers."""
    from booth import qc
    from photometric import render, stereo
    from photometric.io import camerafile, imageio
    from photometric.response import linearize
    from photometric.sim import synthetic

    shares = {}
    for spec in (0.0, 0.3):
        face = synthetic.face(2, 192, specular=spec)
        shots = synthetic.capture(face, synthetic.Booth(), render.SensorModel(noise=0.003),
                                  ambient=True, seed=1)
        shots.pop("ambient")
        images = {k: linearize(imageio.decode_image(camerafile.encode_jpeg(v), f"{k}.jpg"))
                  for k, v in shots.items()}
        res = stereo.solve(images, rig=synthetic.SIM_RIG)
        shares[spec] = qc.highlights(res.specular_pixels, int(res.mask.sum()))
    assert shares[0.0] == []
    (warning,) = shares[0.3]
    assert warning.check == "specular" and "polariser" in warning.message
