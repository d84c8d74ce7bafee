"""Keys as a keyboard user types them: a burst faster than the screen redraws is handled in
order, each key where the screen before it sent it; the subject form's Tab, Space and Enter."""

import yaml
from textual import events

from booth.session import SessionStore
from booth.tui.screens.session_main import SessionScreen
from booth.tui.screens.subject import AddSubjectScreen
from booth.tui.script import open_session, until

KEY_NAMES = {"\t": "tab", "\r": "enter", " ": "space"}


def burst(app, text: str) -> None:
    """Every key of ``text`` into the app's queue at once, as a terminal delivers a fast
    typist's burst (``\\t`` Tab, ``\\r`` Enter)."""
    for ch in text:
        app.post_message(events.Key(KEY_NAMES.get(ch, ch), ch))


async def test_burst_on_the_sessions_form_fills_each_field(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await until(pilot, lambda: app.station is not None, what="the booth")
        await pilot.press("s")
        app.screen.query_one("#session-name").focus()
        burst(app, "fast1\topx\r")
        await until(pilot, lambda: isinstance(app.screen, SessionScreen), what="the session")
        await pilot.pause(0.2)  # the new screen mounted before the app closes
    meta = yaml.safe_load((tmp_path / "sessions" / "fast1" / "session.yaml").read_text())
    assert meta["operator"] == "opx"
    assert [p.name for p in (tmp_path / "sessions").iterdir()] == ["fast1"]


async def test_burst_opens_the_form_and_fills_it(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        # a opens the form; the id, Tab past the note, Space ticks consent, Enter submits;
        # then c starts the capture from the session screen the form returned to.
        burst(app, "ap7\t\t \r")
        await until(pilot, lambda: isinstance(app.screen, SessionScreen)
                    and app.screen.query_one("#captures").row_count == 1, what="subject p7")
    [subject] = SessionStore(tmp_path / "sessions").session("s1").subjects()
    assert subject == "p7"


async def test_space_ticks_consent_and_enter_submits(make_app, tmp_path):
    app = make_app()
    async with app.run_test(size=(140, 48)) as pilot:
        await open_session(pilot)
        await pilot.press("a")
        form = app.screen
        assert isinstance(form, AddSubjectScreen)
        await pilot.press("p", "8", "tab", "tab")
        assert app.focused.id == "consent"
        # Enter on the unticked box submits: refused for want of consent, the box unchanged
        await pilot.press("enter")
        assert app.screen is form
        assert "consent is required" in str(form.query_one("#subject-error").render())
        assert form.query_one("#consent").value is False
        await pilot.press("space")
        assert form.query_one("#consent").value is True
        assert str(form.query_one("#subject-error").render()) == ""  # the old error is gone
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SessionScreen), what="the form closing")
    assert SessionStore(tmp_path / "sessions").session("s1").subjects() == ["p8"]


async def test_a_long_error_is_shown_whole(make_app):
    app = make_app()
    async with app.run_test(size=(100, 40)) as pilot:
        await open_session(pilot)
        await pilot.press("a", *"../" * 30, "tab", "tab", "space", "enter")
        label = app.screen.query_one("#subject-error")
        text = str(label.render())
        assert text and label.size.height >= 2, (text, label.size)
