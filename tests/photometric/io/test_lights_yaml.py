"""The lights and calibration files: every mistake is one InputError naming the file and the
field, never a traceback, and a rig photometric stereo cannot use is refused on reading."""

import copy

import numpy as np
import pytest
import yaml

from photometric import calibration as calib
from photometric import stereo
from photometric.errors import InputError
from photometric.io.rigfile import MIN_SPREAD, load_rig, rig_from_dict, save_rig, spread
from photometric.lights import CHANNELS, nominal_rig
from photometric.sim import synthetic
from tests.photometric.conftest import refused

ANCHOR_BOMB = "".join(
    f"{k}: &{k} [{', '.join([f'*{p}'] * 9) if p else ', '.join(['x'] * 9)}]\n"
    for p, k in zip(["", "a", "b", "c", "d"], ["a", "b", "c", "d", "e"], strict=True))
DEEP = "lights: " + "[" * 40 + "]" * 40 + "\n"


def lights_data() -> dict:
    return nominal_rig().to_dict()


def calibration_data() -> dict:
    rig = nominal_rig()
    cal = calib.Calibration(rig, stereo.SimplifiedModel.nominal(rig),
                                calib.Circle(32.0, 32.0, 20.0), (64, 64))
    return cal.to_dict()


def write(tmp_path, data, name="bad.yaml"):
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return p


def edited(base, **paths):
    """A deep copy of ``base`` with 'a.b.c'-style keys set (value DELETE removes the key)."""
    data = copy.deepcopy(base)
    for dotted, value in paths.items():
        *parents, last = dotted.split("__")
        node = data
        for key in parents:
            node = node[int(key) if isinstance(node, list) else key]
        if value is DELETE:
            del node[last]
        else:
            node[int(last) if isinstance(node, list) else last] = value
    return data


DELETE = object()
COPLANAR = {"left": [1, 0, 0], "right": [-1, 0, 0], "top": [0.6, 0.8, 0], "bottom": [0, -1, 0]}
EQUAL = {c: [0, 0.6, 0.8] for c in ("left", "right", "top", "bottom")}

# (edits, words the message must hold); applied to a lights file and to a calibration alike.
RIG_CASES = [
    ({"lights__left__0": "-0.5"}, ["lights.left.0", "valid number", "'-0.5'"]),
    ({"lights__left__0": True}, ["lights.left.0", "valid number"]),
    ({"lights__left": [0, 0]}, ["lights.left", "at least 3"]),
    ({"lights__left": [0, 0, 2]}, ["lights.left", "length 2", "unit vectors from the surface "
                                   "toward the light"]),
    ({"lights__left": [0.3, 0, 0.3]}, ["lights.left", "length 0.4243"]),
    ({"lights__left": [float("nan"), 0, 1]}, ["lights.left.0", "finite"]),
    ({"lights__top": DELETE}, ["lights", "['top'] missing"]),
    ({"lights__middle": [0, 0, 1]}, ["lights.middle", "'center', 'left'"]),
    ({"lights": COPLANAR}, ["lights:", "one plane", f"at least {MIN_SPREAD}"]),
    ({"lights": {**EQUAL, "center": [0, 0, 1]}}, ["lights:", "one plane"]),
    ({"lights": [[0, 0, 1]]}, ["lights", "valid dictionary"]),
    ({"intensities__left": -1}, ["intensities.left", "greater than 0", "-1"]),
    ({"intensities__left": 0}, ["intensities.left", "greater than 0"]),
    ({"intensities__left": "1"}, ["intensities.left", "valid number"]),
    ({"intensities__left": float("inf")}, ["intensities.left", "finite"]),
    ({"wavelength": 550}, ["unknown key(s) ['wavelength']"]),
    ({"lights": DELETE}, ["missing key(s) ['lights']"]),
]


@pytest.mark.parametrize("edits, expect", RIG_CASES)
def test_bad_lights_file(tmp_path, edits, expect):
    refused(load_rig, write(tmp_path, edited(lights_data(), **edits)), *expect)


@pytest.mark.parametrize("edits, expect", RIG_CASES)
def test_bad_lights_in_a_calibration(tmp_path, edits, expect):
    refused(calib.Calibration.load, write(tmp_path, edited(calibration_data(), **edits)),
            *expect)


