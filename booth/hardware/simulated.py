"""The simulated booth: the firmware emulator on a pty, libgphoto2's virtual camera, and
``photometric``'s renderer, wired like the real thing.

The host drives it through the same code as real hardware: :class:`FlashController` on the
emulator's pty, :class:`GPhoto2Camera` through libgphoto2. When the camera is triggered, its
"X-sync" fires whatever flash the emulator has armed, and the photo the virtual camera serves
is the subject rendered under *that* flash (room light only when none fired), so a misfire
shows in the photo as it would on real hardware. The ground truth of the subject is kept for
the capture's ``truth/`` folder.

The camera serves what a real one writes (``image_format``): an sRGB JPEG with EXIF
(``jpeg``), a DNG Bayer mosaic that LibRaw reads like any camera's RAW (``raw``), or both
(``raw+jpeg``); see :mod:`photometric.io.camerafile`. The renders are linear floats
(:attr:`SimulatedBooth.images`, kept as the reference), encoded once per subject.

How libgphoto2's virtual camera (``vcamera.c``) constrains this:

* It serves the first ``*.jpg`` file of ``VCAMERADIR``, so every file goes out as
  ``shot.jpg``: each capture adds exactly ONE object, a copy of it named ``GPH_nnnn.JPG``,
  whose bytes are read when it is downloaded. A DNG served that way comes back named .JPG;
  :class:`SimulatedCamera` renames it by content (TIFF magic -> ``.DNG``), as a real camera
  names its RAW files.
* It reads the file's size once, at ``init()`` (a fresh ``init()`` re-reads it). So every
  file of a subject is padded (:func:`~photometric.io.camerafile.pad`: bytes after a JPEG's
  end-of-image marker or a DNG's last strip are ignored by readers) to one size, the
  subject's largest file rounded up to 4 KiB, and the camera reconnects when the size it
  serves changes (a new subject: the sphere, then a person).
* One trigger adds one file, so RAW+JPEG is two triggers per exposure: the X-sync fires
  once, the DNG is served and the camera triggered, then the JPEG twin of the same
  exposure is served and the camera triggered again, both through the real PTP path; the
  two Photos come back together like a real camera's pair. Each trigger counts against the
  ~26 captures a connection allows (``reconnect_every``).

libgphoto2 reads ``VCAMERADIR`` when gphoto2 is first imported, so one process uses one
folder for all its simulated booths; each booth serves its frames by replacing the one file
there.

That file is a photo of the sitter, so the folder is personal data: owner-only, named after
the process (``booth-vcam-<pid>-XXXX``) and removed when the process ends, however it ends
(see :func:`virtual_camera_dir`). A folder given in ``VCAMERADIR`` by the caller is theirs
and never removed.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from booth.choices import IMAGE_FORMATS
from booth.hardware.camera import CameraError, GPhoto2Camera, Photo
from firmware_protocol import messages as m
from firmware_protocol.controller import Controller
from firmware_protocol.emulator import Emulator, Faults
from photometric.errors import InputError
from photometric.io import camerafile
from photometric.io.camerafile import CameraInfo, Sensor
from photometric.io.files import pid_alive
from photometric.lights import CHANNELS
from photometric.render import SensorModel, Surface
from photometric.sim import synthetic

SHOT_NAME = "shot.jpg"
#: What the simulated camera saves per exposure (its "image quality" setting).
#: Served files are padded to a multiple of this (the "rounded up a little").
PAD_STEP = 4096
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
_PREFIX = "booth-vcam-"
_NAME = re.compile(r"booth-vcam-(\d+)-")  # ours: booth-vcam-<pid>-XXXX
_OLD_NAME = re.compile(r"booth-vcam-[a-z0-9_]{8}\Z")  # before the pid was in the name
#: An old-style folder has no pid to check; one untouched this long is no running booth's.
_OLD_STALE_S = 3600
_vcam_lock = threading.Lock()

#: Runs in its own session (a Ctrl-C or a kill of our process group does not reach it) and
#: ignores the polite signals; it waits for EOF on a pipe whose only write end our process
#: holds, i.e. for our process to end, even by SIGKILL, then removes the folder. No project
#: imports, ``-I -S``: it starts in ~40 ms.
_REAPER = """\
import os, shutil, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
try:
    while os.read(int(sys.argv[1]), 1):
        pass
