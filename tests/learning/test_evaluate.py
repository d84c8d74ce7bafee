"""Evaluation: regions from the landmarks, a report of runs side by side, clear refusals."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from learning import checkpoint
from learning.model import UNet
from learning.regions import REGIONS, parts, region_masks
from learning.sample_format import read_sample
from photometric.errors import InputError
from tests.conftest import mode


def test_the_parts_table_is_face_mesh_s():
    from learning.preprocess import part_indices

    for name, idx in part_indices().items():
        assert sorted(parts()[name].tolist()) == sorted(int(i) for i in idx), name


def test_regions_are_disjoint_and_where_the_face_is(small_dataset):
    manifest = json.loads((small_dataset / "manifest.json").read_text())
    s = read_sample(small_dataset / "samples" / manifest["samples"][0]["file"], "points")
    size = s.image.shape[0]
    r = region_masks(s.landmarks, size)
    assert list(r) == list(REGIONS)
    stack = np.stack(list(r.values()))
    assert (stack.sum(0) <= 1).all()  # disjoint
    assert all(m.any() for m in r.values())
    rows = np.arange(size)[:, None] * np.ones((1, size))
    assert rows[r["forehead"]].mean() < rows[r["eyes"]].mean() < rows[r["mouth"]].mean()


@pytest.fixture
def held_out(tmp_path, small_dataset):
    """The small dataset with its one sample moved to the test split."""
    out = tmp_path / "ds"
    shutil.copytree(small_dataset, out)
    manifest = json.loads((out / "manifest.json").read_text())
    for s in manifest["samples"]:
        s["split"] = "test"
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def _run(folder, channels, seed, encoding="points", size=64, people=None):
    import torch

    torch.manual_seed(seed)
    folder.mkdir()
    data = {"encoding": encoding, "size": size, "framing": "person"}
    if people is not None:
        data["people"] = people
    checkpoint.save_model(folder / "best.safetensors", UNet(channels, base=8),
                          {"model": {"preset": "test"}, "dataset": data})
    return folder


def test_two_runs_side_by_side(held_out, tmp_path, capsys):
    from booth.cli import main

    a, b = _run(tmp_path / "a", 5, 1), _run(tmp_path / "b", 5, 2)
    report = tmp_path / "report"
    assert main(["evaluate", str(a), str(b), "--dataset", str(held_out), "--out", str(report),
                 "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "a (points): cosine" in out and "b (points): cosine" in out
    md = (report / "report.md").read_text()
    assert "| a (points) |" in md and "| b (points) |" in md and "figure.png" in md
    for region in REGIONS:
        assert f"| {region} |" in md
    data = json.loads((report / "metrics.json").read_text())
    assert len(data) == 2 and -1 <= data[0]["overall"]["cosine"] <= 1
    assert set(data[0]["regions"]) == set(REGIONS) and list(data[0]["subjects"]) == ["p2"]
    fig = (report / "figure.png").stat().st_size
    assert fig > 0 and "<table>" in (report / "report.html").read_text()
    # the figure shows held-out people: owner-only, as everything of the report
    assert all(mode(p) == 0o600 for p in report.iterdir())


def test_a_run_of_other_channels_is_refused(held_out, tmp_path, capsys):
    from booth.cli import main

    rgb = _run(tmp_path / "rgb", 3, 1, encoding="none")
    assert main(["evaluate", str(rgb), "--dataset", str(held_out), "--out",
                 str(tmp_path / "r"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "trained on none inputs (3 channels)" in err and "points (5 channels)" in err
    assert not (tmp_path / "r").exists()
    with pytest.raises(InputError, match="split is empty"):
        from learning.evaluation import score_run

        score_run(rgb, held_out, split="val")


def test_a_run_is_not_scored_on_people_it_saw_nor_off_its_size(held_out, tmp_path, capsys):
    """The held-out split holds p2: a run that trained (or was chosen) on p2 is refused,
    naming p2; so is a run trained on crops of another size."""
    from booth.cli import main

    for i, people in enumerate(({"train": ["p1", "p2"], "val": []},
                                {"train": ["p1"], "val": ["p2"]})):
        run = _run(tmp_path / f"saw{i}", 5, 1, people=people)
        assert main(["evaluate", str(run), "--dataset", str(held_out), "--out",
                     str(tmp_path / f"r{i}"), "--device", "cpu"]) == 2
        err = capsys.readouterr().err
        assert "1 of the people in" in err and "(p2)" in err and err.count("\n") == 1
    fair = _run(tmp_path / "fair", 5, 1, people={"train": ["p1"], "val": ["p3"]})
    assert main(["evaluate", str(fair), "--dataset", str(held_out), "--out",
                 str(tmp_path / "fair-report"), "--device", "cpu"]) == 0
    big = _run(tmp_path / "big", 5, 1, size=128)
    assert main(["evaluate", str(big), "--dataset", str(held_out), "--out",
                 str(tmp_path / "r3"), "--device", "cpu"]) == 2
    assert "trained on 128-pixel crops" in capsys.readouterr().err


def test_the_figure_shows_the_subjects_asked_for(held_out, tmp_path, capsys):
    from booth.cli import main
    from learning.evaluation import evaluate

    a = _run(tmp_path / "a", 5, 1)
    [score] = evaluate([a], [held_out], tmp_path / "r1", device="cpu", show=["p2"])
    assert score.shown == [0] and len(score.examples) == 1
    # the figure has that sample's row: photo, target, prediction, error, 192 px each
    fig = cv2.imread(str(tmp_path / "r1" / "figure.png"))
    [none] = evaluate([a], [held_out], tmp_path / "r0", device="cpu", examples=0)
    empty = cv2.imread(str(tmp_path / "r0" / "figure.png"))  # captions and scale alone
    assert none.shown == [] and fig.shape[1] == empty.shape[1] == 4 * 192
    assert fig.shape[0] == empty.shape[0] + 192
    report = tmp_path / "r2"
    assert main(["evaluate", str(a), "--dataset", str(held_out), "--out", str(report),
                 "--device", "cpu", "--show", "nobody"]) == 2
    err = capsys.readouterr().err
    assert "--show: nobody: not in this split (its subjects: p2" in err
    assert not report.exists()
