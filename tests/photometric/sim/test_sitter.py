"""A sitting's record of choices renders the same pictures again, in both lights."""

from __future__ import annotations

import numpy as np
import yaml

from photometric.sim import sitter, synthetic


def test_a_record_read_back_renders_bit_for_bit_the_same():
    for lighting in sitter.LIGHTINGS:
        first = sitter.sit(9, 1, lighting, size=128)
        record = yaml.safe_load(yaml.safe_dump(first.record, sort_keys=False))
        again = sitter.render(record, size=128)
        for name, img in first.images.items():
            np.testing.assert_array_equal(img, again.images[name])
        np.testing.assert_array_equal(first.surface.normals, again.surface.normals)
        np.testing.assert_array_equal(first.surface.parts, again.surface.parts)
        assert first.jpeg == again.jpeg


def test_a_record_holds_every_choice_and_edits_take_effect():
    record = sitter.choose(4, 0, "portrait")
    assert set(record) == {"id", "take", "lighting", "person", "sitting", "garment", "hair",
                           "glasses", "beard", "scene"}
    assert "booth" not in record and "scene" not in sitter.choose(4, 0, "booth")
    plain = sitter.render(record, size=96).images["portrait"]
    record["garment"]["colour"], record["garment"]["pattern"] = "red", "solid"
    record["scene"]["exposure"] = record["scene"]["exposure"] - 1.0
    edited = sitter.render(record, size=96).images["portrait"]
    assert np.abs(edited.astype(int) - plain).mean() > 2


def test_booth_light_sitting_is_the_booths_simulated_person():
    booth = sitter.sit(5, 0, "booth", size=96, noise=0.0)
    face = synthetic.face(5, 96)
    np.testing.assert_array_equal(booth.surface.normals, face.normals)
    np.testing.assert_array_equal(booth.surface.albedo, face.albedo)
    assert set(booth.images) >= {"center", "left", "right", "top", "bottom"}


def test_a_record_from_before_glasses_renders_without_them():
    """A person.yaml written before glasses were drawn has no ``glasses``: it renders as
    it did, with no glasses."""
    record = sitter.choose(9, 0, "booth")
    assert record["glasses"] is not None
    del record["glasses"]
    sitter.check(record)
    parts = sitter.render(record, size=96).surface.parts
    assert not np.isin(parts, [8, 10]).any()
