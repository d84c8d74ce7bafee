"""Dataset export from session stores: samples, splits by subject, skips, resume; the torch
Dataset; the command line."""

import json
import re

import numpy as np
import pytest
import torch

from booth.cli import main
from booth.dataset_sources import export_sources
from learning import dataset, sample_format, splits, workers
from learning import exporter as export
from tests.conftest import wait_until


def test_splits_are_by_subject_and_seeded():
    subjects = [f"p{i}" for i in range(50)]
    s0 = splits.assign_splits(subjects, (0.8, 0.1, 0.1), seed=0)
    assert set(s0) == set(subjects) and set(s0.values()) == set(splits.SPLITS)
    assert splits.assign_splits(list(reversed(subjects)), (0.8, 0.1, 0.1), seed=0) == s0
    assert splits.assign_splits(subjects, (0.8, 0.1, 0.1), seed=1) != s0
    assert set(splits.assign_splits(subjects, (1.0, 0.0, 0.0), seed=0).values()) == {"train"}
    assert set(splits.assign_splits(subjects, (0.0, 0.0, 1.0), seed=0).values()) == {"test"}


def test_a_persons_split_never_moves_when_others_come_or_go():
    """A pure function of the person and the seed: growing the dataset from 520 to 572
    people, or leaving one out, moves nobody (the old shuffle moved 23 of 52 test people
    into train); the shares come out as asked over many people."""
    people = [f"person-{i:06d}" for i in range(20000)]
    small = splits.assign_splits(people[:520], (0.8, 0.1, 0.1), seed=0)
    grown = splits.assign_splits(people[:572], (0.8, 0.1, 0.1), seed=0)
    assert all(grown[p] == small[p] for p in small)
    fewer = splits.assign_splits(people[1:520], (0.8, 0.1, 0.1), seed=0)
    assert all(fewer[p] == small[p] for p in fewer)
    every = splits.assign_splits(people, (0.8, 0.1, 0.1), seed=0)
    shares = [list(every.values()).count(k) / len(people) for k in splits.SPLITS]
    np.testing.assert_allclose(shares, (0.8, 0.1, 0.1), atol=0.01)


def test_export_skips_with_reasons_splits_by_subject_and_resumes(store, tmp_path):
    sources, rejected = export_sources([store])
    assert len(sources) == 6 and [r.key.split("/")[1] for r in rejected] == ["p9"]
    assert "left.png altered" in rejected[0].reason
    out = tmp_path / "ds"
    settings = export.Settings(size=96, split=(0.5, 0.25, 0.25), seed=3)
    result = export.export(sources, out, settings, workers=1, rejected=rejected)
    assert len(result.exported) == 5 and result.reused == 0
    assert {o.key.split("/")[1]: o.reason for o in result.skipped} == {
        "ball": "no face found (Face Mesh): is the subject facing the camera and lit by the "
                "ring flash?", "p9": rejected[0].reason}
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["exported"] == 5 and m["counts"]["skipped"] == 2
    # p1 is in both sessions: one person, one split.
    splits = {s["subject"]: set() for s in m["samples"]}
    for s in m["samples"]:
        splits[s["subject"]].add(s["split"])
    assert all(len(v) == 1 for v in splits.values())
    assert sum(s["subject"] == "p1" for s in m["samples"]) == 2
    report = (out / "report.txt").read_text()
    assert "skipped a/ball/" in report and "no face found" in report
    # A sample loads with numpy alone.
    with np.load(out / "samples" / m["samples"][0]["file"]) as z:
        assert z["image"].shape == (96, 96, 3) and z["channels"].shape == (96, 96, 2)
        n = z["normals"].astype(np.float32)[z["mask"]]
        np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1, atol=2e-3)
        assert json.loads(str(z["meta"]))["variant"] == "original"
    # Run again: everything reused.
    again = export.export(sources, out, settings, rejected=rejected)
    assert again.reused == 6 and len(again.exported) == 5
    # An interrupted run: the last sample's index line never written, a partial file left.
    lines = (out / "index.jsonl").read_text().splitlines()
    (out / "index.jsonl").write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    (out / "samples" / ".x.partial.npz").write_bytes(b"half")
    resumed = export.export(sources, out, settings, rejected=rejected)
    assert resumed.reused == 5 and len(resumed.exported) == 5
    assert not list((out / "samples").glob(".*"))
    assert export.export(sources, out, settings, rejected=rejected).reused == 6
    # Other settings: nothing reused.
    other = export.export(sources, out, export.Settings(size=64, encoding="none"))
    assert other.reused == 0


