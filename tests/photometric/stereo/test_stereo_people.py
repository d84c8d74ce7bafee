"""Photometric stereo on the simulated people as the booth photographs them (hair, necks,
clothes, glasses; sensor noise; the lights as calibrated on the sphere): within 3° of the
truth on the skin, every person; hair, neck, clothes and glasses reported apart."""

from __future__ import annotations

from photometric import stereo
from photometric.sim import parts, sitter
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
        assert ((truth.parts == parts.SKIN) & res.mask).sum() > 3000
        worst = max(worst, by["skin"])
        wore += made.record["glasses"] is not None
    assert wore >= 2
    assert worst < 3.0, worst
