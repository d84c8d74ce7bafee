"""``booth.yaml``: the booth's one configuration file, loaded into typed dataclasses and
validated once at start. Unknown keys are errors; every option has a default that works with
the simulated booth.

    camera:  {model: null, port: null, settings: {capturetarget: Internal RAM},
              flash_sync: 1/200, delete_after_download: false, settle_ms: 50}
    flash:   {port: null, timeout_ms: 100, retries: 5, heartbeat_ms: 250}
    capture: {order: [center, left, right, top, bottom], ambient: false, power: 255,
              retries: 2, fired_timeout_ms: 1000}
    sessions: sessions

Every time and count has an upper bound as well as a lower one (in each field's comment): a
value no booth needs (``heartbeat_ms: 99999999999999999999``) would otherwise pass here and
fail later inside a thread, as a traceback.

Why pydantic: the checks are declared next to each field (type, range) instead of in a
hand-written converter, which let strings through where numbers belong; its errors name the
field (``flash.retries``), which :func:`photometric.io.schema.describe` turns into one line. Its
*dataclasses* keep the plain attribute API (``cfg.flash.timeout_ms``), ``BoothConfig()``
and ``dataclasses.asdict``. Scalars are strict (``retries: "5"`` is an error, not 5); only
camera settings and ``flash_sync`` take a number too, since YAML reads ``iso: 100`` and
``flash_sync: 1`` as numbers and the camera wants their text.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import field
from pathlib import Path
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

from booth.options import port_problem
from photometric.errors import InputError
from photometric.io.files import read_yaml
from photometric.io.rigfile import Channel
from photometric.io.schema import check_keys, describe, schema_error
from photometric.lights import CHANNELS

#: Shutter speeds the booth accepts, in seconds: 1/8000 s to 30 s.
SHUTTER_MIN_S = 1 / 8000
SHUTTER_MAX_S = 30.0
_SHUTTER = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(?:/(\d+(?:\.\d*)?|\.\d+))?s?")


def exposure_seconds(text: object) -> float:
    """'1/200', '1/200s', '0.005', '0.0050s', '2' (or the number 2) -> seconds; ValueError
    saying what was expected otherwise, or outside 1/8000 s to 30 s. The one parser for
    ``flash_sync`` and the ``shutterspeed`` camera setting, whatever the back end."""
    t = str(text).strip().replace(" ", "") if not isinstance(text, bool) else ""
    m = _SHUTTER.fullmatch(t)
    if m is None:
        raise ValueError("expected a shutter speed such as '1/200', '0.5' or '1' (seconds)")
    num, den = float(m[1]), float(m[2] or 1)
    if den == 0 or num == 0:
        raise ValueError("expected a shutter speed such as '1/200', not zero")
    s = num / den
    if not (math.isfinite(s) and SHUTTER_MIN_S * (1 - 1e-9) <= s <= SHUTTER_MAX_S * (1 + 1e-9)):
        raise ValueError("expected a shutter speed from 1/8000 s to 30 s")
    return s


def _shutter_text(v: object) -> object:
    """A shutter speed kept as its text ('1/200'), checked with :func:`exposure_seconds`."""
    if isinstance(v, int | float) and not isinstance(v, bool):
        v = str(v)
    if isinstance(v, str):
        try:
            exposure_seconds(v)
        except ValueError as exc:
            raise schema_error(str(exc)) from None
    return v


def _setting_text(v: object) -> object:
    """A camera setting's value as text: ``iso: 100`` is read by YAML as the number 100."""
    return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def _flash_port(v: str) -> str:
    """The flash controller's port, by the rule ``--port`` follows (one function)."""
    problem = port_problem(v)
    if problem is not None:
        raise schema_error(problem)
    return v


_GPHOTO2_PORT = re.compile(r"[A-Za-z][A-Za-z0-9]*:.*")


def _camera_port(v: str) -> str:
    """A libgphoto2 port ('usb:001,005', 'serial:/dev/ttyS0', 'ptpip:10.0.0.2'): only its
    form is checked (the camera is matched against libgphoto2's own list of ports)."""
    if not _GPHOTO2_PORT.fullmatch(v):
        raise schema_error(f"expected a libgphoto2 port such as 'usb:001,005' or "
                           f"'serial:/dev/ttyS0' (`gphoto2 --auto-detect` lists them), got {v!r}")
    return v


