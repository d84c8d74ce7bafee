"""``booth calibrate``: fit the camera response (camera JPEGs), lights and the simplified
method's coefficients on a sphere capture.

The calibration YAML is written atomically; an existing file is replaced only when it is a
calibration itself (it parses as one), so ``--out`` pointed at a user's file by mistake
changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from photometric.calibration import Calibration, Circle, calibrate
from photometric.errors import InputError
from photometric.io import imageio
from photometric.io.files import check_output_file, make_dir, write_text

COMMAND = "calibrate"


def is_calibration(path: Path) -> bool:
    """Whether ``path`` holds a calibration this tool wrote (it loads as one)."""
    try:
        Calibration.load(path)
    except (InputError, OSError):
        return False
    return True


def check_out(out: str | Path) -> Path:
    return check_output_file(out, COMMAND, is_calibration)


def calibrate_folder(sphere_dir: str | Path, out: str | Path,
                     circle: str | None = None) -> Calibration:
    """Calibrate from a sphere capture folder and write the calibration YAML to ``out``.

    Camera JPEGs are calibrated on their code values, so the camera's response is fitted
    with the lights; RAW and linear PNG/TIFF shots are linear already and keep sRGB's
    inverse for JPEGs read later (the calibration says it was not fitted)."""
    out = check_out(out)
    loaded = imageio.load_capture(sphere_dir)
    try:
        parsed = Circle.parse(circle) if circle is not None else None
        if loaded.source == "jpeg" and loaded.codes is not None:
            cal = calibrate(loaded.codes, parsed, encoded=True)
        else:
            cal = calibrate(loaded.images, parsed, white_level=loaded.white_level)
    except InputError as exc:
        raise InputError(f"{sphere_dir}: {exc}") from None
    if out.parent != Path(""):
        make_dir(out.parent)
    check_out(out)  # still not somebody else's file after the fit
    write_text(out, yaml.safe_dump(cal.to_dict(), sort_keys=False))
    return cal