except OSError:
    pass
shutil.rmtree(sys.argv[2], ignore_errors=True)
"""


class _Guard:
    """The removal of one folder we made: at exit by us, or by the reaper if we die."""

    def __init__(self, path: Path):
        self.path, self.pid = path, os.getpid()
        # os.pipe() is close-on-exec: no exec'ed child (subprocess, the multiprocessing fork
        # server) gets the write end; a plain fork would, so _after_fork closes it there.
        r, self.fd = os.pipe()
        try:
            self.reaper = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _REAPER, str(r), str(path)], pass_fds=(r,),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                cwd="/", start_new_session=True)
        except BaseException:
            os.close(self.fd)
            raise
        finally:
            os.close(r)
        atexit.register(self.release)

    def release(self) -> None:
        """Remove the folder now (normal exit, an exception, Ctrl-C), and let the reaper go."""
        if os.getpid() != self.pid or self.fd is None:  # a forked child: not its folder
            return
        shutil.rmtree(self.path, ignore_errors=True)
        os.close(self.fd)
        self.fd = None
        try:
            self.reaper.wait(timeout=2)  # it sees EOF at once; don't leave it running
        except subprocess.TimeoutExpired:
            pass


_guards: list[_Guard] = []


def _after_fork() -> None:
    """A forked child must not keep our folder alive after we die: close its write ends."""
    for g in _guards:
        if g.fd is not None:
            os.close(g.fd)
            g.fd = None


os.register_at_fork(after_in_child=_after_fork)


def _sweep_stale(tmp: Path) -> None:
    """Remove folders that a crash (or a version before the reaper) left: ours (same uid)
    only, of a dead pid (or our own pid, reused, that we did not make); never another
    user's."""
    ours = {g.path.name for g in _guards}
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return
    for e in entries:
        if not e.name.startswith(_PREFIX) or e.name in ours:
            continue
        try:
            st = e.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            continue
        if m := _NAME.match(e.name):
            pid = int(m[1])
            stale = pid == os.getpid() or not pid_alive(pid)
        else:
            stale = bool(_OLD_NAME.match(e.name)) and time.time() - st.st_mtime > _OLD_STALE_S
        if stale:
            shutil.rmtree(e.path, ignore_errors=True)


def virtual_camera_dir() -> Path:
    """The process's VCAMERADIR, created and exported on first use.

    A folder we create is owner-only and removed when the process ends: at exit by an
    ``atexit`` hook (normal exit, an exception, Ctrl-C), otherwise (SIGTERM, SIGKILL, a
    kill of the process group) by the reaper (``_REAPER``); creating one first sweeps those
    a crash left behind. A VCAMERADIR set by the caller is used as it is and never removed.
    """
    with _vcam_lock:
        current = os.environ.get("VCAMERADIR")
        if current:
            return Path(current)
        if "gphoto2" in sys.modules:
            raise RuntimeError("gphoto2 was imported before VCAMERADIR was set; the simulated "
                               "booth needs VCAMERADIR set first (export it, or start the "
                               "simulated booth before any camera code)")
        tmp = Path(tempfile.gettempdir())
        _sweep_stale(tmp)
        path = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-", dir=tmp))  # 0700
        try:
            _guards.append(_Guard(path))
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        os.environ["VCAMERADIR"] = str(path)
        return path


@dataclass
class CameraFaults:
    """Camera errors to inject: shot number (0-based, counting every exposure; a RAW+JPEG
    pair is one) -> gphoto2 code."""

    errors: dict[int, int] = field(default_factory=dict)
    latency_ms: float = 0.0


