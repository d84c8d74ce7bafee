"""Fixtures and helpers of the booth's tests."""

import numpy as np
import pytest
import yaml

from tests.booth.disk import run
from tests.conftest import snapshot


@pytest.fixture(params=["emulator", "firmware"])
def controller(request) -> str:
    """The simulated booth's flash controller: the Python emulator, then the compiled
    firmware in simavr (skipped, saying why, where simavr is not installed)."""
    if request.param == "firmware":
        from firmware_protocol import simavr

        reason = simavr.missing()
        if reason is not None:
            pytest.skip(f"the firmware in simavr: {reason}")
        simavr.build()
    return request.param


@pytest.fixture(scope="module")
def sim(request, tmp_path_factory):
    """A simulated sphere, its calibration (``cal.yaml``) and a face capture with an ambient
    frame, made through the CLI: ``SIM_SIZE`` px (default 160) and face ``SIM_SEED``
    (default 2), as the test module sets them."""
    from booth.cli import main

    size = str(getattr(request.module, "SIM_SIZE", 160))
    seed = str(getattr(request.module, "SIM_SEED", 2))
    root = tmp_path_factory.mktemp("sim")
    assert main(["simulate", "subject", "--kind", "sphere", "--size", size,
                 "--out", str(root / "sphere")]) == 0
    assert main(["calibrate", str(root / "sphere"), "--out", str(root / "cal.yaml")]) == 0
    assert main(["simulate", "subject", "--kind", "face", "--seed", seed, "--size", size,
                 "--ambient", "--out", str(root / "face")]) == 0
    return root


@pytest.fixture
def session(tmp_path):
    """Session s1 of a new store, with subject p1 (consent recorded)."""
    from booth.session import SessionStore

    s = SessionStore(tmp_path / "sessions").create_session("s1")
    s.add_subject("p1", consent=True)
    return s


def refused(capsys, root, argv, expect, code=2):
    """Run ``booth ARGV`` in this process: it must fail with ``code`` and say each of
    ``expect`` on one stderr line, with no traceback, and change nothing under ``root``."""
    before = snapshot(root)
    got, out, err = run(capsys, *argv)
    assert got == code, (out, err)
    assert "Traceback" not in err and err.count("\n") == 1 and err.endswith("\n"), err
    for word in expect:
        assert word in err, (word, err)
    assert snapshot(root) == before
    return err


def linear(data: bytes, name: str) -> np.ndarray:
    """A camera original as linear light: a RAW through LibRaw, a JPEG through the sRGB
    curve it was encoded with."""
    from photometric.io import camerafile, imageio
    from photometric.response import srgb_decode

    if camerafile.is_raw_name(name):
        return camerafile.decode_raw(data, name).rgb / 65535.0
    return srgb_decode(imageio.decode_image(data, name) / 255.0)


def edit_yaml(path, change) -> None:
    """Rewrite the YAML file ``path`` with ``change`` applied to what it holds."""
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
