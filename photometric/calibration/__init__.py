"""Calibration on a white matte sphere: where the sphere is (:mod:`.sphere`), the camera
response fitted on it (:mod:`.responsefit`), the lights and simplified coefficients
(:mod:`.fit`), and the calibration file (:mod:`.calibfile`)."""

from photometric.calibration.calibfile import FORMAT_VERSION, Calibration, CalibrationFile
from photometric.calibration.fit import calibrate
from photometric.calibration.responsefit import ResponseFit, fit_response
from photometric.calibration.sphere import Circle, find_sphere, sphere_normals

__all__ = ["FORMAT_VERSION", "Calibration", "CalibrationFile", "Circle", "ResponseFit",
           "calibrate", "find_sphere", "fit_response", "sphere_normals"]
