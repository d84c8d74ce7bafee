"""``booth.yaml``: the booth's one configuration file, loaded into typed dataclasses and
validated once at start. Unknown keys are errors; every option has a default that works with
the simulated booth.

    camera:  {model: null, port: null, settings: {capturetarget: Internal RAM},
              flash_sync: 1/200, delete_after_download: false, settle_ms: 50}
    flash:   {port: null, timeout_ms: 100, retries: 5, heartbeat_ms: 250}
    capture: {order: [center, left, right, top, bottom], ambient: false, power: 255,
              retries: 2, fired_timeout_ms: 1000}
    sessions: sessions

Why pydantic: the checks are declared next to each field (type, range) instead of in a
hand-written converter, which let strings through where numbers belong; its errors name the
field (``flash.retries``), which :func:`photometric.files.describe` turns into one line. Its
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

from photometric.errors import InputError
from photometric.files import describe, read_yaml
from photometric.lights import CHANNELS, Channel, check_keys, schema_error

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


Text = Annotated[str, Field(strict=True)]
Count = Annotated[int, Field(strict=True, ge=1)]
Millis = Annotated[int, Field(strict=True, gt=0)]
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
    port: Text | None = None
    settings: dict[Text, Setting] = field(default_factory=dict)
    flash_sync: Shutter = "1/200"
    delete_after_download: Annotated[bool, Field(strict=True)] = False
    # Wait for a RAW/JPEG twin; 0 when the camera saves JPEG only.
    settle_ms: Annotated[int, Field(strict=True, ge=0)] = 50

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
    port: Text | None = None
    timeout_ms: Millis = 100
    retries: Count = 5
    heartbeat_ms: Millis = 250


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
    retries: Count = 2  # after the first attempt
    fired_timeout_ms: Millis = 1000


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