#: The longest wait any setting may ask for: a minute (a flash recycles in seconds).
MAX_MS = 60_000
#: The most retries any setting may ask for.
MAX_RETRIES = 100

Text = Annotated[str, Field(strict=True)]
Count = Annotated[int, Field(strict=True, ge=1, le=MAX_RETRIES)]
Millis = Annotated[int, Field(strict=True, gt=0, le=MAX_MS)]
Shutter = Annotated[str, Field(strict=True), BeforeValidator(_shutter_text)]
Setting = Annotated[str, Field(strict=True), BeforeValidator(_setting_text)]
_CONFIG = ConfigDict(extra="forbid")


def _section(cls: type, what: str):
    """A section of the file: empty (``camera:``) means all defaults; keys checked."""
    def check(data: object) -> object:
        return check_keys({} if data is None else data, cls, f"a mapping of {what}")
    return Annotated[cls, BeforeValidator(check)]


@dataclass(config=_CONFIG)
class CameraSection:
    model: Text | None = None
    port: Annotated[Text, AfterValidator(_camera_port)] | None = None  # libgphoto2's form
    settings: dict[Text, Setting] = field(default_factory=dict)
    flash_sync: Shutter = "1/200"
    delete_after_download: Annotated[bool, Field(strict=True)] = False
    # Wait for a RAW/JPEG twin, 0..10000 ms; 0 when the camera saves JPEG only.
    settle_ms: Annotated[int, Field(strict=True, ge=0, le=10_000)] = 50

    @model_validator(mode="after")
    def _shutter_not_faster_than_sync(self) -> CameraSection:
        """Checked here so that every back end, simulated included, refuses it."""
        value = self.settings.get("shutterspeed")
        if value is not None:
            try:
                shutter = exposure_seconds(value)
            except ValueError as exc:
                raise schema_error(f"settings.shutterspeed: {exc}, got {value!r}") from None
            if shutter < exposure_seconds(self.flash_sync):
                raise schema_error(
                    f"settings.shutterspeed {value} is faster than flash_sync "
                    f"{self.flash_sync}: the flash would light only part of the frame; use a "
                    "slower shutter speed")
        return self


@dataclass(config=_CONFIG)
class FlashSection:
    port: Annotated[Text, AfterValidator(_flash_port)] | None = None  # as --port
    timeout_ms: Millis = 100  # a reply's wait, 1..60000 ms
    retries: Count = 5  # tries per command, 1..100
    heartbeat_ms: Millis = 250  # 1..60000 ms


def _all_channels(order: list[str]) -> list[str]:
    if sorted(order) != sorted(CHANNELS):
        raise schema_error(f"must list each of the five flashes {list(CHANNELS)} once, in any "
                           f"order (photometric stereo needs all five), got {order}")
    return order


@dataclass(config=_CONFIG)
class CaptureSection:
    order: Annotated[list[Channel], AfterValidator(_all_channels)] = field(
        default_factory=lambda: list(CHANNELS))
    ambient: Annotated[bool, Field(strict=True)] = False
    power: Annotated[int, Field(strict=True, ge=0, le=255)] = 255
    retries: Count = 2  # after the first attempt, 1..100
    fired_timeout_ms: Millis = 1000  # wait for the FIRED event, 1..60000 ms


def _non_blank(v: str) -> str:
    if not v.strip():
        raise schema_error("expected a folder name, got an empty one")
    return v


Camera = _section(CameraSection, "camera settings")
Flash = _section(FlashSection, "flash controller settings")
Capture = _section(CaptureSection, "capture settings")


@dataclass(config=_CONFIG)
class BoothConfig:
    camera: Camera = field(default_factory=CameraSection)
    flash: Flash = field(default_factory=FlashSection)
    capture: Capture = field(default_factory=CaptureSection)
    sessions: Annotated[Text, AfterValidator(_non_blank)] = "sessions"


_FILE = TypeAdapter(_section(BoothConfig, "booth settings (camera, flash, capture, sessions)"))


def load_config(path: str | Path | None) -> BoothConfig:
    """The configuration in ``path`` (defaults throughout when ``path`` is None)."""
    if path is None:
        return BoothConfig()
    data = read_yaml(path)
    try:
        return _FILE.validate_python(data)
    except ValidationError as exc:
        raise InputError(describe(exc, str(path))) from None


def as_dict(cfg: BoothConfig) -> dict:
    """The configuration as plain data (the snapshot recorded in session.yaml)."""
    return dataclasses.asdict(cfg)
