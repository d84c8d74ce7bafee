"""The simulated booth: the firmware emulator on a pty, libgphoto2's virtual camera, and
``photometric``'s renderer, wired like the real thing.

The host drives it through the same code as real hardware: :class:`FlashController` on the
emulator's pty, :class:`GPhoto2Camera` through libgphoto2. When the camera is triggered, its
"X-sync" fires whatever flash the emulator has armed, and the photo the virtual camera serves
is the subject rendered under *that* flash (room light only when none fired), so a misfire
shows in the photo as it would on real hardware. The ground truth of the subject is kept for
the capture's ``truth/`` folder.

libgphoto2 reads ``VCAMERADIR`` when gphoto2 is first imported, so one process uses one
folder for all its simulated booths; each booth serves its frames by replacing the one file
there (constant byte size: an uncompressed BMP named ``shot.jpg``).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from booth.hardware.camera import CameraError, GPhoto2Camera, Photo
from firmware_protocol import messages as m
from firmware_protocol.controller import Controller
from firmware_protocol.emulator import Emulator, Faults
from photometric import synthetic
from photometric.lights import CHANNELS
from photometric.render import Camera as SensorModel
from photometric.render import Surface

SHOT_NAME = "shot.jpg"
_vcam_lock = threading.Lock()


def virtual_camera_dir() -> Path:
    """The process's VCAMERADIR, created and exported on first use."""
    with _vcam_lock:
        current = os.environ.get("VCAMERADIR")
        if current:
            return Path(current)
        if "gphoto2" in sys.modules:
            raise RuntimeError("gphoto2 was imported before VCAMERADIR was set; the simulated "
                               "booth needs VCAMERADIR set first (export it, or start the "
                               "simulated booth before any camera code)")
        path = Path(tempfile.mkdtemp(prefix="booth-vcam-"))
        os.environ["VCAMERADIR"] = str(path)
        return path


@dataclass
class CameraFaults:
    """Camera errors to inject: shot number (0-based, counting every trigger) -> gphoto2 code."""

    errors: dict[int, int] = field(default_factory=dict)
    latency_ms: float = 0.0


class SimulatedCamera(GPhoto2Camera):
    """The virtual camera, whose trigger fires the emulator's X-sync first."""

    def __init__(self, booth: SimulatedBooth):
        super().__init__(settle_ms=0, reconnect_every=25)  # one file per shot
        self.booth = booth
        self.triggers = 0

    def capture(self) -> list[Photo]:
        shot = self.triggers
        self.triggers += 1
        code = self.booth.camera_faults.errors.get(shot)
        if code is not None:
            raise CameraError(f"simulated camera error {code} on shot {shot}", code)
        if self.booth.camera_faults.latency_ms:
            time.sleep(self.booth.camera_faults.latency_ms / 1e3)
        self.booth.expose()
        return super().capture()


class SimulatedBooth:
    """Start with :meth:`start`; then ``flash_port`` and ``camera`` are the hardware."""

    def __init__(self, subject: Surface | None = None, kind: str = "face", seed: int = 0,
                 size: int = 512, booth: synthetic.Booth | None = None,
                 sensor: SensorModel = SensorModel(noise=0.003, bits=8),
                 faults: Faults | None = None, camera_faults: CameraFaults | None = None,
                 recycle_ms: int = 150, not_ready: frozenset[int] = frozenset()):
        self.booth = booth or synthetic.Booth()
        self.sensor = sensor
        self.size = size
        self.camera_faults = camera_faults or CameraFaults()
        self.load_subject(subject if subject is not None else
                          synthetic.subject(kind, seed, size), seed)
        self.controller = Controller(recycle_ms=recycle_ms, not_ready=not_ready,
                                     on_fire=self._on_fire)
        self.emulator = Emulator(self.controller, faults or Faults())
        self.vcam = virtual_camera_dir()
        self.flash_port = ""
        self.camera: SimulatedCamera | None = None
        self.fired_log: list[str] = []

    def load_subject(self, subject: Surface, seed: int = 0) -> None:
        """Put a subject in front of the camera (between captures): a person, the sphere."""
        images = synthetic.capture(subject, self.booth, self.sensor, ambient=True, seed=seed)
        #: What the camera sees under each flash (and room light alone), as BMP bytes.
        self.frames = {name: self._bmp(img) for name, img in images.items()}
        self.images = images
        self.subject = subject

    @staticmethod
    def _bmp(img: np.ndarray) -> bytes:
        ok, buf = cv2.imencode(".bmp", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        assert ok
        return buf.tobytes()

    def _serve(self, name: str) -> None:
        tmp = self.vcam / ".shot.tmp"
        tmp.write_bytes(self.frames[name])
        os.replace(tmp, self.vcam / SHOT_NAME)

    def _on_fire(self, channel: int) -> None:
        name = m.CHANNELS[channel]
        self.fired_log.append(name)
        self._serve(name)

    def expose(self) -> None:
        """The shutter opens: the armed flash if the X-sync fires it, else room light."""
        fired = len(self.fired_log)
        self.emulator.xsync()
        if len(self.fired_log) == fired:
            self._serve("ambient")

    def start(self) -> SimulatedBooth:
        self._serve("ambient")
        self.flash_port = self.emulator.start()
        self.camera = SimulatedCamera(self)
        return self

    def stop(self) -> None:
        if self.camera is not None:
            self.camera.close()
        self.emulator.stop()

    def __enter__(self) -> SimulatedBooth:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def truth_files(self) -> dict[str, bytes]:
        buf = io.BytesIO()
        np.save(buf, self.subject.normals.astype(np.float32))
        ok, mask = cv2.imencode(".png", self.subject.mask.astype(np.uint8) * 255)
        return {"truth/normals.npy": buf.getvalue(), "truth/mask.png": mask.tobytes()}


__all__ = ["CHANNELS", "CameraFaults", "Faults", "SimulatedBooth", "SimulatedCamera",
           "virtual_camera_dir"]
