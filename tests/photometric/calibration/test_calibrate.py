import numpy as np
import pytest

from photometric import calibration as calib
from photometric import response
from photometric.errors import InputError
from photometric.lights import CHANNELS
from photometric.sim import synthetic


def angle(a, b):
    return float(np.degrees(np.arccos(np.clip(np.dot(a, b), -1.0, 1.0))))


def test_recovers_light_directions_and_intensities(calibration):
    truth = synthetic.SIM_RIG
    for c in CHANNELS:
        err = angle(calibration.rig.direction(c), truth.direction(c))
        print(f"{c}: direction error {err:.4f}°")
        assert err < 1.0
        ratio = calibration.rig.intensity(c) / calibration.rig.intensity("center")
        assert ratio == pytest.approx(truth.intensity(c) / truth.intensity("center"), rel=0.01)


def test_recovers_lights_from_noisy_8bit_sphere(noisy_calibration):
    for c in CHANNELS:
        assert angle(noisy_calibration.rig.direction(c), synthetic.SIM_RIG.direction(c)) < 1.0


def test_recovers_lights_from_point_light_booth():
    sphere = synthetic.sphere(256)
    cal = calib.calibrate(synthetic.capture(sphere, synthetic.Booth(distance=2000.0)))
    for c in CHANNELS:
        # Flashes 2 m from a 10 cm sphere: across it the direction varies by ±1.4° and the
        # 1/d² falloff by ±5%, which one distant light can only approximate.
        assert angle(cal.rig.direction(c), synthetic.SIM_RIG.direction(c)) < 2.0


def test_finds_the_sphere(calibration):
    c = calibration.circle
    assert (c.cx, c.cy) == pytest.approx((191.5, 191.5), abs=0.3)
    assert c.r == pytest.approx(0.4 * 384, abs=0.5)


def test_finds_an_off_centre_sphere():
    s = synthetic.sphere(256, radius=60)
    images = {k: np.roll(v, (30, -40), axis=(0, 1)) for k, v in synthetic.capture(s).items()}
    c = calib.find_sphere(images)
    assert (c.cx, c.cy, c.r) == pytest.approx((127.5 - 40, 127.5 + 30, 60), abs=0.5)


def test_circle_override_is_used(sphere_images):
    cal = calib.calibrate(sphere_images, calib.Circle(191.5, 191.5, 153.6))
    assert cal.circle == calib.Circle(191.5, 191.5, 153.6)
    assert cal.residuals["lambertian_mean_deg"] < 0.1


def test_reports_residuals(calibration):
    r = calibration.residuals
    assert r["lambertian_mean_deg"] < 0.1
    assert r["simplified_median_deg"] < 0.1
    assert set(r["fit_rms"]) == set(CHANNELS)


def test_yaml_round_trip(calibration, tmp_path):
    path = tmp_path / "calibration.yaml"
    calibration.save(path)
    back = calib.Calibration.load(path)
    for c in CHANNELS:
        np.testing.assert_allclose(back.rig.direction(c), calibration.rig.direction(c), atol=1e-5)
        assert back.rig.intensity(c) == pytest.approx(calibration.rig.intensity(c), abs=1e-5)
    np.testing.assert_allclose(back.simplified.coeffs, calibration.simplified.coeffs, atol=1e-5)
    np.testing.assert_allclose(back.simplified.clamp, calibration.simplified.clamp, atol=1e-5)
    assert back.circle.r == pytest.approx(calibration.circle.r, abs=1e-3)
    assert back.response == calibration.response == response.SRGB
    assert not back.response_fitted


@pytest.mark.parametrize("text, message", [
    ("lights: [1, 2", "malformed YAML"),
    ("- just\n- a list\n", "expected a calibration mapping"),
    ("lights: {}\nsimplified: {}\nsphere: {}\nextra: 1\n", "unknown key"),
    ("sphere: {cx: 1, cy: 1, r: 1}\n", "missing key"),
])
def test_malformed_calibration_files(tmp_path, text, message):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(InputError, match=message) as exc:
        calib.Calibration.load(p)
    assert str(p) in str(exc.value)


def test_bad_coefficients_rejected(calibration, tmp_path):
    data = calibration.to_dict()
    data["simplified"]["coeffs"] = [[1, 2, 3]]
    with pytest.raises(InputError, match="3 rows of 5"):
        calib.Calibration.from_dict(data, "x.yaml")


def test_no_sphere_in_a_dark_capture():
    images = {c: np.zeros((64, 64, 3), np.uint8) for c in CHANNELS}
    with pytest.raises(InputError, match="no sphere found"):
        calib.calibrate(images)


def test_no_sphere_when_the_bright_region_is_not_round():
    images = {c: np.zeros((128, 128, 3), np.uint8) for c in CHANNELS}
    for img in images.values():
        img[60:68, 10:120] = 200  # a bright bar
    with pytest.raises(InputError, match="not round"):
        calib.calibrate(images)


def test_parse_circle():
    assert calib.Circle.parse("10,20.5,30") == calib.Circle(10, 20.5, 30)
    for bad in ("10,20", "a,b,c", "1,2,-3"):
        with pytest.raises(InputError, match="--circle"):
            calib.Circle.parse(bad)
