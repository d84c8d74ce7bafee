"""The light moved by keys in the app: its state, its scenes, and the small copy it renders."""

import numpy as np
import pytest

from booth.lighting import Portrait
from booth.live_light import PRESETS, LiveLight, preview
from photometric.lights import DirectionalLight, nominal_rig
from photometric.relighting.relighter import direction
from photometric.sim import synthetic


def test_moves_wrap_and_clamp():
    light = LiveLight(azimuth=175.0, elevation=80.0)
    moved = light.moved(10.0, 10.0)
    assert moved.azimuth == pytest.approx(-175.0) and moved.elevation == 85.0
    assert light.scaled(100.0).intensity == 8.0 and light.scaled(1e-6).intensity == 0.05
    seen = [light.preset]
    for _ in PRESETS:
        light = light.next_preset()
        seen.append(light.preset)
    assert seen[0] == seen[-1] and set(seen) == set(PRESETS)


def test_scenes():
    key = LiveLight(azimuth=30.0, elevation=10.0, intensity=2.0).scene(None)
    [light] = key.lights
    assert np.allclose(light.direction, direction(30.0, 10.0)) and light.intensity == 2.0
    rig = nominal_rig()
    flash = LiveLight(preset="flash left", shadows=True).scene(rig)
    assert isinstance(flash.lights[0], DirectionalLight) and flash.shadows
    assert np.allclose(flash.lights[0].direction, rig.direction("left"))
    studio = LiveLight(preset="studio", intensity=0.5, specular=True).scene(None)
    assert len(studio.lights) == 0
    assert studio.sh is not None and studio.specular is not None
    assert not LiveLight(preset="studio").movable and LiveLight().movable


def test_preview_is_small_and_renders_like_the_whole():
    s = synthetic.sphere(300)
    normals, mask = s.normals.astype(np.float32), s.mask
    albedo = np.full((*mask.shape, 3), 0.6, np.float32)
    portrait = Portrait(normals, mask, albedo, albedo.copy(), None, {})
    small = preview(portrait, 100)
    assert max(small.shape) == 100
    n = small.normals[small.mask]
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-4)
    scene = LiveLight(azimuth=-40.0).scene(None)
    from photometric.relighting.relighter import Relighter

    whole = Relighter(normals, mask, albedo, albedo.copy()).render(scene)
    import cv2

    shrunk = cv2.resize(whole, small.shape[::-1], interpolation=cv2.INTER_AREA)
    got = small.render(scene)
    inner = cv2.erode(small.mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert np.abs(got - shrunk)[inner].mean() < 0.02
