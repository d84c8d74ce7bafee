"""The capture sequencer: one subject under the ring flash and the four directional flashes.

For each shot: make sure the flash has recycled, arm it, trigger the camera (whose X-sync
fires the armed flash), wait for the controller's FIRED event, download exactly the files
the shot added (one photo, or a RAW+JPEG pair), verify it (whole, decodes, same size as the
others, neither black nor clipped, and lit from the side its flash is on), and store every
original as downloaded (``center.jpg``, and ``center.dng`` beside it for a pair). A failed
shot is retried; when retries run out the capture is aborted cleanly: flashes disarmed, the
capture marked aborted with the reason, its verified photos kept. Nothing unverified is ever
filed under a flash's name. Progress goes out as :class:`CaptureEvent` to whoever listens
(the TUI).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from booth import qc
from booth.hardware.camera import Camera, CameraError, Photo
from booth.hardware.flashlink import FlashController, FlashError
from booth.session import CaptureWriter, Session
from firmware_protocol import messages as m
from photometric import response
from photometric.errors import InputError
from photometric.io import camerafile, imageio
from photometric.io.files import check_free
from photometric.lights import CHANNELS

#: What one shot may take on disk when the camera cannot say exactly (a 45 MP camera's
#: files, with room to spare): RAW+JPEG, RAW, JPEG.
SHOT_BYTES = {"raw+jpeg": 120 * 2**20, "raw": 90 * 2**20, "jpeg": 40 * 2**20}
_RAW_WORDS = ("raw", "nef", "cr2", "cr3", "arw", "dng", "orf", "raf", "rw2", "pef")


def shot_bytes(camera) -> int:
    """Bytes a shot needs on disk: what the camera says (the simulated one knows the size of
    every file it serves), else an upper bound from its configured image format."""
    exact = getattr(camera, "shot_bytes", None)
    if isinstance(exact, int) and exact > 0:
        return exact
    fmt = str((getattr(camera, "settings", None) or {}).get("imageformat", "")).lower()
    raw = any(w in fmt for w in _RAW_WORDS)
    if raw and ("jpeg" in fmt or "jpg" in fmt or "+" in fmt):
        return SHOT_BYTES["raw+jpeg"]
    return SHOT_BYTES["raw" if raw else "jpeg"]


def is_raw(photo: Photo) -> bool:
    """A camera RAW file: by its name, or a TIFF-based RAW under another name (not a .tif)."""
    if camerafile.is_raw_name(photo.name):
        return True
    tif = photo.name.lower().endswith((".tif", ".tiff"))
    return imageio.image_format(photo.data) == "tiff" and not tif


def stored_ext(photo: Photo) -> str:
    """The original's extension, lower-cased. The content decides the kind: a RAW under a
    non-RAW name is stored as .dng, so that it is read as a RAW (by LibRaw), not as the small
    TIFF preview inside it; a JPEG under another name as .jpg."""
    ext = Path(photo.name).suffix.lower()
    if is_raw(photo):
        return ext if ext in camerafile.RAW_EXTENSIONS else ".dng"
    if imageio.image_format(photo.data) == "jpeg" and ext not in camerafile.JPEG_EXTENSIONS:
        return ".jpg"
    return ext or ".jpg"


def one_shot(photos: list[Photo]) -> list[Photo]:
    """The files of one exposure: one photo, or one RAW and one JPEG (RAW+JPEG); anything
    else (two JPEGs, a stray third file) is refused, never filed under a flash's name."""
    names = ", ".join(p.name for p in photos) or "none"
    if len(photos) == 1:
        return photos
    if len(photos) == 2:
        raws = [p for p in photos if is_raw(p)]
        jpegs = [p for p in photos if not is_raw(p) and imageio.image_format(p.data) == "jpeg"]
        if len(raws) == 1 and len(jpegs) == 1:
            return photos
        raise ShotRejected(f"the shot produced 2 files ({names}), not one RAW and one JPEG; "
                           "set the camera to save one image per shot, or RAW+JPEG")
    raise ShotRejected(f"the shot produced {len(photos)} files ({names}); set the camera to "
                       "save one image per shot (JPEG or RAW), or RAW+JPEG")


