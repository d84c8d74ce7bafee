"""The camera: one small interface, and :class:`GPhoto2Camera` over python-gphoto2.

libgphoto2 wants one thread per camera, so a private worker thread owns the ``gp.Camera``
and every call is sent to it; its long calls release the GIL, so a UI stays live. A shot is
``trigger_capture`` followed by reading events until the camera reports the files it added,
so a RAW+JPEG setting or a stray press of the shutter is noticed instead of misfiled; events
pending before the shot are drained first. gphoto2 error codes become operator messages; a
camera that drops off the bus is re-initialised once (with a *new* ``gp.Camera``: re-init of
the same object crashes libgphoto2).

In CI the same code runs against libgphoto2's virtual camera (``VCAMERADIR``; see
``booth.hardware.simulated``), which allows 26 shots per connection: ``reconnect_every`` handles it.
"""

from __future__ import annotations

import concurrent.futures
import gc
import logging
import time
from dataclasses import dataclass, field
from typing import Protocol

from booth.config import exposure_seconds  # the one shutter-speed rule, shared with booth.yaml

log = logging.getLogger(__name__)

#: gphoto2 error code -> what the operator should do.
ADVICE = {
    -105: "no camera found: is it switched on, in PTP mode, and connected by USB?",
    -53: "the camera's USB port is held by another program (often "
         "gvfs-gphoto2-volume-monitor): stop it (`pkill -f gvfs-gphoto2`) and try again",
    -110: "the camera is busy (still writing or focusing); wait a moment",
    -52: "the camera disconnected (cable, or it went to sleep); check it and reconnect",
    -10: "the camera did not answer in time; check the cable and that it is awake",
    -7: "USB I/O error talking to the camera; check the cable",
    -3: "the camera ran out of memory or storage for captures",
}
RECONNECT_CODES = {-52, -7, -3}
BUSY = -110


