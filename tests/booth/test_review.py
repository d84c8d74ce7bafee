"""Review after the sitters leave: rows with QC warnings, retake marks (the CLI and the app
call one function), and an export that leaves a marked capture out, naming the mark."""

import numpy as np
import pytest
import yaml

from booth.capture_review import REVIEW_FILE, mark_retake, pictures, read_mark, review
from booth.cli import main
from booth.dataset_sources import export_sources
from booth.session import SessionError
from tests.conftest import snapshot, store_capture


def _photos(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {ch: rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)
            for ch in ("center", "left", "right", "top", "bottom")}


@pytest.fixture
def two(session):
    a = store_capture(session, "p1", _photos(1))
    b = store_capture(session, "p2", _photos(2))
    (a / "derived").mkdir()
    (a / "derived" / "qc.yaml").write_text(yaml.safe_dump({"warnings": [
        {"check": "moved", "channel": "left", "message": "the sitter moved 3 px"}]}))
    return session, a, b


def test_rows_warnings_pictures_and_marks(two):
    session, a, b = two
    rows = review(session)
    assert [r.info.subject for r in rows] == ["p1", "p2"]
    assert rows[0].warnings == ["the sitter moved 3 px"] and rows[1].warnings == []
    assert rows[0].info.started  # the time it began, for the operator
    assert list(pictures(a)) == ["center", "left", "right", "top", "bottom"]
    before = (a / "capture.yaml").read_bytes()
    mark_retake(session, "p1", a.name, note="eyes closed")
    assert (a / "capture.yaml").read_bytes() == before  # the record is never touched
    [first, second] = review(session)
    assert first.state == "marked for retake" and first.retake.note == "eyes closed"
    assert second.state == "complete"
    mark_retake(session, "p1", a.name, clear=True)
    assert read_mark(a) is None and not (a / REVIEW_FILE).exists()


def test_an_export_leaves_a_marked_capture_out(two):
    session, a, b = two
    sources, rejected = export_sources([session.path.parent])
    assert [s.subject for s in sources] == ["p1", "p2"] and rejected == []
    mark_retake(session, "p2", b.name, note="blurred")
    sources, rejected = export_sources([session.path.parent])
    assert [s.subject for s in sources] == ["p1"]
    assert [o.reason for o in rejected] == ["marked for retake in review (blurred)"]


def test_cli_mark_list_and_refusals(two, capsys):
    session, a, b = two
    root = session.path.parent
    assert main(["sessions", "mark", str(session.path), f"p1/{a.name}", "--note", "blink"]) == 0
    assert "marked for retake" in capsys.readouterr().out
    assert main(["sessions", "list", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"p1/{a.name}  complete, marked for retake (blink)" in out
    before = snapshot(root)
    assert main(["sessions", "mark", str(session.path), "p1/nosuch"]) != 0
    err = capsys.readouterr().err
    assert "no capture p1/nosuch" in err and "Traceback" not in err
    assert main(["sessions", "mark", str(session.path), "p1"]) != 0
    assert "expected SUBJECT/CAPTURE" in capsys.readouterr().err
    assert snapshot(root) == before
    assert main(["sessions", "mark", str(session.path), f"p1/{a.name}", "--clear"]) == 0
    assert read_mark(a) is None


def test_a_partial_capture_is_not_marked(session):
    w = session.begin_capture("p1")
    w.add_shot("center", "center.png", b"x")
    [info] = session.captures()
    assert info.status == "partial"
    with pytest.raises(SessionError, match="partial"):
        mark_retake(session, "p1", info.capture_id)
