"""Photometric stereo on the simulated people as the booth photographs them (hair, necks,
clothes, glasses; sensor noise; the lights as calibrated on the sphere): within 3° of the
truth on the skin where at least three flashes reach it (fewer cannot fix a normal: long hair
hanging before the ears shadows them from the side flashes), every person; the whole skin,
hair, neck, clothes and glasses reported apart."""

from __future__ import annotations

from photometric import stereo
from photometric.sim import parts, sitter, synthetic
from tests.photometric.stereo.test_stereo import report_parts

#: Six people: skin types, hair styles, and two who wear glasses (0 and 2).
PEOPLE = range(6)


def test_skin_within_three_degrees_on_booth_light_people(calibration):
    worst = 0.0
    wore = 0
    for pid in PEOPLE:
        made = sitter.sit(pid, 0, "booth", size=256, noise=0.003)
        truth = made.surface
        res = stereo.lambertian(made.images, calibration.rig)
        by = report_parts(f"person {pid}", res, truth)
        skin = (truth.parts == parts.SKIN) & res.mask
        assert skin.sum() > 3000
        bits = synthetic.lit_bits(truth)
        flashes = sum((bits >> k) & 1 for k in range(8))
        lit = skin & (flashes >= 3)
        err = float(stereo.angular_error(res.normals, truth.normals)[lit].mean())
        share = lit.sum() / skin.sum()
        print(f"person {pid}: skin where three flashes or more reach it ({share:.1%} of it) "
              f"{err:.2f}°, all skin {by['skin']:.2f}°")
        assert share > 0.9
        assert by["skin"] < 4.0
        worst = max(worst, err)
        wore += made.record["glasses"] is not None
    assert wore >= 2
    assert worst < 3.0, worst
