"""The capture sequencer: one subject under the ring flash and the four directional flashes.

For each shot: make sure the flash has recycled, arm it, trigger the camera (whose X-sync
fires the armed flash), wait for the controller's FIRED event, download exactly the files
the shot added, verify the photo (decodes, same size as the others, neither black nor
clipped, and lit from the side its flash is on), and store it. A failed shot is retried; when
retries run out the capture is aborted cleanly: flashes disarmed, the capture marked aborted
with the reason, its verified photos kept. Nothing unverified is ever filed under a flash's
name. Progress goes out as :class:`CaptureEvent` to whoever listens (the TUI).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from booth.hardware.camera import Camera, CameraError, Photo
from booth.hardware.flash import FlashController, FlashError
from booth.session import Session
from firmware_protocol import messages as m
from photometric.lights import CHANNELS

#: Which part of the frame each flash lights more than the ring flash does: rows, columns.
SIDES = {"left": (slice(None), 0), "right": (slice(None), 2), "top": (0, slice(None)),
         "bottom": (2, slice(None))}


@dataclass
class CaptureConfig:
    order: Sequence[str] = CHANNELS
    ambient: bool = False
    power: int = 255
    retries: int = 2
    fired_timeout_s: float = 1.0
    ready_timeout_s: float = 2.0
    min_free_bytes: int = 200 * 2**20
    dark_level: float = 0.02  # a photo whose 99th percentile is below this is black
    clipped_fraction: float = 0.25  # ... and one with more than this at full scale, clipped


@dataclass
class CaptureEvent:
    kind: str  # preflight, shot, stored, retry, aborted, complete
    channel: str | None = None
    attempt: int = 0
    message: str = ""
    t: float = field(default_factory=time.monotonic)


@dataclass
class CaptureResult:
    path: Path
    status: str
    reason: str = ""
    timings: dict = field(default_factory=dict)


class ShotRejected(RuntimeError):
    """A photo that failed verification."""


class CaptureSequencer:
    def __init__(self, flash: FlashController, camera: Camera, session: Session,
                 config: CaptureConfig | None = None,
                 on_event: Callable[[CaptureEvent], None] | None = None,
                 extra_files: Callable[[], dict[str, bytes]] | None = None):
        self.flash = flash
        self.camera = camera
        self.session = session
        self.config = config or CaptureConfig()
        self.on_event = on_event or (lambda ev: None)
        self.extra_files = extra_files
        self._center: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None

    def _emit(self, kind: str, channel: str | None = None, attempt: int = 0,
              message: str = "") -> None:
        self.on_event(CaptureEvent(kind, channel, attempt, message))

    def preflight(self) -> None:
        """Controller answers, camera connected, room on disk; raises with what to fix."""
        self._emit("preflight", message="flash controller")
        self.flash.status()
        self._emit("preflight", message="camera")
        self.camera.connect()
        free = shutil.disk_usage(self.session.path).free
        if free < self.config.min_free_bytes:
            raise OSError(f"only {free / 2**20:.0f} MB free under {self.session.path}; a "
                          f"capture needs {self.config.min_free_bytes / 2**20:.0f} MB")

    def run(self, subject: str, supersedes: str | None = None) -> CaptureResult:
        self.preflight()
        writer = self.session.begin_capture(subject, supersedes)
        shots = list(self.config.order) + (["ambient"] if self.config.ambient else [])
        timings: dict[str, float] = {}
        attempts_log: list[str] = []
        t0 = time.monotonic()
        self._center = self._shape = None
        for channel in shots:
            for attempt in range(1, self.config.retries + 2):
                self._emit("shot", channel, attempt)
                t = time.monotonic()
                try:
                    photo, fired = self._shoot(channel)
                    img = self._verify(channel, photo)
                except (FlashError, CameraError, ShotRejected) as exc:
                    attempts_log.append(f"{channel} attempt {attempt}: {exc}")
                    self._safe_disarm()
                    if attempt <= self.config.retries:
                        self._emit("retry", channel, attempt, str(exc))
                        continue
                    reason = f"{channel}: {exc}"
                    path = writer.abort(reason, attempts=attempts_log,
                                        timings=self._round(timings))
                    self._emit("aborted", channel, attempt, reason)
                    return CaptureResult(path, "aborted", reason, timings)
                ext = Path(photo.name).suffix.lower() or ".jpg"
                writer.add_shot(channel, f"{channel}{ext}", photo.data,
                                camera_file=f"{photo.folder}/{photo.name}", attempt=attempt,
                                fired_t_us=None if fired is None else fired.t_us)
                if channel == "center":
                    self._center = img
                timings[channel] = time.monotonic() - t
                self._emit("stored", channel, attempt)
                break
        for rel, data in (self.extra_files() if self.extra_files else {}).items():
            writer.add_file(rel, data)
        timings["total"] = time.monotonic() - t0
        path = writer.commit(timings=self._round(timings), attempts=attempts_log,
                             flash=self.flash.port_name, camera=self.camera.description)
        self._emit("complete", message=str(path))
        return CaptureResult(path, "complete", "", timings)

    @staticmethod
    def _round(timings: dict) -> dict:
        return {k: round(v, 4) for k, v in timings.items()}

    def _safe_disarm(self) -> None:
        try:
            self.flash.disarm()
        except FlashError:
            pass

    def _wait_ready(self, ch: int) -> None:
        deadline = time.monotonic() + self.config.ready_timeout_s
        while not self.flash.status().ready_mask >> ch & 1:
            if time.monotonic() > deadline:
                raise FlashError(f"the {m.CHANNELS[ch]} flash did not recycle within "
                                 f"{self.config.ready_timeout_s:.1f} s: check its power")
            time.sleep(0.01)

    def _shoot(self, channel: str) -> tuple[Photo, m.Fired | None]:
        self.flash.clear_events()
        if channel != "ambient":
            ch = m.CHANNELS.index(channel)
            self._wait_ready(ch)
            self.flash.arm(ch, self.config.power)
        photos = self.camera.capture()
        fired = None
        if channel != "ambient":
            fired = self.flash.wait_fired(ch, self.config.fired_timeout_s)
        else:
            stray = [e for e in self.flash.events() if e.type == m.T.FIRED]
            if stray:
                raise ShotRejected("a flash fired during the ambient frame")
        if len(photos) != 1:
            names = ", ".join(p.name for p in photos)
            raise ShotRejected(f"the shot produced {len(photos)} files ({names}); set the "
                               "camera to save one image per shot (JPEG only)")
        return photos[0], fired

    def _verify(self, channel: str, photo: Photo) -> np.ndarray:
        buf = np.frombuffer(photo.data, np.uint8)
        img = cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_4)
        if img is None:
            raise ShotRejected(f"{photo.name} does not decode as an image")
        if self._shape is None:
            self._shape = img.shape
        elif img.shape != self._shape:
            raise ShotRejected(f"{photo.name} is {img.shape[::-1]}, the others "
                               f"{self._shape[::-1]}")
        x = img.astype(np.float32) / 255.0
        if channel != "ambient" and np.percentile(x, 99) < self.config.dark_level:
            raise ShotRejected(f"the {channel} photo is black: did the flash fire?")
        if (x >= 0.995).mean() > self.config.clipped_fraction:
            raise ShotRejected(f"the {channel} photo is clipped: lower flash power or ISO")
        if channel in SIDES and self._center is not None:
            self._check_side(channel, x)
        if channel == "ambient" and self._center is not None:
            if x.mean() > 0.5 * self._center.mean():
                raise ShotRejected("the ambient frame is as bright as a flash photo")
        return x

    def _check_side(self, channel: str, x: np.ndarray) -> None:
        """The flash's side of the subject must be lit more, relative to the ring flash."""
        c = self._center
        lit = c > max(0.05, 0.2 * float(c.max()))
        if lit.sum() < 100:
            return
        ratio = np.where(lit, x / np.maximum(c, 1e-3), np.nan)
        rows, cols = np.nonzero(lit)
        r0, r1 = np.percentile(rows, [33, 67])
        c0, c1 = np.percentile(cols, [33, 67])
        thirds_r = [rows < r0, (rows >= r0) & (rows < r1), rows >= r1]
        thirds_c = [cols < c0, (cols >= c0) & (cols < c1), cols >= c1]
        vals = ratio[rows, cols]
        if channel in ("left", "right"):
            near = thirds_c[SIDES[channel][1]]
            far = thirds_c[2 - SIDES[channel][1]]
        else:
            near = thirds_r[SIDES[channel][0]]
            far = thirds_r[2 - SIDES[channel][0]]
        if not np.nanmean(vals[near]) > np.nanmean(vals[far]):
            raise ShotRejected(f"the {channel} photo is not lit from the {channel}: is that "
                               "flash cabled to the right channel?")