@pytest.mark.parametrize("text, expect", [
    ("- left\n- right\n", "(top level): expected a"),
    ("", "(top level): expected a"),
    ("lights: {left: [1, 0, 0]\n", "malformed YAML"),
    (ANCHOR_BOMB, "aliases are expanded"),
    (DEEP, "nested more than"),
    ("lights: {left: [0, 0, 1], left: [0, 0, 1]}\n", "appears twice"),
])
@pytest.mark.parametrize("load", [load_rig, calib.Calibration.load])
def test_not_a_settings_mapping(tmp_path, text, expect, load):
    refused(load, write(tmp_path, text), expect)


@pytest.mark.parametrize("edits, expect", [
    ({"simplified__coeffs": [[1, 2, 3]]}, ["simplified.coeffs", "3 rows of 5"]),
    ({"simplified__coeffs__1__4": "0.5"}, ["simplified.coeffs.1.4", "valid number"]),
    ({"simplified__coeffs__1__4": float("nan")}, ["simplified.coeffs.1.4", "finite"]),
    ({"simplified__clamp__p_min": 5.0}, ["simplified.clamp", "p_min ≤ p_max"]),
    ({"simplified__clamp__q_max": -9.0}, ["simplified.clamp", "q_min ≤ q_max"]),
    ({"simplified__clamp__p_max": DELETE}, ["simplified.clamp", "missing key(s) ['p_max']"]),
    ({"simplified__center": [0, 0, 0]}, ["simplified.center", "must not be zero"]),
    ({"simplified__gain": 1}, ["simplified", "unknown key(s) ['gain']"]),
    ({"sphere__r": 0}, ["sphere.r", "greater than 0"]),
    ({"sphere__r": -3.5}, ["sphere.r", "greater than 0"]),
    ({"sphere__cx": "10"}, ["sphere.cx", "valid number"]),
    ({"sphere": [1, 2, 3]}, ["sphere", "expected a mapping"]),
    ({"image_size": [64]}, ["image_size", "at least 2"]),
    ({"image_size": [64, 0]}, ["image_size.1", "greater than 0"]),
    ({"image_size": [64, 64.5]}, ["image_size.1", "valid integer"]),
    ({"image_size": DELETE}, ["missing key(s) ['image_size']"]),
    ({"format_version": 3}, ["format_version", "not supported"]),
    ({"format_version": "1"}, ["format_version", "valid integer"]),
    ({"format_version": DELETE}, ["missing key(s) ['format_version']"]),
    ({"residuals": {"lambertian_mean_deg": "x"}}, ["residuals.lambertian_mean_deg",
                                                   "valid number", "'x'"]),
    ({"residuals": {"simplified_p95_deg": -1.0}}, ["residuals.simplified_p95_deg",
                                                   "greater than or equal to 0"]),
    ({"residuals": {"lambertian_median_deg": 200.0}}, ["residuals.lambertian_median_deg",
                                                       "less than or equal to 180"]),
    ({"residuals": {"fit_rms": 0.5}}, ["residuals.fit_rms", "valid dictionary"]),
    ({"residuals": {"fit_rms": {"left": "small"}}}, ["residuals.fit_rms.left", "valid number"]),
    ({"residuals": {"fit_rms": {"side": 0.1}}}, ["residuals.fit_rms.side", "'center'"]),
    ({"residuals": {"mood": 1.0}}, ["residuals", "unknown key(s) ['mood']"]),
    ({"residuals": [1.0]}, ["residuals", "expected a mapping"]),
    ({"simplified": DELETE, "sphere": DELETE}, ["missing key(s) ['sphere', 'simplified']"]),
])
def test_bad_calibration_fields(tmp_path, edits, expect):
    refused(calib.Calibration.load, write(tmp_path, edited(calibration_data(), **edits)),
            *expect)


