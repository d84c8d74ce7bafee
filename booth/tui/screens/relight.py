"""Portrait and relighting: open a capture or any photo and relight it live by keys.

The normals are the capture's own (photometric stereo) or predicted by a model; loading runs
in a thread (prediction takes seconds). The light is a :class:`booth.live_light.LiveLight`;
each key re-renders a small copy of the portrait (:func:`booth.live_light.preview`) in the UI
thread, a few milliseconds, so the picture follows the keys. ``w`` saves the picture and
``o`` the light orbit (GIF, MP4) at full size with ``booth relight``'s own writer.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select

from booth.live_light import INTENSITY_STEP, STEP_DEG, LiveLight, preview
from booth.tui.widgets.thumbs import AutoImage, HalfcellImage
from photometric import response
from photometric.errors import InputError

MEASURED = "measured"
PREVIEW_SIDE = {"cells": 160, "auto": 320}
ORBIT_FRAMES = 48


def normals_choices(work: Path) -> list[tuple[str, str]]:
    """The normals a portrait can be relit with: a capture's own, a shipped model's, or a run's
    under ``WORK/runs`` (its best checkpoint)."""
    from learning.prediction import SHIPPED, shipped

    out = [("capture's own (photometric stereo)", MEASURED)]
    for name in SHIPPED:
        try:
            shipped(name)
        except InputError:
            continue  # not in this copy (the portrait model before it first shipped)
        out.append((f"predicted: {name} model", name))
    runs = sorted(p for p in (work / "runs").glob("*") if (p / "best.safetensors").is_file())
    return out + [(f"predicted: run {p.name}", str(p)) for p in runs]


class Stage(Vertical, can_focus=True):
    """The relit picture; focused, it takes the light's keys."""