class SimulatedCamera(GPhoto2Camera):
    """The virtual camera, whose trigger fires the emulator's X-sync first."""

    def __init__(self, booth: SimulatedBooth):
        super().__init__(settle_ms=0, reconnect_every=25)  # one file per trigger
        self.booth = booth
        self.triggers = 0  # exposures (a RAW+JPEG pair is one)
        self._size: int | None = None  # the served file's size when the camera last init()ed

    @property
    def shot_bytes(self) -> int:
        """What one shot writes: all its files (the preflight's disk check)."""
        return self.booth.frame_size * self.booth.files_per_shot

    def _connect(self) -> None:
        self._size = self.booth.served_size  # what init() reads as the file's size
        super()._connect()

    def capture(self) -> list[Photo]:
        shot = self.triggers
        self.triggers += 1
        code = self.booth.camera_faults.errors.get(shot)
        if code is not None:
            raise CameraError(f"simulated camera error {code} on shot {shot}", code)
        if self.booth.camera_faults.latency_ms:
            time.sleep(self.booth.camera_faults.latency_ms / 1e3)
        self.booth.expose()
        photos = self._take()
        for twin in range(1, self.booth.files_per_shot):  # RAW+JPEG: the JPEG of this exposure
            self.booth.serve_twin(twin)
            photos += self._take()
        return photos

    def _take(self) -> list[Photo]:
        """One trigger through libgphoto2, after a reconnect if the served size changed."""
        if self._size != self.booth.served_size:
            self.reconnect()
        return [self._named(p) for p in super().capture()]

    @staticmethod
    def _named(photo: Photo) -> Photo:
        """A DNG served as shot.jpg comes back as GPH_nnnn.JPG: name it by its content."""
        if photo.data[:4] in _TIFF_MAGIC:
            photo.name = os.path.splitext(photo.name)[0] + ".DNG"
        return photo


#: The simulated booth's flash controller: the Python emulator (the default, fastest) or the
#: compiled AVR firmware run in simavr (firmware_protocol.simavr).
CONTROLLERS = ("emulator", "firmware")


def _firmware(on_fire, faults: Faults, recycle_ms: int, not_ready: frozenset[int], seed: int):
    """The real firmware in simavr, with the faults it can have: bytes dropped or corrupted
    on the link (the harness does that). The emulator-only faults (a withheld or delayed
    FIRED event, a silent or never-ready controller) and another recycle interval than the
    firmware's own are refused: the firmware does what it does."""
    from firmware_protocol import simavr

    why = simavr.missing()
    if why:
        raise InputError(f"--controller firmware: {why}")
    other = [name for name, on in (("withhold_fired", faults.withhold_fired),
                                   ("fired_delay_ms", faults.fired_delay_ms),
                                   ("silent", faults.silent), ("not_ready", not_ready),
                                   (f"recycle_ms={recycle_ms}", recycle_ms != 150)) if on]
    if other:
        raise InputError(f"--controller firmware: {', '.join(other)} can only be simulated by "
                         "the Python emulator (--controller emulator)")
    return simavr.FirmwareSim(on_fire=on_fire, drop=faults.drop, corrupt=faults.corrupt,
                              seed=seed)


