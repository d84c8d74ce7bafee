"""Thumbnails of a capture's photos and its normal map, drawn in the terminal.

textual-image draws with the best the terminal offers (Sixel, Kitty's graphics protocol,
half-cell colour blocks, or Unicode when not on a terminal). It asks the terminal about its
cell size when imported, which must happen before the app starts, so this module is imported
by :mod:`booth.tui.app` up front. ``cells`` forces half-cell blocks: they work in any terminal
with colour, including over ssh and inside tmux.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Label

try:
    from textual_image.widget import HalfcellImage
    from textual_image.widget import Image as AutoImage
except Exception:  # noqa: BLE001 - no image library: show file names instead
    AutoImage = HalfcellImage = None

IMAGE_MODES = ("auto", "cells", "none")


class Thumbnail(Vertical):
    DEFAULT_CSS = """
    Thumbnail { width: 1fr; height: auto; }
    Thumbnail > .thumb-image { width: 100%; height: 12; }
    Thumbnail > Label { width: 100%; content-align: center middle; }
    """

    def __init__(self, title: str, path: Path | Any, mode: str = "auto") -> None:
        """``path``: an image file, or a picture in memory (PIL image, RGB uint8 array)."""
        super().__init__()
        self.title = title
        self.path = path
        self.mode = mode

    def compose(self) -> ComposeResult:
        cls = {"auto": AutoImage, "cells": HalfcellImage}.get(self.mode)
        source = self.path
        if isinstance(source, np.ndarray):
            from PIL import Image

            source = Image.fromarray(source)
        elif isinstance(source, Path):
            source = str(source)
        if cls is not None:
            yield cls(source, classes="thumb-image")
        name = self.path.name if isinstance(self.path, Path) else "in memory"
        yield Label(self.title if cls is not None else f"{self.title}: {name}")


class Thumbnails(Horizontal):
    """One row of labelled thumbnails; :meth:`show` replaces them."""

    DEFAULT_CSS = """
    Thumbnails { height: auto; }
    """

    def __init__(self, mode: str = "auto", **kw) -> None:
        super().__init__(**kw)
        self.mode = mode
        self.paths: dict[str, Any] = {}

    async def show(self, paths: dict[str, Any]) -> None:
        self.paths = dict(paths)
        await self.remove_children()
        await self.mount_all([Thumbnail(t, p, self.mode) for t, p in paths.items()])
