"""The live hardware panel: controller, each flash, camera, disk."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from booth.diagnostics import MIN_FREE_BYTES
from booth.station import HardwareStatus
from photometric.lights import CHANNELS


def describe(st: HardwareStatus | None) -> Text:
    t = Text()
    if st is None:
        t.append("connecting to the booth…", style="dim")
        return t
    t.append("Controller ", style="bold")
    if st.controller:
        t.append("● connected", style="green")
        t.append(f"  firmware {st.firmware}  ({st.backend})\n")
    else:
        t.append("✗ " + (st.controller_error or "not connected"), style="red")
        t.append("\n")
    t.append("Flashes    ", style="bold")
    for ch in CHANNELS:
        if ch not in st.ready:
            t.append(f"{ch} ?  ", style="dim")
        elif st.armed == ch:
            t.append(f"{ch} armed  ", style="yellow")
        elif st.ready[ch]:
            t.append(f"{ch} ready  ", style="green")
        else:
            t.append(f"{ch} recycling  ", style="yellow")
    t.append("\n")
    t.append("Camera     ", style="bold")
    if st.camera_error:
        t.append("✗ " + st.camera_error, style="red")
    else:
        t.append(st.camera or "?")
    t.append("\n")
    if st.settings:
        t.append("Settings   ", style="bold")
        t.append(", ".join(f"{k} {v}" for k, v in st.settings.items()))
        t.append("\n")
    t.append("Disk       ", style="bold")
    low = st.free_bytes < MIN_FREE_BYTES
    t.append(f"{st.free_bytes / 2**30:.1f} GB free", style="red" if low else "")
    t.append(f" under {st.sessions}")
    return t


class HardwarePanel(Static):
    """Shows the app's latest :class:`HardwareStatus`; the app pushes updates."""

    DEFAULT_CSS = """
    HardwarePanel { border: round $primary; border-title-color: $text; padding: 0 1;
                    height: auto; }
    """

    def on_mount(self) -> None:
        self.border_title = "Hardware"
        self.show(getattr(self.app, "hardware", None))

    def show(self, status: HardwareStatus | None) -> None:
        self.update(describe(status))
