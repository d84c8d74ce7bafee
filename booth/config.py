"""``booth.yaml``: the booth's one configuration file, loaded into typed dataclasses and
validated once at start. Unknown keys are errors; every option has a default that works with
the simulated booth.

    camera:  {model: null, port: null, settings: {capturetarget: Internal RAM},
              flash_sync: 1/200, delete_after_download: false, settle_ms: 50}
    flash:   {port: null, timeout_ms: 100, retries: 5, heartbeat_ms: 250}
    capture: {order: [center, left, right, top, bottom], ambient: false, power: 255,
              retries: 2, fired_timeout_ms: 1000}
    sessions: sessions
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

from photometric.errors import InputError
from photometric.lights import CHANNELS, read_yaml


@dataclass
class CameraSection:
    model: str | None = None
    port: str | None = None
    settings: dict[str, str] = field(default_factory=dict)
    flash_sync: str = "1/200"
    delete_after_download: bool = False
    settle_ms: int = 50  # wait for a RAW/JPEG twin; 0 when the camera saves JPEG only


@dataclass
class FlashSection:
    port: str | None = None
    timeout_ms: int = 100
    retries: int = 5
    heartbeat_ms: int = 250


@dataclass
class CaptureSection:
    order: list[str] = field(default_factory=lambda: list(CHANNELS))
    ambient: bool = False
    power: int = 255
    retries: int = 2
    fired_timeout_ms: int = 1000


@dataclass
class BoothConfig:
    camera: CameraSection = field(default_factory=CameraSection)
    flash: FlashSection = field(default_factory=FlashSection)
    capture: CaptureSection = field(default_factory=CaptureSection)
    sessions: str = "sessions"

    def validate(self, source: str) -> BoothConfig:
        order = self.capture.order
        if sorted(order) != sorted(set(order)) or not set(order) <= set(CHANNELS) or not order:
            raise InputError(f"{source}: capture.order must list distinct flashes from "
                             f"{list(CHANNELS)}, got {order}")
        if not 0 <= self.capture.power <= 255:
            raise InputError(f"{source}: capture.power must be 0..255")
        for name in ("retries", "fired_timeout_ms"):
            if getattr(self.capture, name) < 0:
                raise InputError(f"{source}: capture.{name} must not be negative")
        return self


def _convert(value, hint, where: str):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where)
    if origin is list:
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {value!r}")
        (item,) = typing.get_args(hint)
        return [_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a mapping, got {value!r}")
        return {str(k): str(v) for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected a whole number, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise InputError(f"{where}: expected text, got {value!r}")
        return str(value)
    return value


def _build(cls, data, where: str):
    if data is None:
        return cls()
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise InputError(f"{where}: unknown key(s) {unknown}; expected {sorted(names)}")
    return cls(**{k: _convert(v, hints[k], f"{where}.{k}") for k, v in data.items()})


def load_config(path: str | Path | None) -> BoothConfig:
    """The configuration in ``path`` (defaults throughout when ``path`` is None)."""
    if path is None:
        return BoothConfig()
    return _build(BoothConfig, read_yaml(path), str(path)).validate(str(path))
