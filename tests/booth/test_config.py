import dataclasses

import pytest
import yaml

from booth.cli import main
from booth.config import BoothConfig, CaptureSection, as_dict, exposure_seconds, load_config
from photometric import calibration as calib
from photometric.errors import InputError
from photometric.lights import nominal_rig

ANCHOR_BOMB = "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
    for p, k in zip(["", "a", "b", "c", "d"], ["a", "b", "c", "d", "e"], strict=True))


def test_defaults_and_overrides(tmp_path):
    assert load_config(None) == BoothConfig()
    p = tmp_path / "booth.yaml"
    p.write_text("camera: {settings: {capturetarget: Internal RAM}, flash_sync: 1/250}\n"
                 "capture: {ambient: true, order: [center, top, bottom, left, right]}\n")
    cfg = load_config(p)
    assert cfg.camera.settings == {"capturetarget": "Internal RAM"}
    assert cfg.camera.flash_sync == "1/250" and cfg.capture.ambient is True
    assert cfg.capture.order[1] == "top" and cfg.flash.retries == 5


def test_empty_sections_and_numbers_as_camera_text(tmp_path):
    p = tmp_path / "booth.yaml"
    p.write_text("")
    assert load_config(p) == BoothConfig()
    p.write_text("camera:\nflash:\n")
    assert load_config(p) == BoothConfig()
    # YAML reads these as numbers; the camera wants their text.
    p.write_text("camera: {settings: {iso: 100, shutterspeed: 1}, flash_sync: 0.5}\n"
                 "sessions: /srv/booth\n")
    cfg = load_config(p)
    assert cfg.camera.settings == {"iso": "100", "shutterspeed": "1"}
    assert cfg.camera.flash_sync == "0.5" and cfg.sessions == "/srv/booth"
    p.write_text("camera: {flash_sync: 1, settings: {shutterspeed: 2}}\n")
    assert load_config(p).camera.flash_sync == "1"


def test_code_built_config_and_plain_data():
    cfg = BoothConfig(capture=CaptureSection(ambient=True))  # as booth.demo_day builds it
    assert cfg.capture.ambient and cfg.capture.order == list(BoothConfig().capture.order)
    data = as_dict(cfg)
    assert data == dataclasses.asdict(cfg) and data["flash"]["timeout_ms"] == 100
    yaml.safe_dump(data)  # plain data, fit for session.yaml


