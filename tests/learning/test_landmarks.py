"""Face Mesh landmarks: 478 points in pixels; a clear error without a face; none of
MediaPipe's native start-up lines on a user's terminal."""

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import skimage.data

from learning import facemesh as landmarks


def test_astronaut_has_478_landmarks_in_pixels():
    img = skimage.data.astronaut()
    lm = landmarks.detect(img)
    assert lm.points.shape == (landmarks.N_LANDMARKS, 3)
    x0, y0, x1, y1 = lm.bbox
    # Her face is in the upper middle of the 512×512 portrait.
    assert 120 < x0 < x1 < 300 and 30 < y0 < y1 < 260
    same = landmarks.detect(img.astype(np.float32) / 255)
    np.testing.assert_allclose(same.points, lm.points, atol=1.0)


def test_no_face_is_a_clear_error():
    with pytest.raises(landmarks.NoFaceError, match="no face found"):
        landmarks.detect(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(landmarks.InputError, match="expected an RGB image"):
        landmarks.detect(np.zeros((4, 4, 4, 4), np.float32))


@pytest.mark.parametrize("seed", [0, 3, 5, 7])
def test_simulated_ring_flash_faces_have_478_landmarks(seed):
    from photometric.render import SensorModel
    from photometric.sim import synthetic

    surf = synthetic.face(seed, 320)
    ring = synthetic.capture(surf, camera=SensorModel(noise=0.003, bits=8), seed=seed)["center"]
    lm = landmarks.detect(ring)
    assert lm.points.shape == (478, 3)
    # Every landmark lies on the synthetic face (its mask), not on the background.
    x = np.clip(lm.points[:, 0].astype(int), 0, 319)
    y = np.clip(lm.points[:, 1].astype(int), 0, 319)
    assert surf.mask[y, x].mean() > 0.95


def test_calibration_sphere_is_not_a_face():
    from photometric.render import SensorModel
    from photometric.sim import synthetic

    sphere = synthetic.capture(synthetic.sphere(256), camera=SensorModel(bits=8))["center"]
    with pytest.raises(landmarks.NoFaceError):
        landmarks.detect(sphere)


# -- MediaPipe's native start-up lines -------------------------------------------------------
#: What Face Mesh's C++ (TensorFlow Lite, absl) wrote on descriptor 2 as a graph started, before
#: the booth kept it off the terminal (landmarks.native_stderr).
NOISE = ("TensorFlow Lite", "XNNPACK", "inference_feedback_manager",
         "landmark_projection_calculator", "WARNING: All log messages before absl",
         "I0000", "W0000")


def _booth(*argv, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "booth", *map(str, argv)], text=True,
                          stdout=subprocess.PIPE, timeout=600, **kw)


@pytest.fixture(scope="module")
def astronaut_jpeg(tmp_path_factory):
    path = tmp_path_factory.mktemp("portrait") / "astronaut.jpg"
    cv2.imwrite(str(path), cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR))
    return path


def test_commands_running_face_mesh_show_only_the_booths_lines(astronaut_jpeg, tmp_path):
    """`booth landmarks` and `booth predict` on a portrait, stderr a pipe: they succeed, and
    none of Face Mesh's native start-up lines comes through."""
    lm = _booth("landmarks", astronaut_jpeg, "--out", tmp_path / "lm.json",
                stderr=subprocess.PIPE)
    assert lm.returncode == 0, lm.stderr
    assert lm.stdout == f"478 landmarks -> {tmp_path / 'lm.json'}\n"
    pred = _booth("predict", astronaut_jpeg, "--out", tmp_path / "pred", "--device", "cpu",
                  stderr=subprocess.PIPE)
    assert pred.returncode == 0, pred.stderr
    assert "astronaut.jpg: 1 face(s)" in pred.stdout
    assert (tmp_path / "pred" / "astronaut.normals.png").is_file()
    for run in (lm, pred):
        assert not [w for w in NOISE if w in run.stderr], run.stderr


