"""The operator's main flows, driven with Pilot on the simulated booth."""

import yaml

from booth.session import SessionStore
from booth.tui.screens.calibrate import CalibrateScreen
from booth.tui.screens.capture import CaptureScreen
from booth.tui.screens.session_main import SessionScreen
from booth.tui.script import add_subject, open_session, until
from tests.booth.tui.conftest import until_thumbnails_shown


async def test_session_subject_capture_thumbnails_retake(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await add_subject(pilot)
        assert isinstance(app.screen, SessionScreen)
        await pilot.press("c")
        assert isinstance(app.screen, CaptureScreen)
        screen = app.screen
        await until(pilot, lambda: screen.finished is not None, what="the capture")
        result = screen.finished.result
        assert result.status == "complete", screen.finished
        assert screen.finished.processed.warnings == []
        titles = await until_thumbnails_shown(pilot, screen)
        assert titles == ["center", "left", "right", "top", "bottom", "normals"]
        assert "complete" in str(screen.query_one("#capture-status").render())
        # Retake: a new capture supersedes the first.
        await pilot.press("r")
        await until(pilot, lambda: app.screen is not screen and app.screen.finished is not None,
                    what="the retake")
        assert app.screen.finished.result.status == "complete"
        await pilot.press("escape")
        assert isinstance(app.screen, SessionScreen)
        infos = SessionStore(tmp_path / "sessions").session("s1").verify()
        assert [i.status for i in infos] == ["complete", "complete"]
        assert infos[0].superseded_by == infos[1].capture_id
        table = app.screen.query_one("#captures")
        assert table.row_count == 2


async def test_capture_without_consent_is_refused(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await add_subject(pilot, "p2", consent=False)
        assert app.screen.__class__.__name__ == "AddSubjectScreen"
        assert "consent is required" in str(app.screen.query_one("#subject-error").render())
        await pilot.press("escape")
        await pilot.press("c")
        assert isinstance(app.screen, SessionScreen)
        assert any("add a subject first" in ln for ln in app.log_lines)
    assert not (tmp_path / "sessions" / "s1" / "subjects" / "p2").exists()


async def test_calibrate_and_use(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await pilot.press("k")
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, CalibrateScreen)
        await until(pilot, lambda: screen.outcome is not None, what="the calibration")
        assert screen.query_one("#lights").row_count == 5
        assert "residual on the sphere" in str(screen.query_one("#residual").render())
        await pilot.press("u")
        assert isinstance(app.screen, SessionScreen)
    meta = yaml.safe_load((tmp_path / "sessions" / "s1" / "session.yaml").read_text())
    assert meta["calibration_id"] == screen.outcome.calibration_id


async def test_review_mark_a_retake_and_clear_it(make_app, tmp_path):
    from booth.capture_review import read_mark
    from booth.tui.screens.home import HomeScreen
    from booth.tui.screens.review import ReviewScreen
    from booth.tui.script import add_subject, capture
    from booth.tui.widgets.thumbs import Thumbnail

    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await add_subject(pilot)
        await capture(pilot)
        await pilot.press("escape", "escape", "escape")
        assert isinstance(app.screen, HomeScreen)
        await pilot.press("v")
        screen = app.screen
        assert isinstance(screen, ReviewScreen)
        await until(pilot, lambda: len(screen.query(Thumbnail)) == 8, what="the pictures")
        assert [t.title for t in screen.query(Thumbnail)] == [
            "center", "left", "right", "top", "bottom", "normals", "albedo", "confidence"]
        [row] = screen.rows.values()
        assert str(row.info.path) in str(screen.query_one("#review-detail").render())
        await pilot.press("r", *"eyes shut", "enter")
        await until(pilot, lambda: read_mark(row.info.path) is not None, what="the mark")
        assert read_mark(row.info.path).note == "eyes shut"
        table = screen.query_one("#review-table")
        assert table.get_row_at(0)[3] == "marked for retake"
        await pilot.press("o")
        assert str(row.info.path) in app.log_lines[-1]
        await pilot.press("u")
        await until(pilot, lambda: read_mark(row.info.path) is None, what="the mark cleared")
        assert table.get_row_at(0)[3] == "complete"


async def test_relight_a_capture_by_keys_and_save(make_app, tmp_path):
    import numpy as np

    from booth.tui.screens.relight import RelightScreen
    from booth.tui.script import add_subject, capture

    app = make_app(work=tmp_path / "work")
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await add_subject(pilot)
        await capture(pilot)
        await pilot.press("escape", "escape", "escape", "v")
        await until(pilot, lambda: app.screen.rows, what="the review")
        await pilot.press("l")  # relight the highlighted capture
        screen = app.screen
        assert isinstance(screen, RelightScreen)
        await until(pilot, lambda: screen.frame is not None, what="the relit portrait")
        first = screen.frame.copy()
        await pilot.press("left", "left")  # the key light moves toward the image's left
        assert screen.light.azimuth == -55.0
        moved = screen.frame.copy()
        h, w = moved.shape[:2]
        left, right = moved[:, : w // 2].mean(), moved[:, w // 2:].mean()
        assert not np.array_equal(first, moved) and left > right
        await pilot.press("plus")
        assert screen.frame.mean() > moved.mean()
        await pilot.press("p")
        assert screen.light.preset == "studio"
        await pilot.press("left")  # an environment does not move: said, not done
        assert screen.light.azimuth == -55.0 and "arrows move the key light" in app.log_lines[-1]
        for _ in range(4):
            await pilot.press("p")
        assert screen.light.preset == "flash center"
        await pilot.press("h", "g")
        assert screen.light.shadows and screen.light.specular
        assert "shadows and specular" in str(screen.query_one("#relight-status").render())
        await pilot.press("w")
        await until(pilot, lambda: screen.saved is not None, what="the saved picture")
        assert screen.saved.is_file() and screen.saved.name == "relit.png"
        assert (screen.saved.parent / "relight.yaml").is_file()


async def test_predict_a_photo_relight_by_keys_and_save_the_orbit(make_app, tmp_path):
    """A real portrait (scikit-image's astronaut), its normals predicted by the shipped booth
    model, relit by the arrow keys; the orbit saved as GIF and MP4."""
    import numpy as np
    from PIL import Image
    from skimage import data

    from booth.tui.screens.relight import RelightScreen

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    app = make_app(work=tmp_path / "work")
    async with app.run_test(size=(140, 48)) as pilot:
        await pilot.press("p")
        screen = app.screen
        assert isinstance(screen, RelightScreen)
        screen.query_one("#source").value = str(photo)
        screen.query_one("#normals").value = "booth"
        await pilot.click("#open")
        await until(pilot, lambda: screen.frame is not None, timeout=120,
                    what="the predicted portrait")
        assert "predicted by booth" in screen.portrait.source["normals"]
        before = screen.frame.copy()
        await pilot.press("right", "right", "right")
        after = screen.frame
        w = after.shape[1]
        # the light went from the left (az -35) to the right (az -5): the right half brightens
        assert after[:, w // 2:].mean() > before[:, w // 2:].mean()
        assert not np.array_equal(before, after)
        await pilot.press("o")
        await until(pilot, lambda: screen.saved is not None, timeout=180, what="the orbit")
        assert screen.saved.name == "orbit.gif"
        assert (screen.saved.parent / "orbit.mp4").stat().st_size > 0