@pytest.mark.parametrize("text, message", [
    ("camera: {isoo: 100}\n", r"camera: unknown key\(s\) \['isoo'\]"),
    ("colour: red\n", r"\(top level\): unknown key\(s\) \['colour'\]"),
    ("flash: {retries: many}\n", "flash.retries: Input should be a valid integer"),
    ("flash: {retries: '5'}\n", "flash.retries: Input should be a valid integer"),
    ("flash: {timeout_ms: 100.5}\n", "flash.timeout_ms: Input should be a valid integer"),
    ("capture: {ambient: 1}\n", "capture.ambient: Input should be a valid boolean"),
    ("capture: {power: '255'}\n", "capture.power: Input should be a valid integer"),
    ("capture: {order: [center, center]}\n", "capture.order: must list each of the five"),
    ("capture: {order: [center, left, right, top]}\n", "capture.order: .*all five"),
    ("capture: {order: [center, left, right, top, bottom, side]}\n", r"capture.order.5"),
    ("capture: {order: center}\n", "capture.order: Input should be a valid list"),
    ("camera: [1]\n", "camera: expected a mapping"),
    ("flash: 5\n", "flash: expected a mapping"),
    ("- camera\n- flash\n", r"\(top level\): expected a mapping"),
    ("flash: {retries: 0}\n", "flash.retries: .*greater than or equal to 1"),
    ("flash: {timeout_ms: 0}\n", "flash.timeout_ms: .*greater than 0"),
    ("flash: {heartbeat_ms: -1}\n", "flash.heartbeat_ms: .*greater than 0"),
    ("flash: {port: 3}\n", "flash.port: Input should be a valid string"),
    ("capture: {retries: 0}\n", "capture.retries: .*greater than or equal to 1"),
    ("capture: {fired_timeout_ms: 0}\n", "capture.fired_timeout_ms: .*greater than 0"),
    ("capture: {power: 300}\n", "capture.power: .*less than or equal to 255"),
    ("capture: {power: -1}\n", "capture.power: .*greater than or equal to 0"),
    ("camera: {settle_ms: -5}\n", "camera.settle_ms: .*greater than or equal to 0"),
    ("camera: {flash_sync: fast}\n", "camera.flash_sync: expected a shutter speed"),
    ("camera: {flash_sync: 1/0}\n", "camera.flash_sync: .*not zero"),
    ("camera: {flash_sync: 1/10000}\n", "camera.flash_sync: .*1/8000 s to 30 s"),
    ("camera: {flash_sync: 60}\n", "camera.flash_sync: .*1/8000 s to 30 s"),
    ("camera: {flash_sync: true}\n", "camera.flash_sync: Input should be a valid string"),
    ("camera: {settings: {shutterspeed: 1/1000}}\n",
     "camera: settings.shutterspeed 1/1000 is faster than flash_sync 1/200"),
    ("camera: {settings: {shutterspeed: bulb}}\n",
     "camera: settings.shutterspeed: expected a shutter speed.*'bulb'"),
    ("camera: {settings: {iso: [100]}}\n", "camera.settings.iso: Input should be a valid string"),
    ("camera: {settings: [iso, 100]}\n", "camera.settings: Input should be a valid dictionary"),
    ("sessions: ''\n", "sessions: expected a folder name"),
    ("sessions: 5\n", "sessions: Input should be a valid string"),
    ("flash: {retries: 1, retries: 2}\n", "key 'retries' appears twice"),
    ("sessions: " + "[" * 40 + "]" * 40 + "\n", "nested more than"),
    (ANCHOR_BOMB, "aliases are expanded"),
    ("flash: {retries: 5\n", "malformed YAML"),
    # every time and count has an upper bound (a huge one failed later, in a thread)
    ("flash: {heartbeat_ms: 99999999999999999999}\n",
     "flash.heartbeat_ms: .*less than or equal to 60000"),
    ("flash: {timeout_ms: 60001}\n", "flash.timeout_ms: .*less than or equal to 60000"),
    ("flash: {retries: 101}\n", "flash.retries: .*less than or equal to 100"),
    ("capture: {retries: 101}\n", "capture.retries: .*less than or equal to 100"),
    ("capture: {fired_timeout_ms: 60001}\n",
     "capture.fired_timeout_ms: .*less than or equal to 60000"),
    ("camera: {settle_ms: 10001}\n", "camera.settle_ms: .*less than or equal to 10000"),
    # ports: flash.port by --port's rule, camera.port in libgphoto2's form
    ("flash: {port: 'bogus://x'}\n", "flash.port: unknown URL scheme 'bogus://'"),
    ("flash: {port: 'socket://nohostxx'}\n", "flash.port: expected socket://HOST:PORT"),
    ("flash: {port: 'rfc2217://host:99999'}\n", "flash.port: expected rfc2217://HOST:PORT"),
    ("flash: {port: ' '}\n", "flash.port: expected a serial port"),
    ("camera: {port: 'nowhere'}\n", "camera.port: expected a libgphoto2 port"),
])
def test_bad_config_names_the_field(tmp_path, text, message):
    p = tmp_path / "booth.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=message) as exc:
        load_config(p)
    assert str(exc.value).startswith(f"{p}: ") and "\n" not in str(exc.value)


def test_ports_and_bounds_that_are_fine(tmp_path):
    p = tmp_path / "booth.yaml"
    p.write_text("flash: {port: 'socket://localhost:7000', timeout_ms: 60000, retries: 100,\n"
                 "        heartbeat_ms: 60000}\n"
                 "camera: {port: 'usb:001,005', settle_ms: 10000}\n"
                 "capture: {retries: 100, fired_timeout_ms: 60000}\n")
    cfg = load_config(p)
    assert cfg.flash.port == "socket://localhost:7000" and cfg.camera.port == "usb:001,005"
    for port in ("/dev/ttyACM0", "loop://", "rfc2217://10.0.0.2:2217"):
        p.write_text(f"flash: {{port: '{port}'}}\n")
        assert load_config(p).flash.port == port


