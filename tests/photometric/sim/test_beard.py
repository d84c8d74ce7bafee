"""Beards: for about one man in four from 18, never for women or boys; a shell over the
skin where stubble grows, leaving the lips and the mouth bare, following the jaw, and in
the truth as a part of its own."""

from __future__ import annotations

import numpy as np
import yaml

from photometric.sim import beard, parts, people, sitter, synthetic

#: A man with a full beard (checked below).
BEARDED = 3


def test_about_one_man_in_four_has_a_beard():
    men = women = worn = 0
    for pid in range(400):
        who = people.person(pid)
        style = synthetic.beard_of(pid)
        male = who.phenotype["gender"] < 0.5
        adult = people.years(who.phenotype["age"]) >= 18.0
        if not (male and adult):
            assert style is None
            women += not male
            continue
        men += 1
        worn += style is not None
    assert women > 100 and 0.15 * men < worn < 0.35 * men, (worn, men)
    assert synthetic.beard_of(BEARDED).style == "full"


def test_the_shell_stands_off_the_skin_and_leaves_the_lips_bare():
    who = people.person(BEARDED)
    body = people.mesh(who, people.sitting(who, 0))
    style = synthetic.beard_of(BEARDED)
    shell = synthetic.worn_beard(style, body)
    head = body.vertices[body.bust.head]
    # Every shell vertex is within the beard's thickness (and its clumps) of the skin.
    from scipy.spatial import cKDTree

    d, _ = cKDTree(head).query(shell.vertices)
    assert d.max() < style.thickness * 1.3 + 1.0
    assert np.median(d) > 0.3 * style.thickness
    # The lips stay uncovered: no weight where the lips' coordinates say lips.
    from photometric.sim import uvbake

    tpl = people.template()
    f = uvbake.vertex_fields(tpl)
    lips = (np.abs(f["lip_t"]) < 1.0) & (f["lip_y"] > -9.0) & (f["lip_y"] < 5.0)
    lips &= np.isin(np.arange(len(lips)), tpl.faces[tpl.labels == people.SKIN])
    assert lips.sum() > 20 and (beard.weights(tpl)["beard"][lips] < 0.02).all()


def test_a_beard_in_the_truth_opens_with_the_mouth():
    record = sitter.choose(BEARDED, 0, "booth")
    record["sitting"].update(yaw=0.0, pitch=0.0, roll=0.0, expression={
        "jawOpen": 0.3, "mouthSmileLeft": 0.9, "mouthSmileRight": 0.9,
        "mouthLowerDownLeft": 0.8, "mouthLowerDownRight": 0.8, "mouthUpperUpLeft": 0.5,
        "mouthUpperUpRight": 0.5})
    found = sitter.surface(record, size=256)[0].parts
    assert (found == parts.BEARD).sum() > 1500
    assert (found == parts.LIPS).sum() > 100
    assert np.isin(found, [parts.TEETH, parts.MOUTH]).sum() > 5
    # The beard lies below the eyes, around the mouth.
    rows = np.nonzero(found == parts.BEARD)[0]
    assert rows.mean() > np.nonzero(found == parts.EYES)[0].mean()


def test_a_bearded_record_renders_again_bit_for_bit_and_an_old_one_without():
    first = sitter.sit(BEARDED, 0, "booth", size=96)
    again = sitter.render(yaml.safe_load(yaml.safe_dump(first.record)), size=96)
    np.testing.assert_array_equal(first.surface.normals, again.surface.normals)
    np.testing.assert_array_equal(first.images["center"], again.images["center"])
    old = dict(first.record)
    del old["beard"]
    assert parts.BEARD not in sitter.render(old, size=96).surface.parts