def test_good_files_load(tmp_path):
    rig = load_rig(write(tmp_path, lights_data(), "lights.yaml"))
    for c in CHANNELS:
        np.testing.assert_allclose(rig.direction(c), nominal_rig().direction(c), atol=1e-5)
        assert np.linalg.norm(rig.direction(c)) == pytest.approx(1.0, abs=1e-12)
    cal = calib.Calibration.load(write(tmp_path, calibration_data(), "cal.yaml"))
    assert cal.image_size == (64, 64) and cal.circle.r == 20.0
    # Intensities may be left out or null; the ring flash may be left out.
    rig = load_rig(write(tmp_path, edited(lights_data(), intensities=None,
                                          lights__center=DELETE)))
    assert set(rig.directions) == set(CHANNELS[1:]) and rig.intensity("left") == 1.0


def test_residuals_round_trip(tmp_path):
    data = calibration_data()
    data["residuals"] = {"fit_rms": {c: 0.01 for c in CHANNELS}, "lambertian_mean_deg": 0.5,
                         "simplified_median_deg": 1.25}
    cal = calib.Calibration.load(write(tmp_path, data, "cal.yaml"))
    assert cal.residuals == data["residuals"]
    data["residuals"] = None  # written empty: none
    assert calib.Calibration.load(write(tmp_path, data, "cal.yaml")).residuals == {}


def test_simulated_capture_lights_load_with_their_simulation_block(tmp_path):
    data = synthetic.SIM_RIG.to_dict()
    data["simulation"] = {"kind": "face", "seed": 0, "size": 64, "noise": 0.0, "bits": 16,
                          "distance_mm": None, "ambient": False, "specular": 0.0}
    rig = load_rig(write(tmp_path, data, "lights.yaml"))
    np.testing.assert_allclose(rig.direction("left"), synthetic.SIM_RIG.direction("left"),
                               atol=1e-5)
    data["simulation"]["seed"] = "0"
    refused(load_rig, write(tmp_path, data), "simulation.seed", "valid integer")
    data["simulation"] = {"kind": "face", "extra": 1}
    refused(load_rig, write(tmp_path, data), "simulation", "unknown key(s) ['extra']")


def test_spread_threshold_accepts_real_rigs_and_refuses_flat_ones():
    assert spread(nominal_rig().directions) > 0.4
    assert spread(synthetic.SIM_RIG.directions) > 0.4  # a rig as calibration finds it
    assert spread(nominal_rig(10.0).directions) > MIN_SPREAD  # a narrow rig is still usable
    for flat in (COPLANAR, EQUAL):
        assert spread({c: np.asarray(v, float) for c, v in flat.items()}) < 1e-9


def test_from_dict_uses_the_same_schema():
    with pytest.raises(InputError, match=r"^x\.yaml: lights\.left: .*length 2"):
        rig_from_dict(edited(lights_data(), lights__left=[0, 0, 2]), "x.yaml")
    with pytest.raises(InputError, match=r"^x\.yaml: simplified\.coeffs: .*3 rows of 5"):
        calib.Calibration.from_dict(edited(calibration_data(), simplified__coeffs=[[1]]),
                                        "x.yaml")


def test_saves_are_atomic_and_round_trip(tmp_path, monkeypatch):
    path = tmp_path / "lights.yaml"
    save_rig(synthetic.SIM_RIG, path)
    assert load_rig(path).intensity("right") == pytest.approx(1.06)
    cal_path = tmp_path / "cal.yaml"
    calib.Calibration.from_dict(calibration_data()).save(cal_path)
    before = path.read_text(), cal_path.read_text()

    import photometric.io.files

    def failing_write(p, text, mode=0o600):  # the disk fills up part-way
        def write(tmp):
            tmp.write_text(text[:3])
            raise OSError(28, "No space left on device")
        return photometric.io.files.atomic_write(p, write, mode)

    monkeypatch.setattr("photometric.io.rigfile.write_text", failing_write)
    monkeypatch.setattr("photometric.calibration.calibfile.write_text", failing_write)
    with pytest.raises(OSError, match="lights.yaml"):
        save_rig(nominal_rig(), path)
    with pytest.raises(OSError, match="cal.yaml"):
        calib.Calibration.from_dict(calibration_data()).save(cal_path)
    assert (path.read_text(), cal_path.read_text()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cal.yaml", "lights.yaml"]