def test_booth_landmarks_in_a_terminal_shows_only_its_own_line(astronaut_jpeg, tmp_path):
    """stderr a terminal (a pseudo-terminal): nothing at all on it."""
    import pty

    master, slave = pty.openpty()
    try:
        run = _booth("landmarks", astronaut_jpeg, "--out", tmp_path / "lm.json", stderr=slave)
        os.close(slave)
        slave = None
        seen = b""
        while True:  # the child has ended: what it wrote is in the terminal's buffer
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: read to the end
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert run.returncode == 0 and run.stdout.startswith("478 landmarks -> ")
    assert seen == b"", seen.decode(errors="replace")


CHILD = """\
import os, sys
from learning import facemesh as landmarks
noise = (b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n"
         b"WARNING: All log messages before absl::InitializeLog() is called are written to "
         b"STDERR\\n"
         b"W0000 00:00:1796611441.283855    9314 inference_feedback_manager.cc:114] "
         b"Feedback manager requires a model with a single signature inference.\\n")
print("before", file=sys.stderr)
try:
    with landmarks.native_stderr():
        os.write(2, noise + b"E0000 00:00:1796611441.283855 9314 x.cc:1] a native error\\n")
        print("python's own line", file=sys.stderr)
        raise RuntimeError("boom")
finally:
    os.write(2, b"after\\n")
"""


@pytest.mark.parametrize("where", ["pipe", "log file"])
def test_native_stderr_passes_on_everything_but_the_start_up_lines(tmp_path, where):
    """Inside the window: the start-up lines go only to a log (descriptor 2 a regular file);
    a native error, Python's own text and the exception come through, in order, and
    descriptor 2 is restored."""
    log = tmp_path / "err.log"
    with open(log, "w") as f:
        run = subprocess.run([sys.executable, "-c", CHILD], text=True, timeout=120,
                             stderr=subprocess.PIPE if where == "pipe" else f)
    err = run.stderr if where == "pipe" else log.read_text()
    assert run.returncode == 1
    lines = err.splitlines()
    assert lines[0] == "before"
    assert lines[-1] == "RuntimeError: boom" and "Traceback (most recent call last):" in lines
    kept = ["E0000 00:00:1796611441.283855 9314 x.cc:1] a native error", "python's own line",
            "after"]
    start_up = ["INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
                "WARNING: All log messages before absl::InitializeLog() is called are "
                "written to STDERR", "W0000 00:00:1796611441.283855    9314 "
                "inference_feedback_manager.cc:114] Feedback manager requires a model with a "
                "single signature inference."]
    window = lines[1:lines.index("Traceback (most recent call last):")]
    assert window == (kept if where == "pipe" else start_up + kept), err


def _window(i, inside, leave, errors):
    try:
        with landmarks.native_stderr():
            os.write(2, f"thread {i} inside\n".encode())
            inside.wait(timeout=60)  # both windows are open at once
            assert leave.wait(timeout=60)
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_native_stderr_shared_by_threads_restores_descriptor_2(capfd):
    """Two threads' windows overlapping, in either order of leaving: descriptor 2 is the
    same file afterwards, and what each wrote meanwhile came through."""
    import threading

    before = os.fstat(2)
    for first_out in (0, 1):
        inside, errors = threading.Barrier(2), []
        leave = [threading.Event(), threading.Event()]
        threads = [threading.Thread(target=_window, args=(i, inside, leave[i], errors))
                   for i in (0, 1)]
        for t in threads:
            t.start()
        for i in (first_out, 1 - first_out):
            leave[i].set()
            threads[i].join(timeout=60)
        assert not any(t.is_alive() for t in threads) and errors == []
        after = os.fstat(2)
        assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
        assert sorted(capfd.readouterr().err.splitlines()) == ["thread 0 inside",
                                                               "thread 1 inside"]
