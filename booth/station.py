"""The booth's hardware as one object: flash controller + camera (+ the simulated booth).

Hardware only: :meth:`status`, :meth:`capture`, :meth:`capture_sphere`, :meth:`close`. What
is done with the photos (processing, the calibration fit) is :mod:`booth.workflows`', which
both front ends, the ``booth`` command line and the Textual app, call with an open station.
Closing a station always disarms the flashes first.

Thread use: the camera has its own thread inside :class:`GPhoto2Camera`; the flash controller
is thread-safe, so :meth:`status` may be polled from one thread while another captures.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from booth.choices import BACKENDS
from booth.config import BoothConfig
from booth.hardware.camera import Camera, CameraError, GPhoto2Camera
from booth.hardware.flashlink import FlashController, FlashError
from booth.sequencer import CaptureConfig, CaptureEvent, CaptureResult, CaptureSequencer
from booth.session import Session
from photometric.errors import InputError
from photometric.io.files import free_bytes
from photometric.lights import CHANNELS


@dataclass
class SimOptions:
    """The simulated booth's subject: ``seed`` picks the person (mixed with the subject id
    by :func:`photometric.sim.people.subject_id`, so each simulated subject is a different
    person, never one of ``booth simulate people``'s, who sits a little differently for
    each capture), ``size`` the image side; ``image_format`` what
    its camera saves: ``jpeg``, ``raw`` (DNG) or ``raw+jpeg``; ``controller`` the flash
    controller: the Python emulator or the compiled firmware in simavr."""

    seed: int = 0
    size: int = 512
    image_format: str = "jpeg"
    per_subject: bool = True
    faults: object | None = None  # firmware_protocol.emulator.Faults
    camera_faults: object | None = None  # booth.hardware.simulated.CameraFaults
    recycle_ms: int = 150
    controller: str = "emulator"  # or "firmware": the AVR build in simavr


@dataclass
class HardwareStatus:
    backend: str
    controller: bool = False
    firmware: str = ""
    controller_error: str = ""
    ready: dict[str, bool] = field(default_factory=dict)
    armed: str | None = None
    camera: str = ""
    camera_error: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    free_bytes: int = 0
    sessions: str = ""


def capture_config(cfg: BoothConfig, ambient: bool = False) -> CaptureConfig:
    cc = cfg.capture
    return CaptureConfig(order=cc.order, ambient=ambient or cc.ambient, power=cc.power,
                         retries=cc.retries, fired_timeout_s=cc.fired_timeout_ms / 1e3)


class Station:
    """Open with :meth:`open` (or as a context manager); :meth:`close` leaves it disarmed."""

    def __init__(self, config: BoothConfig | None = None, backend: str = "sim",
                 port: str | None = None, sim: SimOptions | None = None):
        if backend not in BACKENDS:
            raise InputError(f"--backend: expected one of {BACKENDS}, got {backend!r}")
        self.config = config or BoothConfig()
        self.backend = backend
        self.port = port or self.config.flash.port
        self.sim_options = sim or SimOptions()
        self._takes: dict[str, int] = {}  # captures so far per simulated subject
        self.sim = None  # booth.hardware.simulated.SimulatedBooth
        self.flash: FlashController | None = None
        self.camera: Camera | None = None
        self._lock = threading.Lock()  # one capture at a time

    # -- life cycle -----------------------------------------------------------------------
    def open(self) -> Station:
        fl = self.config.flash
        flash_kw = {"timeout": fl.timeout_ms / 1e3, "retries": fl.retries,
                    "heartbeat": fl.heartbeat_ms / 1e3}
        try:
            if self.backend == "sim":
                from booth.hardware.simulated import SimulatedBooth

                o = self.sim_options
                self.sim = SimulatedBooth(seed=o.seed, size=o.size, faults=o.faults,
                                          camera_faults=o.camera_faults,
                                          recycle_ms=o.recycle_ms,
                                          image_format=o.image_format,
                                          controller=o.controller).start()
                self.port = self.sim.flash_port
                self.camera = self.sim.camera
            else:
                if not self.port:
                    raise InputError("--port: the flash controller's serial port is required "
                                     "with --backend gphoto2 (or flash.port in the config)")
                cam = self.config.camera
                self.camera = GPhoto2Camera(cam.model, cam.port, cam.settings,
                                            cam.delete_after_download, settle_ms=cam.settle_ms,
                                            flash_sync=cam.flash_sync)
            self.flash = FlashController(self.port, **flash_kw)
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        """Disarm, then let go of the controller, the camera and the simulated booth."""
        if self.flash is not None:
            try:
                self.flash.disarm()
            except FlashError:
                pass
            self.flash.close()
            self.flash = None
        if self.camera is not None:
            self.camera.close()
            self.camera = None
        if self.sim is not None:
            self.sim.stop()
            self.sim = None

    def __enter__(self) -> Station:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def busy(self) -> bool:
        """A capture or calibration is under way."""
        return self._lock.locked()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no capture is under way; False if one still is after ``timeout`` s."""
        if not self._lock.acquire(timeout=timeout):
            return False
        self._lock.release()
        return True

    # -- what the front ends call ---------------------------------------------------------
    def status(self, sessions: str | Path | None = None) -> HardwareStatus:
        """Controller, flashes, camera and disk, each with its error instead of raising.
        During a capture the camera is not disturbed: its last description is shown."""
        st = HardwareStatus(self.backend, settings=dict(self.config.camera.settings),
                            sessions=str(sessions or self.config.sessions))
        st.settings.setdefault("flash sync", self.config.camera.flash_sync)
        if self.flash is None:
            st.controller_error = "not connected"
        else:
            try:
                s = self.flash.status()
                st.controller = True
                st.firmware = ".".join(map(str, self.flash.info.firmware))
                st.ready = {ch: bool(s.ready_mask >> i & 1) for i, ch in enumerate(CHANNELS)}
                st.armed = None if s.armed is None else CHANNELS[s.armed]
            except FlashError as exc:
                st.controller_error = str(exc)
        if self.camera is None:
            st.camera_error = "not connected"
        else:
            try:
                if not self.busy:
                    self.camera.connect()
                st.camera = self.camera.description
            except CameraError as exc:
                st.camera_error = str(exc)
        try:
            st.free_bytes = free_bytes(st.sessions)
        except OSError:
            st.free_bytes = 0
        return st

    def _sequencer(self, session: Session, on_event, cancel, ambient: bool) -> CaptureSequencer:
        if self.flash is None or self.camera is None:
            raise FlashError("the booth is not open")
        extra = self.sim.truth_files if self.sim is not None else None
        return CaptureSequencer(self.flash, self.camera, session,
                                capture_config(self.config, ambient), on_event, extra, cancel)

    def _sim_subject(self, kind: str, subject: str = "") -> None:
        if self.sim is None:
            return
        from photometric.sim import people, synthetic

        o = self.sim_options
        seed = o.seed
        if kind == "face" and o.per_subject and subject:
            seed = people.subject_id(subject, o.seed)
        # The same person sits a little differently for each capture (a retake too).
        take = self._takes.get(subject, 0) if kind == "face" and subject else 0
        if kind == "face" and subject:
            self._takes[subject] = take + 1
        self.sim.load_subject(synthetic.subject(kind, seed, o.size, take=take), seed,
                              meter=kind == "face")

    def capture(self, session: Session, subject: str, supersedes: str | None = None,
                on_event: Callable[[CaptureEvent], None] | None = None,
                cancel: threading.Event | None = None, ambient: bool = False) -> CaptureResult:
        """One capture of a subject with recorded consent (a retake names the one it
        supersedes)."""
        with self._lock:
            self._sim_subject("face", subject)
            return self._sequencer(session, on_event, cancel, ambient).run(subject, supersedes)

    def capture_sphere(self, session: Session,
                       on_event: Callable[[CaptureEvent], None] | None = None,
                       cancel: threading.Event | None = None,
                       ambient: bool = False) -> CaptureResult:
        """Photograph the calibration sphere into the session's ``calibration/`` (with an
        ambient frame when ``ambient`` or the config asks); fitting it is
        :func:`booth.workflows.calibrate_session`'s job."""
        with self._lock:
            self._sim_subject("sphere")
            try:
                return self._sequencer(session, on_event, cancel, ambient).run_calibration()
            finally:
                self._sim_subject("face")
