"""The issue's radiometry checks end to end: camera files (sRGB JPEG, DNG) of a simulated
person and sphere, made linear at the I/O edge, calibrated, solved.

The renders are linear float images from ``photometric.sim.synthetic``; the camera files are what
``photometric.io.camerafile`` writes for the simulated camera; reading goes through
``imageio.load_capture`` exactly as ``booth normals``, capture processing and the export do.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photometric import calibration as calib
from photometric import render, stereo
from photometric.io import camerafile, imageio
from photometric.lights import CHANNELS
from photometric.response import LINEAR, SRGB, srgb_decode
from photometric.sim import synthetic
from tests.conftest import FACE_SEED, lit_by_all

SIZE = 256
SENSOR = render.SensorModel(noise=0.002, bits=None)


def _write(folder: Path, images: dict[str, np.ndarray], fmt: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, img in images.items():
        if fmt in ("jpeg", "raw+jpeg"):
            (folder / f"{name}.jpg").write_bytes(camerafile.encode_jpeg(img))
        if fmt in ("raw", "raw+jpeg"):
            (folder / f"{name}.dng").write_bytes(camerafile.encode_dng(img))
    return folder


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    """A sphere and a face, rendered once (linear float), with the face's truth."""
    root = tmp_path_factory.mktemp("radiometry")
    sphere = synthetic.capture(synthetic.sphere(SIZE), synthetic.Booth(), SENSOR, seed=1)
    face = synthetic.face(FACE_SEED, SIZE, glasses=False)
    # Exposed for the skin, as the booth exposes a sitter.
    shots = synthetic.capture(face, synthetic.Booth(), synthetic.metered(face, camera=SENSOR),
                              seed=2)
    return root, sphere, face, shots


def _mean_error(result: stereo.StereoResult, face, where: np.ndarray) -> float:
    err = stereo.angular_error(result.normals, face.normals)
    sel = where & result.mask
    assert sel.mean() > 0.9 * where.mean()  # the comparison covers (nearly) all of it
    return float(err[sel].mean())


def test_dng_decodes_to_the_linear_render(scenes):
    """LibRaw gives back the render the DNG was made from: mean error over the face within
    0.005 of full scale (demosaicing at edges and texture, 14-bit quantisation); the white
    balance applied is the file's as-shot one."""
    _, _, face, shots = scenes
    render_ = shots["left"]
    data = camerafile.encode_dng(render_)
    raw = camerafile.decode_raw(data, "left.dng")
    got = raw.rgb.astype(np.float64) / 65535.0
    err = np.abs(got - np.clip(render_, 0, 1))[face.mask]
    print(f"DNG -> LibRaw: mean |error| {err.mean():.5f}, median {np.median(err):.5f}")
    assert err.mean() < 0.005 and np.median(err) < 0.002
    neutral = camerafile.Sensor().neutral
    assert raw.white_balance == pytest.approx((neutral[1] / neutral[0], 1.0,
                                               neutral[1] / neutral[2]), rel=1e-3)


def test_srgb_jpeg_response_is_undone_within_jpeg_error(scenes):
    """sRGB's inverse takes the camera JPEG back to the render: what is left is JPEG's
    quantisation and compression, under 0.01 of full scale on average."""
    _, _, face, shots = scenes
    render_ = np.clip(shots["top"], 0, 1)
    codes = imageio.decode_image(camerafile.encode_jpeg(render_), "top.jpg")
    from photometric.response import linearize

    got = linearize(codes, SRGB).astype(np.float64) / 65535.0
    err = np.abs(got - render_)[face.mask]
    naive = np.abs(codes / 255.0 - render_)[face.mask]
    print(f"JPEG through sRGB's inverse: mean |error| {err.mean():.5f}; "
          f"taken as linear: {naive.mean():.5f}")
    assert err.mean() < 0.01
    assert naive.mean() > 5 * err.mean()


def test_normals_from_jpeg_with_fitted_response_and_from_raw(scenes):
    """The issue's accuracy targets on a simulated person: from sRGB JPEGs with the response
    fitted on the sphere, within 2° of the truth (mean where all flashes light the face);
    the same JPEGs taken as linear, measurably worse; from RAW, within 1°."""
    root, sphere, face, shots = scenes
    sphere_dir = _write(root / "sphere_jpeg", sphere, "jpeg")
    loaded = imageio.load_capture(sphere_dir)
    assert loaded.source == "jpeg" and loaded.codes is not None
    cal = calib.calibrate(loaded.codes, encoded=True)
    assert cal.response.kind == "polynomial"

    where = lit_by_all(face.normals, face.mask, synthetic.SIM_RIG, face, CHANNELS, 0.1)
    face_dir = _write(root / "face_both", shots, "raw+jpeg")
    jpeg_dir = _write(root / "face_jpeg", shots, "jpeg")

    jpeg = imageio.load_capture(jpeg_dir, cal.response)
    fitted = _mean_error(stereo.solve(jpeg.images, rig=cal.rig,
                                      white_level=jpeg.white_level), face, where)
    as_linear = imageio.load_capture(jpeg_dir, LINEAR)
    linear = _mean_error(stereo.solve(as_linear.images, rig=cal.rig,
                                      white_level=as_linear.white_level), face, where)

    raw_sphere = imageio.load_capture(_write(root / "sphere_raw", sphere, "raw"))
    assert raw_sphere.source == "raw"
    raw_cal = calib.calibrate(raw_sphere.images)
    both = imageio.load_capture(face_dir, cal.response)
    assert both.source == "raw"  # RAW is preferred when a shot has both
    raw = _mean_error(stereo.solve(both.images, rig=raw_cal.rig,
                                   white_level=both.white_level), face, where)
    print(f"face, mean error where all flashes light it: JPEG + fitted response "
          f"{fitted:.2f}°, JPEG taken as linear {linear:.2f}°, RAW {raw:.2f}°")
    assert fitted < 2.0
    assert linear > fitted + 1.0
    assert raw < 1.0