def test_parallel_export_with_augmentation_and_torch_dataset(store, tmp_path):
    sources, _ = export_sources([store])
    out = tmp_path / "ds"
    settings = export.Settings(size=64, augment=True, split=(1.0, 0.0, 0.0))
    result = export.export(sources, out, settings, workers=2)
    assert len(result.exported) == 5 and all(len(o.files) == 6 for o in result.exported)
    ds = dataset.SampleDataset(out, "train", seed=1)
    assert len(ds) == 30
    item = ds[0]
    assert item["input"].shape == (5, 64, 64) and item["input"].dtype == torch.float32
    assert item["normals"].shape == (3, 64, 64) and item["mask"].shape == (1, 64, 64)
    same = dataset.SampleDataset(out, "train", seed=1)[0]
    assert torch.equal(item["input"], same["input"])
    ds.set_epoch(1)
    assert not torch.equal(ds[0]["input"], item["input"])
    # On-the-fly augmentation changes the photo (a brightness factor, maybe a flip) but
    # never the geometry's consistency: the mask is the flip of the plain one or the same.
    plain = dataset.SampleDataset(out, "train", augment_on_the_fly=False)[0]
    assert not torch.equal(item["input"][:3], plain["input"][:3])
    assert torch.equal(item["mask"], plain["mask"]) or \
        torch.equal(item["mask"], plain["mask"].flip(-1))
    loader = torch.utils.data.DataLoader(ds, batch_size=4)
    batch = next(iter(loader))
    assert batch["input"].shape == (4, 5, 64, 64)


def test_augmented_copies_are_made_for_the_train_split_alone(store, tmp_path):
    sources, _ = export_sources([store])
    settings = export.Settings(size=64, augment=True, split=(0.4, 0.3, 0.3), seed=2)
    result = export.export(sources, tmp_path / "ds", settings, workers=1)
    m = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    split = {o.key: splits.split_of(o.subject, settings.split, settings.seed)
             for o in result.exported}
    assert {"train"} < set(split.values())  # some people held out
    for o in result.exported:
        assert len(o.files) == (6 if split[o.key] == "train" else 1), o.key
    assert all(s["split"] == split[s["key"]] for s in m["samples"])
    # Another split seed moves people, so their samples are made again (not reused).
    again = export.export(sources, tmp_path / "ds",
                          export.Settings(size=64, augment=True, split=(0.4, 0.3, 0.3),
                                          seed=5), workers=1)
    assert again.reused == 0


def test_cli_landmarks_and_export(store, tmp_path, capsys):
    import skimage.data

    from photometric.io import imageio

    img = tmp_path / "astronaut.png"
    imageio.write_image(img, skimage.data.astronaut())
    assert main(["landmarks", str(img), "--out", str(tmp_path / "lm.json"),
                 "--overlay", str(tmp_path / "mesh.png")]) == 0
    doc = json.loads((tmp_path / "lm.json").read_text())
    assert len(doc["landmarks"]) == 478 and doc["width"] == 512
    assert imageio.read_image(tmp_path / "mesh.png").shape == (512, 512, 3)
    blank = tmp_path / "blank.png"
    imageio.write_image(blank, np.zeros((64, 64, 3), np.uint8))
    capsys.readouterr()
    assert main(["landmarks", str(blank), "--out", str(tmp_path / "x.json")]) == 2
    assert f"{blank}: no face found" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
    out = tmp_path / "cli-ds"
    assert main(["export", str(store), "--out", str(out), "--size", "64", "--workers", "1",
                 "--encoding", "dense"]) == 0
    text = capsys.readouterr().out
    assert "exported 5 captures (0 reused), skipped 2" in text
    assert json.loads((out / "manifest.json").read_text())["settings"]["encoding"] == "dense"
    assert main(["export", str(store), "--out", str(out), "--split", "1,2"]) == 2
    capsys.readouterr()
    # Run again with other settings (the size left out: its default, 512): it says so.
    assert main(["export", str(store), "--out", str(out), "--workers", "1", "--size", "96",
                 "--encoding", "dense"]) == 0
    text = capsys.readouterr().out
    assert (f"settings changed since the last export into {out}: size 64 -> 96; 5 earlier "
            "captures made again") in text and "exported 5 captures (0 reused)" in text


def test_export_killed_midway_resumes(store, tmp_path):
    """SIGKILL the export command after its first sample; the rerun finishes the rest and
    reuses what was done."""
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "booth", "export", str(store), "--out", str(out),
           "--size", "64", "--workers", "1"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def first_sample_done() -> bool:
        index = out / "index.jsonl"
        return index.is_file() and index.read_text().count("\n") > 0

    try:
        wait_until(lambda: first_sample_done() or proc.poll() is not None,
                   "the export's first sample", timeout=120, every=0.002)
    finally:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = (out / "index.jsonl").read_text().count("\n")
    assert 1 <= done_before < 6, "the kill should land mid-export"
    assert not (out / "manifest.json").exists()
    for f in (out / "samples").iterdir():  # whatever is there is whole
        if not f.name.startswith("."):
            np.load(f)["normals"]
    run = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    assert run.returncode == 0, run.stderr
    assert f"({done_before} reused)" in run.stdout
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["exported"] == 5


