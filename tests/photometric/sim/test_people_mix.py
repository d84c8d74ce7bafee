"""The population is balanced: skin types I-VI, both sexes, children to the elderly; portrait
sittings turn the head and catch expressions."""

from __future__ import annotations

import numpy as np

from photometric.sim import people, skin

COUNT = 300


def test_skin_types_sexes_and_ages_are_balanced():
    who = [people.person(pid) for pid in range(COUNT)]
    types = np.bincount([p.fitzpatrick for p in who], minlength=7)[1:]
    print("skin types I-VI:", types.tolist())
    assert (types > 0.1 * COUNT).all() and (types < 0.24 * COUNT).all()
    women = np.mean([p.phenotype["gender"] > 0.5 for p in who])
    assert 0.4 < women < 0.6
    ages = np.array([people.years(p.phenotype["age"]) for p in who])
    print(f"ages {ages.min():.0f}-{ages.max():.0f}, under 16: {(ages < 16).mean():.0%}, "
          f"over 65: {(ages > 65).mean():.0%}")
    assert (ages < 16).mean() > 0.04 and (ages > 65).mean() > 0.1
    # The skin's plain albedo darkens with the type, and each type's is its own.
    luma = {t: [] for t in range(1, 7)}
    for p in who:
        s = skin.draw(p.skin_seed, p.phenotype, p.fitzpatrick)
        luma[p.fitzpatrick].append(float(s.albedo @ [0.2126, 0.7152, 0.0722]))
    med = [np.median(luma[t]) for t in range(1, 7)]
    assert all(a > b for a, b in zip(med, med[1:], strict=False)), med
    assert med[0] > 3 * med[-1]


def test_children_have_no_stubble():
    who = [people.person(pid) for pid in range(COUNT)]
    kids = [p for p in who if people.years(p.phenotype["age"]) < 15]
    assert kids
    for p in kids:
        assert skin.draw(p.skin_seed, p.phenotype, p.fitzpatrick).stubble == 0.0


def test_portrait_sittings_turn_the_head_and_catch_expressions():
    """Portrait sittings: yaw within ±40° and spread over it, pitch ±20°, roll ±15°; some
    smile, some open the mouth, some close the eyes; the booth's sittings stay small."""
    sits = [people.sitting(people.person(pid), 0, portrait=True) for pid in range(120)]
    yaw = np.array([s.yaw for s in sits])
    assert np.abs(yaw).max() <= 40 and yaw.max() > 25 and yaw.min() < -25
    assert max(abs(s.pitch) for s in sits) <= 20 and max(abs(s.roll) for s in sits) <= 15
    smiles = sum(s.expression.get("mouthSmileLeft", 0) > 0.45 for s in sits)
    open_mouth = sum(s.expression.get("jawOpen", 0) > 0.2 for s in sits)
    closed = sum(s.expression.get("eyeBlinkLeft", 0) > 0.45 for s in sits)
    print(f"of 120: {smiles} smiling, {open_mouth} mouth open, {closed} eyes closed")
    assert smiles > 20 and open_mouth > 5 and closed > 2
    booth = [people.sitting(people.person(pid), 0) for pid in range(60)]
    assert max(abs(s.yaw) for s in booth) < 15
    assert people.sitting(people.person(3), 2, portrait=True) == people.sitting(
        people.person(3), 2, portrait=True)