class RelightScreen(Screen):
    BINDINGS = [
        ("escape", "app.pop_screen", "Back"),
        ("left", "move(-1, 0)", "Light left"), ("right", "move(1, 0)", "right"),
        ("up", "move(0, 1)", "up"), ("down", "move(0, -1)", "down"),
        ("plus,equals_sign", "scale(1)", "Brighter"), ("minus", "scale(-1)", "Dimmer"),
        ("p", "preset", "Preset"), ("h", "shadows", "Shadows"), ("g", "gloss", "Specular"),
        ("w", "save", "Save picture"), ("o", "orbit", "Save orbit"),
    ]

    def __init__(self, work: Path, source: str = "", normals: str = MEASURED) -> None:
        super().__init__()
        self.work = Path(work)
        self.source = source
        self.normals = normals
        self.portrait = None
        self.relighter = None
        self.light = LiveLight()
        self.frame: np.ndarray | None = None
        self.render_ms: list[float] = []
        self.saved: Path | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="relight-form"):
            yield Input(self.source, placeholder="a capture folder or a photo", id="source")
            yield Select(normals_choices(self.work), value=self.normals, allow_blank=False,
                         id="normals")
            yield Button("Open", id="open", variant="primary")
        yield Label("open a capture or a photo", id="relight-status")
        with Stage(id="stage"):
            cls = {"auto": AutoImage, "cells": HalfcellImage}.get(self.app.image_mode)
            if cls is not None:
                yield cls(None, id="relit")
            else:
                yield Label("pictures are off (--images none): saved files only", id="relit")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Portrait and relighting"
        if self.source:
            self.open()

    # -- loading --------------------------------------------------------------------------
    @on(Button.Pressed, "#open")
    @on(Input.Submitted)
    def open(self) -> None:
        self.source = self.query_one("#source", Input).value.strip()
        self.normals = str(self.query_one("#normals", Select).value)
        if not self.source:
            self.app.report("give a capture folder or a photo", "warning")
            return
        self.query_one("#relight-status", Label).update(f"opening {self.source}…")
        self._load(self.source, self.normals)

    @work(thread=True, exclusive=True, group="relight-load")
    def _load(self, source: str, normals: str) -> None:
        from booth import lighting
        from booth.capture_review import pictures

        path = Path(source)
        try:
            if normals == MEASURED:
                if not path.is_dir():
                    raise InputError(f"{source}: a photo has no measured normals; choose a "
                                     "model to predict them")
                portrait = lighting.load_capture(path, None, None)
            else:
                photo = pictures(path).get("center") if path.is_dir() else path
                if photo is None:
                    raise InputError(f"{source}: no ring-flash photo (center.*) to predict from")
                portrait = lighting.load_portrait(photo, None, None, True, normals)
        except (InputError, OSError) as exc:
            self.app.call_from_thread(self._failed, str(exc))
            return
        self.app.call_from_thread(self._loaded, portrait)

    def _failed(self, error: str) -> None:
        self.query_one("#relight-status", Label).update(f"cannot open: {error}")
        self.app.report(error, "error")

    def _loaded(self, portrait) -> None:
        self.portrait = portrait
        self.relighter = preview(portrait, PREVIEW_SIDE.get(self.app.image_mode, 160))
        self.app.report(f"relighting {self.source} ({portrait.source.get('normals')})")
        self.query_one("#stage", Stage).focus()
        self.redraw()

    # -- the light's keys -----------------------------------------------------------------
    def action_move(self, d_az: int, d_el: int) -> None:
        if not self.light.movable:
            self.app.report(f"{self.light.preset}: the arrows move the key light (p: presets)",
                            "warning")
            return
        self.light = self.light.moved(d_az * STEP_DEG, d_el * STEP_DEG)
        self.redraw()

    def action_scale(self, sign: int) -> None:
        self.light = self.light.scaled(INTENSITY_STEP if sign > 0 else 1 / INTENSITY_STEP)
        self.redraw()

    def action_preset(self) -> None:
        self.light = self.light.next_preset()
        self.redraw()

    def action_shadows(self) -> None:
        self.light = replace(self.light, shadows=not self.light.shadows)
        self.redraw()

    def action_gloss(self) -> None:
        self.light = replace(self.light, specular=not self.light.specular)
        self.redraw()

    def redraw(self) -> None:
        if self.relighter is None:
            return
        t = time.perf_counter()
        linear = self.relighter.render(self.light.scene(self.portrait.rig))
        self.frame = response.to_srgb8(linear)
        widget = self.query_one("#relit")
        if hasattr(widget, "image"):
            from PIL import Image

            widget.image = Image.fromarray(self.frame)
        self.render_ms.append(1000 * (time.perf_counter() - t))
        where = f"   saved: {self.saved}" if self.saved else ""
        self.query_one("#relight-status", Label).update(
            f"{self.source}: normals {self.portrait.source.get('normals')}\n"
            f"{self.light.describe()}{where}")

    # -- saving ---------------------------------------------------------------------------
    def action_save(self) -> None:
        self._save(0)

    def action_orbit(self) -> None:
        self._save(ORBIT_FRAMES)

    @work(thread=True, group="relight-save")
    def _save(self, orbit: int) -> None:
        from booth import lighting

        if self.portrait is None:
            self.app.call_from_thread(self.app.report, "open a portrait first", "warning")
            return
        src = Path(self.source)
        name = (src.name if src.is_dir() else src.stem) or "portrait"
        out = self.work / "relit" / (f"{name}-orbit" if orbit else name)
        what = "the orbit" if orbit else "the picture"
        self.app.call_from_thread(self.app.report, f"saving {what} into {out}…")
        try:
            lighting.run(self.portrait, self.light.scene(self.portrait.rig),
                         lighting.output(out), orbit)
        except (InputError, OSError) as exc:
            self.app.call_from_thread(self.app.report, str(exc), "error")
            return
        self.saved = out / ("orbit.gif" if orbit else "relit.png")
        self.app.call_from_thread(self.app.report, f"saved {self.saved}")
        self.app.call_from_thread(self.redraw)