def test_fitted_response_is_close_to_srgb(scenes):
    """The sim's camera writes sRGB: the curve fitted on its sphere is sRGB's inverse to
    within 0.01 of full scale over the codes the sphere shows."""
    root, sphere, _, _ = scenes
    loaded = imageio.load_capture(_write(root / "sphere_fit", sphere, "jpeg"))
    cal = calib.calibrate(loaded.codes, encoded=True)
    v = np.linspace(0.05, 0.95, 91)
    assert np.abs(cal.response(v) - srgb_decode(v)).max() < 0.01
    assert cal.residuals["response_rms_fitted"] <= cal.residuals["response_rms_srgb"] + 1e-4


def test_a_jpeg_clips_at_code_250_not_at_linear_98_percent(tmp_path):
    """Made linear, a JPEG's saturation test falls at code 250 of 255 (its tone curve's
    shoulder and JPEG's ringing beside clipped highlights), as the calibration's does, not
    at 98 % of linear full scale (code 253 under sRGB): a pixel at code 251 is clipped."""
    lut = SRGB.lut()
    cut = stereo.Thresholds.saturated * imageio.jpeg_white_level(SRGB)
    assert lut[249] < cut <= lut[250]
    folder = tmp_path / "c"
    folder.mkdir()
    bright = render.SensorModel(gain=1.5, noise=0.002, bits=None)  # over-exposed: it clips
    shots = synthetic.capture(synthetic.sphere(96), synthetic.Booth(), bright, seed=1)
    for name, img in shots.items():
        (folder / f"{name}.jpg").write_bytes(camerafile.encode_jpeg(img))
    loaded = imageio.load_capture(folder)
    top = loaded.images["center"].max(axis=2)
    assert ((top >= lut[251]) & (top < lut[255])).any()  # codes 251-254: newly clipped
    hot = top >= lut[251]
    res = stereo.lambertian(loaded.images, synthetic.SIM_RIG, white_level=loaded.white_level)
    assert hot.any() and ((res.flags[hot] & stereo.SATURATED) != 0).all()


def _raw_errors(folder: Path, face, **decoders) -> dict[tuple[str, str], float]:
    """Mean error of both methods' normals where all flashes light ``face``, per decoder:
    name -> keyword arguments of ``imageio._load_raw``."""
    paths = {c: folder / f"{c}.dng" for c in CHANNELS}
    where = lit_by_all(face.normals, face.mask, synthetic.SIM_RIG, face, CHANNELS, 0.1)
    errors = {}
    for name, kwargs in decoders.items():
        loaded = imageio._load_raw(paths, **kwargs)
        for method in stereo.METHODS:
            res = stereo.solve(loaded.images, method, rig=synthetic.SIM_RIG,
                               white_level=loaded.white_level)
            errors[name, method] = _mean_error(res, face, where)
    print(", ".join(f"{m} {d} {e:.3f}°" for (d, m), e in errors.items()))
    return errors


def test_raw_capture_decodes_side_by_side_and_as_accurately_as_with_ahd(scenes):
    """A five-shot RAW capture decodes on threads, demosaiced by ``demosaic_mhc`` (the
    default, 8× faster than LibRaw's AHD at 24 MP): the same white balance and the same
    images whether the shots decode one after another or side by side, and normals whose
    mean error on the simulated person (where all flashes light it) is within 0.1° of the
    AHD decode's, one shot after another as captures were read before, with the simulated
    camera's noise and without it. At 512²: at 256² the face is small enough that the
    filters' edge errors at the hairline show (measured +0.11° and +0.12° against AHD; at
    512² +0.03° and +0.05°; a 24 MP capture is finer still)."""
    root = scenes[0]
    face = synthetic.face(FACE_SEED, 512, glasses=False)
    shots = synthetic.capture(face, synthetic.Booth(), synthetic.metered(face, camera=SENSOR),
                              seed=2)
    assert camerafile.DEMOSAIC == "MHC"
    folder = _write(root / "face_raw_decoders", shots, "raw")
    paths = {c: folder / f"{c}.dng" for c in CHANNELS}
    serial = imageio._load_raw(paths, workers=1)
    side_by_side = imageio._load_raw(paths, workers=3)
    before = imageio._load_raw(paths, workers=1, demosaic="AHD")
    assert side_by_side.white_balance == serial.white_balance == before.white_balance
    for c in CHANNELS:
        assert np.array_equal(side_by_side.images[c], serial.images[c])
    noisy = _raw_errors(folder, face, AHD=dict(workers=1, demosaic="AHD"), new={})
    clean = synthetic.capture(face, synthetic.Booth(), synthetic.metered(
        face, camera=render.SensorModel(noise=0.0, bits=None)), seed=2)
    exact = _raw_errors(_write(root / "face_raw_clean", clean, "raw"), face,
                        AHD=dict(workers=1, demosaic="AHD"), new={})
    for method in stereo.METHODS:
        assert abs(noisy["new", method] - noisy["AHD", method]) < 0.1
        assert abs(exact["new", method] - exact["AHD", method]) < 0.1
