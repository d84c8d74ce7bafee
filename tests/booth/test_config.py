import pytest

from booth.config import BoothConfig, load_config
from photometric.errors import InputError


def test_defaults_and_overrides(tmp_path):
    assert load_config(None) == BoothConfig()
    p = tmp_path / "booth.yaml"
    p.write_text("camera: {settings: {capturetarget: Internal RAM}, flash_sync: 1/250}\n"
                 "capture: {ambient: true, order: [center, top, bottom, left, right]}\n")
    cfg = load_config(p)
    assert cfg.camera.settings == {"capturetarget": "Internal RAM"}
    assert cfg.camera.flash_sync == "1/250" and cfg.capture.ambient is True
    assert cfg.capture.order[1] == "top" and cfg.flash.retries == 5


@pytest.mark.parametrize("text, message", [
    ("camera: {isoo: 100}\n", r"camera: unknown key\(s\) \['isoo'\]"),
    ("flash: {retries: many}\n", "flash.retries: expected a whole number"),
    ("capture: {ambient: 1}\n", "capture.ambient: expected true or false"),
    ("capture: {order: [center, center]}\n", "distinct flashes"),
    ("colour: red\n", "unknown key"),
    ("camera: [1]\n", "camera: expected a mapping"),
])
def test_bad_config_names_the_field(tmp_path, text, message):
    p = tmp_path / "booth.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=message) as exc:
        load_config(p)
    assert str(p) in str(exc.value)
