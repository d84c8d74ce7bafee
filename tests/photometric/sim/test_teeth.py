"""Teeth: hidden behind closed lips, seen when the mouth opens, the lower arch moving with
the jaw, and in the truth as a part of their own."""

from __future__ import annotations

import numpy as np

from photometric.sim import parts, people, synthetic

PID = 3
#: A smile with parted lips (anny's lips part little with the jaw alone).
OPEN = {"jawOpen": 0.3, "mouthSmileLeft": 0.9, "mouthSmileRight": 0.9,
        "mouthLowerDownLeft": 0.8, "mouthLowerDownRight": 0.8, "mouthUpperUpLeft": 0.5,
        "mouthUpperUpRight": 0.5}


def _teeth(expression: dict[str, float]):
    who = people.person(PID)
    body = people.mesh(who, people.Sitting(expression=expression))
    rest = people.mesh(who).rest[people.bust().head]
    return synthetic.person_teeth(who, rest, body), body


def test_teeth_sit_behind_the_lips():
    """At rest every tooth lies behind the lips' front and within the mouth's width."""
    who = people.person(PID)
    body = people.mesh(who)
    rest = body.rest[body.bust.head]
    t = synthetic.person_teeth(who, rest, body)
    posed = body.vertices[body.bust.head]  # the neutral sitting faces the camera (+z)
    mouth = posed[people.template().mouth_ids].mean(0)
    lips = posed[(np.abs(rest[:, 1] - mouth[1]) < 10) & (np.abs(rest[:, 0]) < 20)]
    assert t.vertices[:, 2].max() < lips[:, 2].max() - 3.0
    assert np.abs(t.vertices[:, 0] - mouth[0]).max() < 30.0


def test_the_lower_teeth_move_with_the_jaw():
    closed, body0 = _teeth({})
    opened, body1 = _teeth({"jawOpen": 0.8})
    up0, up1 = closed.vertices[~closed.lower], opened.vertices[~opened.lower]
    low0, low1 = closed.vertices[closed.lower], opened.vertices[opened.lower]
    # The gap between the arches' middles grows by several millimetres.
    gap0 = up0[:, 1].mean() - low0[:, 1].mean()
    gap1 = up1[:, 1].mean() - low1[:, 1].mean()
    assert gap1 > gap0 + 3.0, (gap0, gap1)


def test_an_open_mouth_shows_its_teeth_in_the_truth():
    who = people.person(PID)
    shown = {}
    for name, expression in (("closed", {}), ("open", OPEN)):
        body = people.mesh(who, people.Sitting(expression=expression))
        garment = synthetic.person_garment(PID)
        rest = people.mesh(who).rest[people.bust().head]
        s = synthetic.render_mesh(synthetic.dress(body, garment), synthetic.person_texture(PID),
                                  384, 0.0, garment, synthetic.person_hair(PID, body),
                                  teeth=synthetic.person_teeth(who, rest, body))
        shown[name] = s.parts == parts.TEETH
        if name == "open":
            lips = s.parts == parts.LIPS
            rows, cols = np.nonzero(shown[name])
            lr, lc = np.nonzero(lips)
            assert lr.min() <= rows.min() and rows.max() <= lr.max()
            assert lc.min() <= cols.min() and cols.max() <= lc.max()
            # Enamel: light, whatever the skin.
            assert s.albedo[shown[name]].mean() > 0.3
    assert shown["open"].sum() > 3 * max(shown["closed"].sum(), 10)