def test_one_port_rule(tmp_path, monkeypatch):
    """booth.yaml's flash.port and --port share booth.options.port_problem."""
    import booth.config
    from booth import options

    assert booth.config.port_problem is options.port_problem
    monkeypatch.setattr(booth.config, "port_problem", lambda text: "refused by the one rule")
    p = tmp_path / "booth.yaml"
    p.write_text("flash: {port: /dev/ttyACM0}\n")
    with pytest.raises(InputError, match="flash.port: refused by the one rule"):
        load_config(p)


def test_one_shutter_speed_rule():
    from booth.hardware.camera import exposure_seconds as camera_rule

    assert camera_rule is exposure_seconds
    for text, s in (("1/200", 0.005), ("1/200s", 0.005), ("0.005", 0.005), ("2", 2.0),
                    ("30", 30.0), ("1/8000", 1 / 8000), (1, 1.0), (0.5, 0.5)):
        assert exposure_seconds(text) == pytest.approx(s)
    for bad in ("fast", "1/0", "0", "-1/200", "1/16000", "31", "inf", "nan", "1e-3", "", True):
        with pytest.raises(ValueError, match="expected a shutter speed"):
            exposure_seconds(bad)


# -- the CLI refuses a bad YAML file in one line, before making anything -------------------
@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("capture") / "face"
    assert main(["simulate", "subject", "--kind", "face", "--seed", "0", "--size", "64",
                 "--out", str(folder)]) == 0
    return folder


BAD_RIGS = {
    "string": ({"left": ["-0.5", 0, 0.866]}, "lights.left.0"),
    "non-unit": ({"left": [0, 0, 2]}, "lights.left"),
    "coplanar": ({"left": [1, 0, 0], "right": [-1, 0, 0], "top": [0, 1, 0],
                  "bottom": [0, -1, 0]}, "lights"),
}


@pytest.mark.parametrize("flag", ["--lights", "--calibration"])
@pytest.mark.parametrize("case", sorted(BAD_RIGS))
def test_normals_refuses_a_bad_lights_or_calibration_file(capture_dir, tmp_path, capsys,
                                                          flag, case):
    from photometric import stereo

    lights, field = BAD_RIGS[case]
    rig = nominal_rig()
    if flag == "--lights":
        data = rig.to_dict()
    else:
        data = calib.Calibration(rig, stereo.SimplifiedModel.nominal(rig),
                                     calib.Circle(32, 32, 20), (64, 64)).to_dict()
    data["lights"].update(lights)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    capsys.readouterr()
    assert main(["normals", str(capture_dir), flag, str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(bad) in err and f": {field}" in err, err
    assert not out.exists()


@pytest.mark.parametrize("text, field", [
    ("flash: {retries: 0}\n", "flash.retries"),
    ("flash: {timeout_ms: '100'}\n", "flash.timeout_ms"),
    ("camera: {flash_sync: fast}\n", "camera.flash_sync"),
    ("capture: {order: [center, left]}\n", "capture.order"),
    ("sessions: [a]\n", "sessions"),
    (ANCHOR_BOMB, "aliases"),
    ("flash: {port: 'bogus://x'}\n", "flash.port"),
    ("flash: {heartbeat_ms: 99999999999999999999}\n", "flash.heartbeat_ms"),
    ("flash: {timeout_ms: 99999999999999999999}\n", "flash.timeout_ms"),
])
def test_capture_refuses_a_bad_config(tmp_path, capsys, text, field):
    cfg = tmp_path / "booth.yaml"
    cfg.write_text(text)
    root = tmp_path / "sessions"
    assert main(["capture", "--config", str(cfg), "--session", "s", "--subject", "a",
                 "--consent", "--sessions", str(root)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert str(cfg) in err and field in err, err
    assert not root.exists()