@dataclass
class CaptureConfig:
    order: Sequence[str] = CHANNELS
    ambient: bool = False
    power: int = 255
    retries: int = 2
    fired_timeout_s: float = 1.0
    ready_timeout_s: float = 2.0
    min_free_bytes: int = 200 * 2**20  # kept free beyond what the capture itself needs
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


class Cancelled(RuntimeError):
    """The operator stopped the capture."""


CANCELLED_REASON = "stopped by the operator"


class CaptureSequencer:
    def __init__(self, flash: FlashController, camera: Camera, session: Session,
                 config: CaptureConfig | None = None,
                 on_event: Callable[[CaptureEvent], None] | None = None,
                 extra_files: Callable[[], dict[str, bytes]] | None = None,
                 cancel: threading.Event | None = None):
        self.flash = flash
        self.camera = camera
        self.session = session
        self.config = config or CaptureConfig()
        self.on_event = on_event or (lambda ev: None)
        self.extra_files = extra_files
        #: Set it (from any thread) to stop: the shot under way ends, then the capture aborts.
        self.cancel = cancel or threading.Event()
        self._center: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._wb: tuple[float, float, float] | None = None  # RAW previews: the first shot's

    def _emit(self, kind: str, channel: str | None = None, attempt: int = 0,
              message: str = "") -> None:
        self.on_event(CaptureEvent(kind, channel, attempt, message))

    def preflight(self) -> None:
        """Controller answers, camera connected, room on disk; raises with what to fix."""
        self._emit("preflight", message="flash controller")
        self.flash.status()
        self._emit("preflight", message="camera")
        self.camera.connect()
        need = len(self.plan) * shot_bytes(self.camera) + self.config.min_free_bytes
        check_free(self.session.path, need, f"a capture of {len(self.plan)} shots")

    @property
    def plan(self) -> tuple[str, ...]:
        """The shots this capture takes, in order."""
        return (*self.config.order, *(("ambient",) if self.config.ambient else ()))

    def run(self, subject: str, supersedes: str | None = None) -> CaptureResult:
        """Capture a subject (a retake names the capture it supersedes)."""
        self.preflight()
        return self._capture(self.session.begin_capture(subject, supersedes, self.plan))

    def run_calibration(self) -> CaptureResult:
        """Capture the calibration sphere into the session's ``calibration/``."""
        self.preflight()
        return self._capture(self.session.begin_calibration(self.plan))

    def _capture(self, writer: CaptureWriter) -> CaptureResult:
        try:
            return self._sequence(writer)
        except BaseException as exc:
            # Disk full, a bug, Ctrl-C: the flashes are disarmed and the capture is
            # marked aborted when the store can still write; the error goes on up.
            self._safe_disarm()
            if not writer.done:
                try:
                    writer.abort(f"{type(exc).__name__}: {exc}")
                except Exception:  # noqa: BLE001 - the original error matters more
                    pass
            raise

    def _sequence(self, writer: CaptureWriter) -> CaptureResult:
        shots = list(self.plan)
        timings: dict[str, float] = {}
        attempts_log: list[str] = []
        t0 = time.monotonic()
        self._center = self._shape = self._wb = None

        def abort(channel: str, attempt: int, reason: str) -> CaptureResult:
            self._safe_disarm()
            path = writer.abort(reason, attempts=attempts_log, timings=self._round(timings))
            self._emit("aborted", channel, attempt, reason)
            return CaptureResult(path, "aborted", reason, timings)

        for channel in shots:
            for attempt in range(1, self.config.retries + 2):
                t = time.monotonic()
                try:
                    if self.cancel.is_set():
                        raise Cancelled(CANCELLED_REASON)
                    self._emit("shot", channel, attempt)
                    photos, fired = self._shoot(channel)
                    img = self._verify(channel, photos)
                except Cancelled:
                    return abort(channel, attempt, CANCELLED_REASON)
                except (FlashError, CameraError, ShotRejected) as exc:
                    attempts_log.append(f"{channel} attempt {attempt}: {exc}")
                    self._safe_disarm()
                    if attempt <= self.config.retries:
                        self._emit("retry", channel, attempt, str(exc))
                        continue
                    return abort(channel, attempt, f"{channel}: {exc}")
                for photo in photos:
                    writer.add_shot(channel, f"{channel}{stored_ext(photo)}", photo.data,
                                    camera_file=f"{photo.folder}/{photo.name}",
                                    attempt=attempt,
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
            if self.cancel.is_set():
                raise Cancelled(CANCELLED_REASON)
            if time.monotonic() > deadline:
                raise FlashError(f"the {m.CHANNELS[ch]} flash did not recycle within "
                                 f"{self.config.ready_timeout_s:.1f} s: check its power")
            time.sleep(0.01)

    def _shoot(self, channel: str) -> tuple[list[Photo], m.Fired | None]:
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
        return one_shot(photos), fired

    def _verify(self, channel: str, photos: list[Photo]) -> np.ndarray:
        """Check every file of the shot is whole; judge the picture on the JPEG, or on a
        quick decode of the RAW when there is no JPEG. Returns the grey preview in [0, 1]."""
        for photo in photos:
            self._check_whole(photo)
        jpeg = [p for p in photos if not is_raw(p)]
        if jpeg:
            photo = jpeg[0]
            buf = np.frombuffer(photo.data, np.uint8)
            img = cv2.imdecode(buf, cv2.IMREAD_REDUCED_GRAYSCALE_4)
            if img is None:
                raise ShotRejected(f"{photo.name} does not decode as an image")
        else:
            photo = photos[0]
            img = self._raw_preview(photo)
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
        if channel in qc.SIDES and self._center is not None:
            self._check_side(channel, x)
        if channel == "ambient" and self._center is not None:
            if x.mean() > 0.5 * self._center.mean():
                raise ShotRejected("the ambient frame is as bright as a flash photo")
        return x

    @staticmethod
    def _check_whole(photo: Photo) -> None:
        """A cut file decodes without an error, so its structure is checked first: any
        image the booth reads, and a TIFF-based RAW (DNG, NEF, CR2, ARW, ...); another RAW
        (CR3, RAF, ...) must at least open in LibRaw (a RAW-only shot is decoded anyway)."""
        try:
            if not is_raw(photo) or imageio.image_format(photo.data) == "tiff":
                imageio.check_intact(photo.data, photo.name)
            else:
                camerafile.as_shot_white_balance(photo.data, photo.name)
        except InputError as exc:
            raise ShotRejected(str(exc)) from None

    def _raw_preview(self, photo: Photo) -> np.ndarray:
        """A RAW shot as the JPEG check sees one: half-size LibRaw decode (no demosaicing)
        with the capture's first white balance, sRGB-encoded, grey, 8 bit, a quarter of the
        full size like ``IMREAD_REDUCED_GRAYSCALE_4``."""
        try:
            raw = camerafile.decode_raw(photo.data, photo.name, self._wb,
                                        max_pixels=imageio.MAX_PIXELS, half_size=True)
        except InputError as exc:
            raise ShotRejected(str(exc)) from None
        self._wb = self._wb or raw.white_balance
        grey = cv2.cvtColor(response.encode_srgb8(raw.rgb), cv2.COLOR_RGB2GRAY)
        h, w = grey.shape
        return cv2.resize(grey, ((w + 1) // 2, (h + 1) // 2), interpolation=cv2.INTER_AREA)

    def _check_side(self, channel: str, x: np.ndarray) -> None:
        if qc.lit_from_side(channel, x, self._center) is False:
            raise ShotRejected(f"the {channel} photo is not lit from the {channel}: is that "
                               "flash cabled to the right channel?")