class SimulatedBooth:
    """Start with :meth:`start`; then ``flash_port`` and ``camera`` are the hardware."""

    def __init__(self, subject: Surface | None = None, kind: str = "face", seed: int = 0,
                 size: int = 512, booth: synthetic.Booth | None = None,
                 sensor: SensorModel = SensorModel(noise=0.003, bits=None),
                 faults: Faults | None = None, camera_faults: CameraFaults | None = None,
                 recycle_ms: int = 150, not_ready: frozenset[int] = frozenset(),
                 image_format: str = "jpeg", info: CameraInfo | None = None,
                 raw_sensor: Sensor | None = None, quality: int = 95,
                 controller: str = "emulator"):
        if controller not in CONTROLLERS:
            raise InputError(f"controller {controller!r}: expected one of "
                             f"{', '.join(CONTROLLERS)}")
        if image_format not in IMAGE_FORMATS:
            raise InputError(f"image format {image_format!r}: expected one of "
                             f"{', '.join(IMAGE_FORMATS)}")
        self.booth = booth or synthetic.Booth()
        self.sensor = sensor
        self.size = size
        self.image_format = image_format
        self.info = info or CameraInfo()  # what its files say about the camera (EXIF, DNG)
        self.raw_sensor = raw_sensor or Sensor()  # the DNG's levels and colour response
        self.quality = quality  # JPEG quality
        self.camera_faults = camera_faults or CameraFaults()
        self.served: tuple[str, int] | None = None
        self.served_size: int | None = None
        self.load_subject(subject if subject is not None else
                          synthetic.subject(kind, seed, size), seed,
                          meter=subject is None and kind == "face")
        if controller == "firmware":
            self.controller = None  # it runs in the AVR, not in Python
            self.emulator = _firmware(self._on_fire, faults or Faults(), recycle_ms, not_ready,
                                      seed)
        else:
            self.controller = Controller(recycle_ms=recycle_ms, not_ready=not_ready,
                                         on_fire=self._on_fire)
            self.emulator = Emulator(self.controller, faults or Faults())
        self.vcam = virtual_camera_dir()
        self.flash_port = ""
        self.camera: SimulatedCamera | None = None
        self.fired_log: list[str] = []

    @property
    def files_per_shot(self) -> int:
        return 2 if self.image_format == "raw+jpeg" else 1

    def load_subject(self, subject: Surface, seed: int = 0, meter: bool = False) -> None:
        """Put a subject in front of the camera (between captures): a person, the sphere.
        ``meter``: expose for the subject as an operator would for a sitter's skin
        (:func:`photometric.sim.synthetic.metered`); the sphere keeps the booth's exposure."""
        h, w = subject.mask.shape[:2]
        if "raw" in self.image_format and (h % 2 or w % 2):
            raise InputError(f"a RAW (Bayer) image needs an even width and height; the "
                             f"simulated subject is {w}×{h} pixels: use an even --size")
        sensor = synthetic.metered(subject, self.booth, self.sensor) if meter else self.sensor
        images = synthetic.capture(subject, self.booth, sensor, ambient=True, seed=seed)
        files = {name: self.encode(img) for name, img in images.items()}
        largest = max(len(f) for shot in files.values() for f in shot)
        #: One size for every file of the subject: what the virtual camera reads at init().
        self.frame_size = -(-largest // PAD_STEP) * PAD_STEP
        #: The files of one shot under each flash (and room light alone), RAW first, padded.
        self.frames = {name: tuple(camerafile.pad(f, self.frame_size) for f in shot)
                       for name, shot in files.items()}
        #: What the camera sees, linear light (float32, [0, 1]): the reference of the files.
        self.images = images
        self.subject = subject

    def encode(self, linear: np.ndarray) -> tuple[bytes, ...]:
        """The files the camera writes for one exposure, in its image format (RAW first)."""
        out: list[bytes] = []
        if "raw" in self.image_format:
            out.append(camerafile.encode_dng(linear, self.info, self.raw_sensor))
        if "jpeg" in self.image_format:
            out.append(camerafile.encode_jpeg(linear, self.info, self.quality))
        return tuple(out)

    def _serve(self, name: str, index: int = 0) -> None:
        data = self.frames[name][index]
        tmp = self.vcam / ".shot.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # a photo of the sitter
        with open(fd, "wb") as f:
            os.fchmod(fd, 0o600)  # even if a crash left it with another mode
            f.write(data)
        os.replace(tmp, self.vcam / SHOT_NAME)
        self.served, self.served_size = (name, index), len(data)

    def serve_twin(self, index: int) -> None:
        """The other file of the exposure just served (RAW+JPEG: its JPEG)."""
        assert self.served is not None
        self._serve(self.served[0], index)

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
        """The subject's ground truth, for the capture's ``truth/`` (normals, mask, depth,
        albedo): :func:`photometric.sim.synthetic.truth_files`."""
        return synthetic.truth_files(self.subject, self.booth)


__all__ = ["CHANNELS", "CONTROLLERS", "IMAGE_FORMATS", "CameraFaults", "Faults", "SimulatedBooth",
           "SimulatedCamera", "virtual_camera_dir"]
