"""What an operator does at the booth, as functions both front ends call: the ``booth``
command line and the Textual app hold no workflow of their own, only how they show it.

* :func:`open_session` - create (or reopen) a session, recording the config it runs with.
* :func:`capture_subject` - capture a subject, then the normal map and QC of a complete
  capture (:func:`booth.processing.process_capture`).
* :func:`calibrate_session` - photograph the sphere, fit it, write ``calibration.yaml``
  beside the photos, and (if asked) make it the session's.

The hardware is a :class:`~booth.station.Station`; the math is :mod:`photometric`'s.
A failure after the photos are safely stored (a normal map that cannot be computed, a sphere
that is not found) comes back in the outcome's ``error``, with the capture, so that each
front end can say both what was stored and what went wrong.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from booth.config import BoothConfig, as_dict
from booth.processing import Processed, process_capture
from booth.sequencer import CaptureEvent, CaptureResult
from booth.session import CALIBRATION_FILE, Session, SessionStore
from photometric.calibration import Calibration, Circle, calibrate
from photometric.errors import InputError
from photometric.io import imageio
from photometric.io.files import check_output_file, make_dir, write_text

OnEvent = Callable[[CaptureEvent], None] | None


CALIBRATE_COMMAND = "calibrate"


def open_session(root: str | Path, name: str, operator: str = "",
                 config: BoothConfig | None = None) -> Session:
    """The session ``name`` under ``root``, created with the config snapshot if new."""
    return SessionStore(root).create_session(name, operator=operator,
                                             config=as_dict(config or BoothConfig()))


@dataclass
class CaptureOutcome:
    """A capture (``capture``), its processing when it completed (``processed``), and the
    processing's failure if it had one (``error``: the photos are stored regardless)."""

    capture: CaptureResult
    processed: Processed | None = None
    error: Exception | None = None

    @property
    def error_text(self) -> str:
        return "" if self.error is None else (str(self.error) or type(self.error).__name__)


@dataclass
class CalibrationOutcome:
    """A sphere capture and, when it completed and fitted, its calibration and file."""

    capture: CaptureResult
    calibration: Calibration | None = None
    file: Path | None = None
    error: Exception | None = None

    @property
    def calibration_id(self) -> str:
        return self.capture.path.name

    @property
    def error_text(self) -> str:
        return "" if self.error is None else (str(self.error) or type(self.error).__name__)


def capture_subject(station, session: Session, subject: str, supersedes: str | None = None,
                    on_event: OnEvent = None, cancel: threading.Event | None = None,
                    ambient: bool = False, process: bool = True) -> CaptureOutcome:
    """Capture ``subject`` (recorded consent needed; a retake names the capture it
    supersedes), then, if it completed and ``process``, its normal map and QC. The
    session's calibration is checked first: one that cannot be used refuses the capture
    rather than leave the sitter's photos without a normal map."""
    cal = session.calibration_file() if process else None
    if cal is not None:
        Calibration.load(cal)
    result = station.capture(session, subject, supersedes, on_event, cancel, ambient=ambient)
    out = CaptureOutcome(result)
    if process and result.status == "complete":
        if on_event is not None:
            on_event(CaptureEvent("processing", message="normal map and quality checks"))
        try:
            out.processed = process_capture(result.path)
        except Exception as exc:  # noqa: BLE001 - the photos are stored; the caller says so
            out.error = exc
    return out


def calibrate_session(station, session: Session, on_event: OnEvent = None,
                      cancel: threading.Event | None = None,
                      use: bool = False, ambient: bool = False) -> CalibrationOutcome:
    """Photograph the calibration sphere and fit it; the fit is written atomically beside
    the photos (``calibration.yaml``). ``use`` makes it the session's calibration at once
    (the command line); the app asks the operator first."""

    result = station.capture_sphere(session, on_event, cancel, ambient=ambient)
    out = CalibrationOutcome(result)
    if result.status != "complete":
        return out
    file = result.path / CALIBRATION_FILE
    try:
        out.calibration = calibrate_folder(result.path, file)
    except Exception as exc:  # noqa: BLE001 - the sphere photos are stored; say what failed
        out.error = exc
        return out
    out.file = file
    if use:
        session.set_calibration(out.calibration_id)
    return out


# -- calibrating on a sphere capture folder (``booth calibrate``) ---------------------------
def is_calibration(path: Path) -> bool:
    """Whether ``path`` holds a calibration this tool wrote (it loads as one)."""
    try:
        Calibration.load(path)
    except (InputError, OSError):
        return False
    return True


def check_calibration_out(out: str | Path) -> Path:
    """Refuse, before any work, an ``--out`` that is neither new nor a calibration."""
    return check_output_file(out, CALIBRATE_COMMAND, is_calibration)


def calibrate_folder(sphere_dir: str | Path, out: str | Path,
                     circle: str | None = None) -> Calibration:
    """Calibrate from a sphere capture folder and write the calibration YAML to ``out``.

    Camera JPEGs are calibrated on their code values, so the camera's response is fitted
    with the lights; RAW and linear PNG/TIFF shots are linear already and keep sRGB's
    inverse for JPEGs read later (the calibration says it was not fitted)."""
    out = check_calibration_out(out)
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
    check_calibration_out(out)  # still not somebody else's file after the fit
    write_text(out, yaml.safe_dump(cal.to_dict(), sort_keys=False))
    return cal