@pytest.mark.parametrize("shape", [(64, 64, 3), (64, 64, 2), (64, 64, 0), (64, 64), (7, 478)])
def test_half_conversions_match_numpy(shape):
    rng = np.random.default_rng(0)
    a = (rng.normal(size=shape) * 10.0 ** rng.integers(-9, 6, size=shape)).astype(np.float32)
    flat = a.reshape(-1)
    special = np.array([0, -0.0, 1, -1, 6e-8, 65504, 65520, 1e6, np.inf, -np.inf], np.float32)
    flat[:min(flat.size, special.size)] = special[:flat.size]
    with np.errstate(over="ignore"):
        expected = a.astype(np.float16)
    half = sample_format.to_half(a)
    assert half.dtype == np.float16 and half.shape == a.shape
    np.testing.assert_array_equal(half.view(np.uint16), expected.view(np.uint16))
    back = sample_format.from_half(half)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, expected.astype(np.float32))


def test_sample_file_deflates_what_pays_and_compress_deflates_all(store, tmp_path):
    import zipfile

    sources, _ = export_sources([store])
    face = [s for s in sources if s.subject == "p2"]
    files = {}
    for compress in (False, True):
        out = tmp_path / str(compress)
        export.export(face, out, export.Settings(size=96, compress=compress))
        [files[compress]] = (out / "samples").glob("*.npz")
    with zipfile.ZipFile(files[False]) as zf:
        kinds = {i.filename: i.compress_type for i in zf.infolist()}
    assert kinds["image.npy"] == kinds["normals.npy"] == zipfile.ZIP_STORED
    assert kinds["channels.npy"] == kinds["mask.npy"] == zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(files[True]) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    # A crop of a person (hair, skin, clothes) deflates to about 0.8 of its stored size.
    assert files[True].stat().st_size < 0.9 * files[False].stat().st_size
    with np.load(files[False]) as a, np.load(files[True]) as b:
        assert set(a.files) == set(b.files)
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])


def test_workers_start_with_one_blas_thread():
    """Workers are pinned one per core; a BLAS pool sized in the unpinned fork server would
    spin its threads on that one core (a dense export ran 13x slower)."""
    import concurrent.futures as cf
    import os

    with cf.ProcessPoolExecutor(1, mp_context=workers.context()) as pool:
        assert pool.submit(os.getenv, "OPENBLAS_NUM_THREADS").result() == "1"
        assert pool.submit(os.getenv, "OMP_NUM_THREADS").result() == "1"


def _copy(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_torch_dataset_names_a_missing_or_malformed_manifest(small_dataset, tmp_path):
    from photometric.errors import InputError

    assert len(dataset.SampleDataset(small_dataset, "train")) == 1
    ds = _copy(small_dataset, tmp_path / "ds")
    manifest = ds / "manifest.json"
    good = manifest.read_text()
    manifest.unlink()
    with pytest.raises(InputError, match=f"{re.escape(str(manifest))}: not found"):
        dataset.SampleDataset(ds)
    for text, why in [("{not json", "not JSON"), ('{"a": 1}', "missing format_version"),
                      ("[1, 2]", "expected a JSON object"),
                      (good.replace('"encoding": "points"', '"encoding": 3'),
                       "settings.encoding"),
                      (good.replace('"split": "train"', '"split": "dev"'), r"samples\[0\]"),
                      (good.replace('"file": "', '"file": "../'), r"samples\[0\].file")]:
        manifest.write_text(text)
        with pytest.raises(InputError, match=f"{re.escape(str(manifest))}: .*{why}"):
            dataset.SampleDataset(ds)
    manifest.write_text(good)
    with pytest.raises(InputError, match="split: expected one of"):
        dataset.SampleDataset(ds, "dev")


def test_torch_dataset_names_a_missing_or_corrupt_sample_file(small_dataset, tmp_path):
    from photometric.errors import InputError

    ds = _copy(small_dataset, tmp_path / "ds")
    [sample] = (ds / "samples").glob("*.npz")
    good = sample.read_bytes()
    sample.unlink()
    with pytest.raises(InputError, match=f"{re.escape(str(sample))}: sample file not found"):
        dataset.SampleDataset(ds)
    sample.write_bytes(good)
    loaded = dataset.SampleDataset(ds)
    sample.unlink()  # gone after the Dataset was made: named when it is read
    with pytest.raises(InputError, match=f"{re.escape(str(sample))}: sample file not found"):
        loaded[0]
    for bad in (b"garbage", good[: len(good) // 2]):
        sample.write_bytes(bad)
        with pytest.raises(InputError, match=f"{re.escape(str(sample))}: "):
            loaded[0]
    np.save(tmp_path / "one.npy", np.zeros(3))
    sample.write_bytes((tmp_path / "one.npy").read_bytes())
    with pytest.raises(InputError, match=f"{re.escape(str(sample))}: .*not a .npz archive"):
        loaded[0]
    np.savez(sample.with_suffix(""), image=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(InputError, match=f"{re.escape(str(sample))}: .*missing channels"):
        loaded[0]
