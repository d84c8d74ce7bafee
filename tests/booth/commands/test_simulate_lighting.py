"""``booth simulate subject|people --lighting portrait`` and ``--from person.yaml``: portraits
with their truth and the record that renders them again."""

from __future__ import annotations

import cv2
import numpy as np
import yaml

from booth.cli import main


def test_a_portrait_subject_and_its_record_render_again(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["simulate", "subject", "--lighting", "portrait", "--seed", "3", "--take", "2",
                 "--size", "128", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} >= {"portrait.jpg", "truth", "person.yaml"}
    assert not (out / "center.png").exists() and not (out / "lights.yaml").exists()
    assert {p.name for p in (out / "truth").iterdir()} >= {"normals.npy", "mask.png",
                                                            "parts.png"}
    photo = cv2.imread(str(out / "portrait.jpg"))
    assert photo.shape == (128, 128, 3)
    record = yaml.safe_load((out / "person.yaml").read_text())
    assert (record["id"], record["take"], record["lighting"]) == (3, 2, "portrait")
    again = tmp_path / "again"
    assert main(["simulate", "subject", "--from", str(out / "person.yaml"), "--size", "128",
                 "--out", str(again)]) == 0
    assert (again / "portrait.jpg").read_bytes() == (out / "portrait.jpg").read_bytes()
    np.testing.assert_array_equal(np.load(again / "truth" / "normals.npy"),
                                  np.load(out / "truth" / "normals.npy"))
    assert "portrait light" in capsys.readouterr().out


def test_portrait_light_refuses_what_it_cannot_do(tmp_path, capsys):
    assert main(["simulate", "subject", "--kind", "sphere", "--lighting", "portrait",
                 "--size", "64", "--out", str(tmp_path / "s")]) == 2
    assert "a person only" in capsys.readouterr().err
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: 3\ntake: 0\n")
    assert main(["simulate", "subject", "--from", str(bad), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "missing" in err and "Traceback" not in err
    assert main(["simulate", "people", "2", "--lighting", "portrait", "--store",
                 str(tmp_path / "store")]) == 2
    assert "session store" in capsys.readouterr().err


def test_a_portrait_population_says_how_each_person_looks(tmp_path, capsys):
    out = tmp_path / "pop"
    assert main(["simulate", "people", "3", "--lighting", "portrait", "--size", "96",
                 "--workers", "1", "--out", str(out)]) == 0
    index = yaml.safe_load((out / "people.yaml").read_text())
    assert index["lighting"] == "portrait" and len(index["people"]) == 3
    for entry in index["people"]:
        assert set(entry["looks"]) - {"glasses"} == {"skin type", "hair", "garment", "scene"}
        folder = out / entry["folder"]
        assert (folder / "portrait.jpg").is_file() and (folder / "truth" / "parts.png").is_file()
        assert yaml.safe_load((out / entry["record"]).read_text())["id"] == entry["id"]
    assert (out / "contact_sheet.png").is_file()
