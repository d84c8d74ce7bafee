"""One sitting of one simulated person, in booth or portrait light, and the record of every
choice it made, from which the same pictures render again bit for bit.

:func:`choose` draws the choices for person ``pid``'s sitting ``take`` (who they are, how
they sit, what they wear, their hair, and for portrait light the scene); :func:`render`
renders a record of choices (as :func:`choose` made them, or as read back from a file);
:func:`sit` does both. Booth light gives the five flash photos (linear, as
:func:`photometric.sim.synthetic.capture` renders them); portrait light the one picture a
camera saves (8-bit sRGB, :mod:`photometric.sim.portrait`). Either way the surface holds
the truth, the same for both lights when the view is the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from photometric.render import SensorModel, Surface
from photometric.sim import (
    beard,
    clothes,
    glasses,
    hair,
    paint,
    people,
    portrait,
    skin,
    synthetic,
)

LIGHTINGS = ("booth", "portrait")


@dataclass
class Sitter:
    """What :func:`render` gives: the ``surface`` (the truth), the ``images`` (booth: the
    five flash photos, linear float; portrait: ``{"portrait": sRGB uint8}``), the
    ``record`` of choices that made them, and for a portrait the JPEG file saved."""

    surface: Surface
    images: dict[str, np.ndarray]
    record: dict[str, Any]
    jpeg: bytes | None = None


def _plain(obj: Any) -> Any:
    """A dataclass or tuple as YAML-safe built-ins (tuples as lists, floats as floats)."""
    if dataclasses.is_dataclass(obj):
        return {f.name: _plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, tuple | list):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.floating | float):
        return float(obj)
    if isinstance(obj, np.integer | int) and not isinstance(obj, bool):
        return int(obj)
    return obj


def _tuples(obj: Any) -> Any:
    """Lists back to tuples, nested (the dataclasses hold tuples)."""
    if isinstance(obj, list):
        return tuple(_tuples(v) for v in obj)
    return obj


def _build(cls, data: dict[str, Any]):
    return cls(**{k: _tuples(v) for k, v in data.items()})


def check(record: dict[str, Any]) -> None:
    """Raise (TypeError, ValueError, KeyError) unless every part of ``record`` builds."""
    _build(people.Person, record["person"])
    _build(people.Sitting, record["sitting"])
    _build(clothes.Garment, record["garment"])
    _build(hair.Hairstyle, record["hair"])
    if record.get("glasses") is not None:
        _build(glasses.Glasses, record["glasses"])
    if record.get("beard") is not None:
        _build(beard.Beard, record["beard"])
    if record["lighting"] == "portrait":
        _build(portrait.Scene, record["scene"])


def choose(pid: int, take: int = 0, lighting: str = "booth") -> dict[str, Any]:
    """Every choice for person ``pid``'s sitting ``take`` in ``lighting``, as a record."""
    if lighting not in LIGHTINGS:
        raise ValueError(f"lighting: expected one of {', '.join(LIGHTINGS)}, got {lighting!r}")
    who = people.person(pid)
    record: dict[str, Any] = {
        "id": int(pid), "take": int(take), "lighting": lighting, "person": _plain(who),
        "sitting": _plain(people.sitting(who, take, portrait=lighting == "portrait")),
        "garment": _plain(synthetic.person_garment(pid)),
        "hair": _plain(synthetic.grown_hair(pid)[0]),
        "glasses": _plain(synthetic.glasses_of(pid)),
        "beard": _plain(synthetic.beard_of(pid)),
    }
    if lighting == "portrait":
        scene = portrait.draw(np.random.default_rng(people.stable_seed("scene", pid, take)))
        record["scene"] = _plain(scene)
    return record


_cache: dict[str, Any] = {}


def _person_assets(who: people.Person, style: hair.Hairstyle):
    """The person's painted skin and their hair grown on their rest head (kept for a few
    people: a person's next sittings reuse them)."""
    key = repr((_plain(who), _plain(style)))
    if key not in _cache:
        sk = skin.draw(who.skin_seed, who.phenotype, who.fitzpatrick)
        texture = paint.paint(people.template(), sk)
        rest = people.mesh(who).rest[people.bust().head]
        grown = hair.grow(rest, style, sk.hairline, sk.recession, sk.sideburn)
        if grown is not None:
            grown = hair.outward(grown, hair.head_centre(rest))
        while len(_cache) >= 4:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (texture, grown, rest)
    return _cache[key]


def surface(record: dict[str, Any], size: int = 512, specular: float = 0.0
            ) -> tuple[Surface, np.ndarray | None]:
    """The surface (the truth) a record of choices puts before the camera at ``size``²: the
    booth's camera in booth light, the scene's in portrait light (and where that camera
    stands; None for the booth's)."""
    who = _build(people.Person, record["person"])
    sitting = _build(people.Sitting, record["sitting"])
    garment = _build(clothes.Garment, record["garment"])
    style = _build(hair.Hairstyle, record["hair"])
    texture, grown, _ = _person_assets(who, style)
    spectacles = whiskers = None
    if record.get("glasses") is not None:
        spectacles = _build(glasses.Glasses, record["glasses"])
    if record.get("beard") is not None:
        whiskers = _build(beard.Beard, record["beard"])
    view = None
    if record["lighting"] == "portrait":
        view = portrait.view(_build(portrait.Scene, record["scene"]), size)
    found = synthetic.sitting_surface(who, sitting, garment, texture, style, grown,
                                      spectacles, whiskers, size, specular, view)
    return found, None if view is None else view[1]


def render(record: dict[str, Any], size: int = 512, noise: float = 0.003,
           ambient: bool = False) -> Sitter:
    """The pictures and truth a record of choices makes, at ``size``² (booth light: metered
    for the skin, sensor ``noise``, the ``ambient`` frame; portrait light: the scene's own
    camera and finish)."""
    subject, eye = surface(record, size)
    if record["lighting"] == "portrait":
        data = portrait.jpeg(subject, _build(portrait.Scene, record["scene"]), eye)
        picture = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        return Sitter(subject, {"portrait": cv2.cvtColor(picture, cv2.COLOR_BGR2RGB)},
                      record, data)
    booth = synthetic.Booth()
    camera = synthetic.metered(subject, booth, SensorModel(noise=noise))
    return Sitter(subject, synthetic.capture(subject, booth, camera, ambient,
                                             int(record["id"])), record)


def sit(pid: int, take: int = 0, lighting: str = "booth", size: int = 512,
        noise: float = 0.003, ambient: bool = False) -> Sitter:
    """Person ``pid``'s sitting ``take`` in ``lighting``: :func:`render` of :func:`choose`."""
    return render(choose(pid, take, lighting), size, noise, ambient)
