"""Eyelashes: a dark fringe along each upper lid, just above the eye, in the truth as a part
of their own, following the lids when the eyes close."""

from __future__ import annotations

import numpy as np

from photometric.sim import parts, people, synthetic

PID = 1


def _render(expression: dict[str, float]):
    who = people.person(PID)
    body = people.mesh(who, people.Sitting(expression=expression))
    rest = people.mesh(who).rest[people.bust().head]
    return synthetic.render_mesh(body, synthetic.person_texture(PID), 384,
                                 lashes=synthetic.person_lashes(who, rest, body))


def test_lashes_fringe_the_upper_lids():
    s = _render({})
    lash, eye = s.parts == parts.LASHES, s.parts == parts.EYES
    assert 30 < lash.sum() < eye.sum()
    lr, lc = np.nonzero(lash)
    er, ec = np.nonzero(eye)
    # Above the eyes, within a few pixels of them, across their width.
    assert lr.mean() < er.mean() and er.min() - lr.max() < 6
    assert lc.min() < ec.min() + 10 and lc.max() > ec.max() - 10
    assert s.albedo[lash].mean() < 0.5 * s.albedo[s.parts == parts.SKIN].mean()


def test_lashes_close_with_the_lids():
    open_, shut = _render({}), _render({"eyeBlinkLeft": 1.0, "eyeBlinkRight": 1.0})
    rows = np.arange(384)[:, None].repeat(384, 1)
    assert (rows[shut.parts == parts.LASHES].mean()
            > rows[open_.parts == parts.LASHES].mean() + 3)
    assert (shut.parts == parts.EYES).sum() < 0.3 * (open_.parts == parts.EYES).sum()
