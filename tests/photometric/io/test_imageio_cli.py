"""A cut photo stops the commands that read it: exit 2, the file named, nothing written."""

import cv2
import pytest

from booth.cli import main


@pytest.fixture(scope="module")
def cut_capture(tmp_path_factory):
    """An 8-bit face capture whose center photo is a JPEG cut mid-scan (8-bit throughout, so
    nothing but the cut can stop the run)."""
    root = tmp_path_factory.mktemp("cut")
    assert main(["simulate", "subject", "--kind", "face", "--seed", "0", "--size", "64",
                 "--bits", "8", "--out", str(root / "cap")]) == 0
    png = root / "cap" / "center.png"
    ok, buf = cv2.imencode(".jpg", cv2.imread(str(png)), [cv2.IMWRITE_JPEG_QUALITY, 95])
    assert ok
    data = buf.tobytes()
    png.unlink()
    (root / "cap" / "center.jpg").write_bytes(data[:len(data) * 2 // 3])
    return root


def test_normals_refuses_a_cut_photo(cut_capture, capsys):
    out = cut_capture / "normals"
    code = main(["normals", str(cut_capture / "cap"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "center.jpg: damaged or truncated JPEG" in err and "Traceback" not in err
    assert not out.exists()


def test_landmarks_refuses_a_cut_photo(cut_capture, capsys, tmp_path):
    out = tmp_path / "x.json"
    code = main(["landmarks", str(cut_capture / "cap" / "center.jpg"), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "center.jpg: damaged or truncated JPEG" in err
    assert not out.exists()
