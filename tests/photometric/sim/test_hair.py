"""Hair as geometry: every style but bald grows a shell over the scalp, long ones fall below
the chin, the hair moves with the head, and the parts map calls it hair."""

from __future__ import annotations

import numpy as np
import pytest

from photometric.sim import hair, parts, people, synthetic


@pytest.fixture(scope="module")
def rest_head() -> np.ndarray:
    return people.mesh(people.person(4)).rest[people.bust().head]


def _style(name: str) -> hair.Hairstyle:
    return hair.Hairstyle(name, 1.0, 0.0, (0.05, 0.03, 0.02), 0.0, 11)


@pytest.mark.parametrize("name", list(hair.STYLES))
def test_each_style_grows_over_the_scalp(rest_head, name):
    """Bald grows nothing; every other style covers the crown by at least its volume (less
    its clumps) and leaves the face (from the brows down, in front) bare; long styles
    reach well below the chin."""
    grown = hair.grow(rest_head, _style(name), hairline=42.0, recession=4.0, sideburn=10.0)
    top, _, length, _, _ = hair.STYLES[name]
    if name == "bald":
        assert grown is None
        return
    v = grown.vertices
    crown = rest_head[:, 1].max()
    assert v[:, 1].max() > crown + 0.6 * top - 2.0, (v[:, 1].max(), crown)
    # Nothing in front of the face between the brows and the chin.
    front = (v[:, 2] > rest_head[:, 2].max() - 35.0) & (np.abs(v[:, 0]) < 30.0)
    assert not (front & (v[:, 1] < 10.0) & (v[:, 1] > -110.0)).any()
    if length is not None and length > 100:
        assert v[:, 1].min() < -100.0 - 0.5 * length
    else:
        assert v[:, 1].min() > -160.0


def test_hair_moves_with_the_head():
    """Posed, the hair keeps its place on the skull: the distances from hair vertices to
    skull vertices are those of the rest pose (within 0.5 mm)."""
    pid = 1
    style, grown = synthetic.grown_hair(pid)
    assert grown is not None, style
    who = people.person(pid)
    still = people.mesh(who)
    turned = people.mesh(who, people.Sitting(yaw=30.0, pitch=-10.0, roll=8.0))
    h0 = synthetic.person_hair(pid, still)[0]
    h1 = synthetic.person_hair(pid, turned)[0]
    skull0 = still.head[still.rest[still.bust.head][:, 1] > 20.0][::50]
    skull1 = turned.head[still.rest[still.bust.head][:, 1] > 20.0][::50]
    pick = np.arange(0, len(h0.vertices), 97)
    d0 = np.linalg.norm(h0.vertices[pick, None] - skull0[None], axis=-1)
    d1 = np.linalg.norm(h1.vertices[pick, None] - skull1[None], axis=-1)
    assert np.abs(d0 - d1).max() < 0.5


def test_styles_are_drawn_for_the_whole_population():
    """Women and men, every style appears among a hundred people; long hair and tied hair
    mostly on women, buzz cuts mostly on men; the same person keeps their style."""
    drawn = {}
    for pid in range(100):
        drawn[pid] = synthetic.grown_hair(pid)[0] if pid < 6 else hair.draw(
            np.random.default_rng(pid), pid % 2 == 0, False, (0.1, 0.05, 0.02), 0.0)
    styles = [s.style for s in drawn.values()]
    assert len(set(styles)) >= 6
    women = [drawn[p].style for p in range(6, 100) if p % 2 == 0]
    men = [drawn[p].style for p in range(6, 100) if p % 2 == 1]
    long = ("shoulder", "long", "tied")
    assert sum(s in long for s in women) > 2 * sum(s in long for s in men)
    assert synthetic.grown_hair(3)[0] == synthetic.grown_hair(3)[0]


def test_a_person_with_hair_has_hair_in_the_parts_map():
    """Hair pixels are labelled hair, above the eyes on average."""
    pid = next(p for p in range(20) if synthetic.grown_hair(p)[1] is not None)
    s = synthetic.face(pid, 192, still=True, glasses=False)
    rows = np.arange(192)[:, None].repeat(192, 1)
    assert (s.parts == parts.HAIR).sum() > 500
    assert rows[s.parts == parts.HAIR].mean() < rows[s.parts == parts.EYES].mean()
