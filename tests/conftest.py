"""Shared fixtures and helpers of every package's tests: simulated captures rendered once
per test session, waiting on a condition, what is on disk, a capture in a session store."""

from __future__ import annotations

import os
import stat
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from photometric.calibration import calibrate
from photometric.lights import DIRECTIONAL
from photometric.render import SensorModel
from photometric.sim import parts, synthetic


def wait_until(cond: Callable[[], object], what: str, timeout: float = 60.0,
               every: float = 0.01):
    """Poll ``cond()`` until it is true and return its value; fail naming ``what`` after
    ``timeout`` seconds (a generous limit for a loaded machine, not a budget)."""
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(every)
    return value


def env_without(*names: str) -> dict[str, str]:
    """This process's environment without ``names``, for a child process."""
    return {k: v for k, v in os.environ.items() if k not in names}


def mode(path) -> int:
    """The permission bits of ``path`` (following a link)."""
    return stat.S_IMODE(os.stat(path).st_mode)


def snapshot(root: str | Path) -> dict[str, tuple]:
    """Every entry under ``root`` (``root`` included): its kind, mode and, for files, bytes,
    to show that a refused or failed command changed nothing."""
    root = Path(root)
    out: dict[str, tuple] = {}
    if not os.path.lexists(root):
        return out
    for path in [root, *sorted(root.rglob("*"))]:
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", st.st_mode & 0o7777)
        else:
            out[rel] = ("file", st.st_mode & 0o7777, path.read_bytes())
    return out


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG whose header declares ``width``×``height`` grey pixels and whose data is a
    few rows: enough for the checks, which must refuse it without decoding it."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body)))

    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1) * 4)) + chunk(b"IEND", b""))


def store_capture(session, subject: str, images: dict, alter: bool = False) -> Path:
    """A complete capture of ``subject`` (consent recorded) in ``session``, photos as PNGs as
    the simulated camera would give them; ``alter``: its left photo changed afterwards."""
    import cv2

    session.add_subject(subject, consent=True)
    w = session.begin_capture(subject)
    for ch in ("center", "left", "right", "top", "bottom"):
        ok, png = cv2.imencode(".png", cv2.cvtColor(images[ch], cv2.COLOR_RGB2BGR))
        assert ok
        w.add_shot(ch, f"{ch}.png", png.tobytes())
    path = w.commit()
    if alter:
        (path / "left.png").write_bytes(b"not the original")
    return path


#: The parts of a simulated person that are skin (:mod:`photometric.sim.parts`). The brows are
#: hair: their layer of ridges is finer than a pixel at the tests' sizes, and is reported
#: with the hair.
SKIN_PARTS = (parts.SKIN, parts.LIPS, parts.NECK)


def lit_by_all(normals: np.ndarray, mask: np.ndarray, rig=synthetic.SIM_RIG,
               surface=None, channels=DIRECTIONAL, facing: float = 0.0) -> np.ndarray:
    """Pixels of ``mask`` that all ``channels`` of ``rig`` (the four directional flashes)
    light: facing each one (cosine above ``facing``), and, for a ``surface`` that casts
    shadows (a simulated person), outside its cast shadows too; for a person, on their skin
    only (face and neck: the accuracy targets are the skin's; hair and clothes are reported
    apart)."""
    sel = mask.copy()
    if surface is not None and surface.parts is not None:
        sel &= np.isin(surface.parts, SKIN_PARTS)
    for c in channels:
        sel &= (normals @ rig.direction(c)) > facing
        if surface is not None:
            for light in synthetic.Booth(rig).lights(c):
                seen = surface.lit(light)
                if seen is not None:
                    sel &= seen
    return sel


@pytest.fixture(scope="session")
def sphere_subject():
    return synthetic.sphere(384)


@pytest.fixture(scope="session")
def sphere_images(sphere_subject):
    return synthetic.capture(sphere_subject)


@pytest.fixture(scope="session")
def calibration(sphere_images):
    return calibrate(sphere_images)


#: The person most accuracy tests solve: skin type IV (the middle of the range), short hair,
#: their glasses off (the solver's tests measure the face; a lens, which the solver does not
#: model, has tests of its own: tests/photometric/sim/test_glasses.py and
#: tests/photometric/stereo/test_stereo_people.py).
FACE_SEED = 0


@pytest.fixture(scope="session")
def face_subject():
    return synthetic.face(seed=FACE_SEED, size=384, glasses=False)


@pytest.fixture(scope="session")
def face_images(face_subject):
    return synthetic.capture(face_subject)


NOISY = SensorModel(noise=0.01, bits=8)


@pytest.fixture(scope="session")
def noisy_calibration(sphere_subject):
    return calibrate(synthetic.capture(sphere_subject, camera=NOISY, seed=11))


@pytest.fixture(scope="session")
def noisy_face_images(face_subject):
    # Exposed for the skin, as the booth exposes a sitter: 8 bits and 1 % noise on a face
    # left at unit gain would test the exposure, not the solver.
    return synthetic.capture(face_subject, camera=synthetic.metered(face_subject, camera=NOISY),
                             seed=12)
