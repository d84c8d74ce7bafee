"""The models screen: two runs marked and scored side by side by booth evaluate as a job, the
report's tables and figure shown with their paths."""

import json

import pytest

from booth.cli import main
from booth.tui.screens.evaluate import EvaluateScreen, report_tables
from booth.tui.script import until
from booth.tui.widgets.thumbs import Thumbnail


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    assert main(["simulate", "people", "6", "--lighting", "portrait", "--size", "96",
                 "--out", str(root / "people"), "--workers", "1"]) == 0
    for enc in ("points", "none"):
        assert main(["export", str(root / "people"), "--out", str(root / f"ds-{enc}"),
                     "--size", "64", "--workers", "1", "--encoding", enc,
                     "--split", "0.4,0.2,0.4"]) == 0
    work = root / "work"
    for name, enc in (("a", "points"), ("b", "points")):
        assert main(["train", str(root / f"ds-{enc}"), "--out", str(work / "runs" / name),
                     "--epochs", "1", "--batch", "2", "--workers", "0",
                     "--seed", str(ord(name))]) == 0
    return root


async def test_two_runs_side_by_side(make_app, runs):
    app = make_app(work=runs / "work")
    async with app.run_test(size=(160, 50)) as pilot:
        await until(pilot, lambda: app.station is not None, what="the booth")
        await pilot.press("m")
        screen = app.screen
        assert isinstance(screen, EvaluateScreen)
        table = screen.query_one("#models")
        names = [table.get_row_at(i)[1] for i in range(table.row_count)]
        assert names[-2:] == ["a", "b"] and "booth" in names  # the shipped model too
        screen.query_one("#eval-dataset").value = str(runs / "ds-points")
        table.focus()
        table.move_cursor(row=names.index("a"))
        await pilot.press("space", "down", "space")
        manifest = json.loads((runs / "ds-points" / "manifest.json").read_text())
        subjects = sorted({s["subject"] for s in manifest["samples"] if s["split"] == "test"})
        screen.query_one("#eval-show").value = subjects[-1]  # the figure: this sitter alone
        assert [table.get_row_at(i)[0] for i in range(table.row_count)][-2:] == ["✓", "✓"]
        await pilot.press("e")
        await until(pilot, lambda: screen.shown is not None
                    and screen.shown.parent.name == "a-b", timeout=240,
                    what="the evaluation's report")
        tables = report_tables(screen.shown)
        overall = tables[0]
        assert [row[0] for row in overall[2]] == ["a (points)", "b (points)"], overall
        shown = [t for t in screen.query(".report-table")]
        assert len(shown) == len(tables) >= 2
        assert len(screen.query(Thumbnail)) == 1
        assert screen.job.meta()["argv"][-2:] == ["--show", subjects[-1]]
        assert str(screen.shown) in str(screen.query_one("#report-path").render())