class CameraError(RuntimeError):
    """A camera failure worded for the operator; ``code`` is gphoto2's when there is one."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


@dataclass
class Photo:
    """One file a shot added, as downloaded, untouched."""

    name: str
    folder: str
    data: bytes
    meta: dict = field(default_factory=dict)


class Camera(Protocol):
    description: str

    def connect(self) -> None: ...

    def capture(self) -> list[Photo]: ...

    def close(self) -> None: ...


class GPhoto2Camera:
    """A camera driven through libgphoto2 (a real DSLR, or the virtual camera in CI)."""

    def __init__(self, model: str | None = None, port: str | None = None,
                 settings: dict[str, str] | None = None, delete_after_download: bool = False,
                 busy_retries: int = 5, event_timeout_s: float = 10.0,
                 settle_ms: int = 50, reconnect_every: int | None = None,
                 flash_sync: str = "1/200"):
        self.model = model
        self.port = port
        self.settings = dict(settings or {})
        self.delete_after_download = delete_after_download
        self.busy_retries = busy_retries
        self.event_timeout_s = event_timeout_s
        # After a file, how long to wait for its RAW/JPEG twin; 0 for a camera set to save one
        # file per shot (a twin would then show up as a stray file before the next shot and
        # be logged, never filed).
        self.settle_ms = settle_ms
        self.reconnect_every = reconnect_every
        self.flash_sync = flash_sync
        self._check_shutter()
        self.description = "camera (not connected)"
        self.stray_files: list[str] = []
        self._gp = None
        self._cam = None
        self._shots = 0
        self._closed = False
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="gphoto2")

    # -- public, thread-safe: every call runs on the camera's own thread --------------------
    def connect(self) -> None:
        """Connect if not connected (cheap when it is); see :meth:`reconnect`."""
        self._run(lambda: self._cam is None and self._connect())

    def reconnect(self) -> None:
        self._run(self._connect)

    def capture(self) -> list[Photo]:
        return self._run(self._capture_with_recovery)

    def close(self) -> None:
        """Disconnect; closing twice is harmless."""
        if self._closed:
            return
        try:
            self._run(self._disconnect)
        finally:
            self._closed = True
            self._worker.shutdown(wait=True)

    def _run(self, fn):
        if self._closed:
            raise CameraError("the camera connection is closed")
        return self._worker.submit(fn).result()

    def _check_shutter(self) -> None:
        value = self.settings.get("shutterspeed")
        if value is None:
            return
        try:
            shutter, sync = exposure_seconds(value), exposure_seconds(self.flash_sync)
        except ValueError:
            raise CameraError(f"camera setting shutterspeed={value!r}: expected a time such as "
                              "'1/160' or '0.005s'") from None
        if shutter < sync:
            raise CameraError(f"shutter speed {value} is faster than the flash sync speed "
                              f"{self.flash_sync}: the flash would light only part of the "
                              "frame; use a slower shutter speed")

    # -- camera thread ---------------------------------------------------------------------
    def _error(self, exc, doing: str) -> CameraError:
        code = getattr(exc, "code", None)
        advice = ADVICE.get(code, str(exc))
        return CameraError(f"camera error while {doing} (gphoto2 {code}): {advice}", code)

    def _connect(self) -> None:
        if self._gp is None:
            import gphoto2  # imported here: VCAMERADIR must be set before the first import

            self._gp = gphoto2
        gp = self._gp
        self._disconnect()
        try:
            listed = gp.Camera.autodetect()
            found = [(listed.get_name(i), listed.get_value(i)) for i in range(listed.count())]
            cam = gp.Camera()
            if self.model or self.port:
                match = [(m, p) for m, p in found if (not self.model or m == self.model)
                         and (not self.port or p == self.port)]
                if not match:
                    raise CameraError(f"no camera matching model={self.model!r} "
                                      f"port={self.port!r}; found {found or 'none'}", -105)
                model, port = match[0]
                abilities = gp.CameraAbilitiesList()
                abilities.load()
                cam.set_abilities(abilities[abilities.lookup_model(model)])
                ports = gp.PortInfoList()
                ports.load()
                cam.set_port_info(ports[ports.lookup_path(port)])
            cam.init()
        except gp.GPhoto2Error as exc:
            raise self._error(exc, "connecting") from None
        self._cam = cam
        self._shots = 0
        abilities = cam.get_abilities()
        self.description = f"{abilities.model} on {cam.get_port_info().get_path()}"
        self._apply_settings()

    def _apply_settings(self) -> None:
        gp = self._gp
        for name, value in self.settings.items():
            try:
                widget = self._cam.get_single_config(name)
            except gp.GPhoto2Error:
                raise CameraError(f"camera setting '{name}' does not exist on "
                                  f"{self.description}") from None
            try:
                if widget.get_type() in (gp.GP_WIDGET_RADIO, gp.GP_WIDGET_MENU):
                    choices = list(widget.get_choices())
                    if str(value) not in choices:
                        raise CameraError(f"camera setting {name}={value!r}: expected one of "
                                          f"{', '.join(choices)}")
                widget.set_value(str(value))
                self._cam.set_single_config(name, widget)
            except gp.GPhoto2Error as exc:
                raise self._error(exc, f"setting {name}={value!r}") from None

    def _disconnect(self) -> None:
        if self._cam is not None:
            try:
                self._cam.exit()
            except Exception:  # noqa: BLE001 - best effort on a camera that may be gone
                pass
            self._cam = None
            gc.collect()  # libgphoto2 resets only once the old object is really freed

    def _capture_with_recovery(self) -> list[Photo]:
        if self._cam is None:
            self._connect()
        if self.reconnect_every and self._shots >= self.reconnect_every:
            self._connect()
        busy_wait = 0.1
        busy_tries = 0
        reconnected = False
        while True:
            try:
                photos = self._capture_once()
                self._shots += 1
                return photos
            except CameraError as exc:
                if exc.code == BUSY and busy_tries < self.busy_retries:
                    busy_tries += 1
                    time.sleep(busy_wait)
                    busy_wait = min(2 * busy_wait, 2.0)
                    continue
                if exc.code in RECONNECT_CODES and not reconnected:
                    log.warning("%s; reconnecting once", exc)
                    reconnected = True
                    self._connect()
                    continue
                raise

    def _drain_events(self) -> list[str]:
        gp = self._gp
        stray = []
        for _ in range(100):
            kind, data = self._cam.wait_for_event(1)
            if kind == gp.GP_EVENT_FILE_ADDED:
                stray.append(f"{data.folder}/{data.name}")
            elif kind == gp.GP_EVENT_TIMEOUT:
                break
        return stray

    def _capture_once(self) -> list[Photo]:
        gp = self._gp
        try:
            stray = self._drain_events()
            if stray:
                log.warning("files appeared before the shot (shutter pressed on the camera?): "
                            "%s; not filed", stray)
                self.stray_files += stray
            self._cam.trigger_capture()
            added: list = []
            deadline = time.monotonic() + self.event_timeout_s
            while time.monotonic() < deadline:
                kind, data = self._cam.wait_for_event(self.settle_ms if added else 100)
                if kind == gp.GP_EVENT_FILE_ADDED:
                    added.append((data.folder, data.name))
                    if self.settle_ms == 0:
                        break  # JPEG-only camera: one file per shot, no twin to wait for
                elif kind == gp.GP_EVENT_CAPTURE_COMPLETE and added:
                    break
                elif kind == gp.GP_EVENT_TIMEOUT and added:
                    break
                elif kind == gp.GP_EVENT_TIMEOUT:
                    time.sleep(0.001)  # the virtual camera returns at once
            if not added:
                raise CameraError("the camera took no photo (no file reported within "
                                  f"{self.event_timeout_s:.0f} s): check focus and flash "
                                  "settings", -10)
            photos = []
            for folder, name in added:
                cf = self._cam.file_get(folder, name, gp.GP_FILE_TYPE_NORMAL)
                data = bytes(memoryview(cf.get_data_and_size()))  # cf must stay alive here
                photos.append(Photo(name, folder, data))
                if self.delete_after_download:
                    self._cam.file_delete(folder, name)
            return photos
        except gp.GPhoto2Error as exc:
            raise self._error(exc, "capturing") from None
