"""photometric.pipeline: the one chain from a capture folder to its normals, which booth
normals, derived/, the export and booth relight all call."""

from __future__ import annotations

import numpy as np
import pytest

from photometric import pipeline, stereo
from photometric.errors import InputError
from photometric.io import imageio
from photometric.lights import CHANNELS, nominal_rig


@pytest.fixture(scope="module")
def folder(tmp_path_factory, face_images):
    d = tmp_path_factory.mktemp("capture")
    for name in CHANNELS:
        imageio.write_image(d / f"{name}.png", imageio.to_uint(face_images[name], 16))
    return d


def test_solve_capture_is_load_then_solve(folder, calibration):
    solved = pipeline.solve_capture(folder, "lambertian", calibration)
    loaded = imageio.load_capture(folder, calibration.response)
    direct = stereo.solve(loaded.images, "lambertian", calibration.rig,
                          calibration.simplified, white_level=loaded.white_level)
    np.testing.assert_array_equal(solved.result.normals, direct.normals)
    np.testing.assert_array_equal(solved.result.mask, direct.mask)
    assert solved.loaded.source == "linear"


def test_a_lights_rig_replaces_the_calibrations_lights_and_coefficients(folder, calibration):
    rig = nominal_rig()
    solved = pipeline.solve_capture(folder, "simplified", calibration, rig)
    direct = stereo.solve(pipeline.load_capture(folder).images, "simplified", rig, None)
    np.testing.assert_array_equal(solved.result.normals, direct.normals)
    with_cal = pipeline.solve_capture(folder, "simplified", calibration)
    assert not np.array_equal(with_cal.result.normals, solved.result.normals)


def test_errors_name_the_folder(folder, tmp_path):
    dark = tmp_path / "dark"
    dark.mkdir()
    for name in CHANNELS:
        imageio.write_image(dark / f"{name}.png", np.zeros((32, 32, 3), np.uint16))
    with pytest.raises(InputError, match=str(dark)):
        pipeline.solve_capture(dark)
