"""Training: it learns, its checkpoints load back exactly, a resumed run ends where an
uninterrupted one does, and torchrun's two processes train one run."""

from __future__ import annotations

import csv
import os
import shutil
import stat
import subprocess
import sys

import pytest
import torch

from learning import checkpoint, metrics
from learning.trainer import Settings, train
from photometric.errors import InputError


def _rows(run):
    with open(run / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def test_a_small_net_overfits_a_sample(dataset, tmp_path):
    run = train(dataset, tmp_path / "run", Settings(epochs=90, batch=1, lr=3e-3, workers=0,
                                                     augment=False))
    rows = _rows(run)
    assert len(rows) == 90
    first, last = float(rows[0]["train_loss"]), float(rows[-1]["train_loss"])
    print(f"overfit: loss {first:.3f} -> {last:.4f}, angle {rows[-1]['train_mean_deg']}°")
    assert last < 0.1 * first
    assert float(rows[-1]["train_mean_deg"]) < 10.0
    for name in ("best", "last"):
        assert (run / f"{name}.safetensors").is_file() and (run / f"{name}.yaml").is_file()


def test_saved_weights_predict_the_same(dataset, tmp_path):
    run = train(dataset, tmp_path / "run", Settings(epochs=1, batch=1, workers=0))
    model, meta = checkpoint.load_model(run / "last.safetensors")
    assert meta["dataset"]["encoding"] == "points" and meta["model"]["preset"] == "small"
    checkpoint.save_model(tmp_path / "copy.safetensors", model, {"note": "copy"})
    again, _ = checkpoint.load_model(tmp_path / "copy.safetensors")
    x = torch.rand(2, 5, 64, 64)
    model.eval()
    again.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), again(x), rtol=0, atol=0)


def test_an_interrupted_run_resumes_to_the_same_weights(dataset, tmp_path):
    settings = Settings(epochs=4, batch=1, workers=0, seed=5)
    whole = train(dataset, tmp_path / "whole", settings)

    def stop_after_two(msg: str) -> None:
        if msg.startswith("epoch 2/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(dataset, tmp_path / "cut", settings, progress=stop_after_two)
    assert len(_rows(tmp_path / "cut")) == 2
    with pytest.raises(InputError, match="--resume"):
        train(dataset, tmp_path / "cut", settings)
    # Resumed with no options: the run's own settings (epochs, seed, batch) are used.
    train(dataset, tmp_path / "cut", Settings(workers=0), resume=True)
    a, _ = checkpoint.load_model(whole / "last.safetensors")
    b, meta = checkpoint.load_model(tmp_path / "cut" / "last.safetensors")
    assert meta["lr_used"] == settings.lr  # the base rate, not the schedule's where it resumed
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6, msg=name)
    assert [r["epoch"] for r in _rows(tmp_path / "cut")] == ["1", "2", "3", "4"]


def test_a_run_knows_its_data_and_resumes_on_nothing_else(dataset, tmp_path):
    """run.yaml records the data (size, encoding, manifest digest, the people of train and
    val); a finished run is not 'resumed' into doing nothing; options a resume will not
    honour are named; a dataset changed in place since the run began is refused."""
    import json

    import yaml

    from learning.pack import manifest_digest

    run = train(dataset, tmp_path / "run", Settings(epochs=1, batch=1, workers=0))
    data = yaml.safe_load((run / "run.yaml").read_text())["dataset"]
    assert data["size"] == 64 and data["encoding"] == "points"
    assert data["manifest_sha256"] == manifest_digest(dataset)
    assert data["people"] == {"train": ["p2"], "val": []}
    with pytest.raises(InputError, match="already trained 1 of 1 epochs; nothing to resume"):
        train(dataset, run, Settings(workers=0, epochs=2), resume=True)

    def stop_after_one(msg: str) -> None:
        if msg.startswith("epoch 1/"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(dataset, tmp_path / "cut", Settings(epochs=2, batch=1, workers=0),
              progress=stop_after_one)
    said: list[str] = []
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["settings"]["margin"] = 0.3  # the dataset re-exported in place, say
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="the dataset changed since this run began"):
        train(dataset, tmp_path / "cut", Settings(workers=0, lr=0.5), resume=True,
              progress=said.append)
    assert said == ["--resume trains as the run began; not honoured: --lr 0.5 (the run's: "
                    "0.001)"]


def test_a_tiny_run_scores_in_eval_mode_what_it_trained_on(dataset, tmp_path):
    """Three steps: BatchNorm's running averages would still be mostly their initial values
    and eval mode would predict nonsense (130° on the very sample trained on, against 67° in
    train mode); recomputed from the training data before scoring and saving
    (learning.norm_stats), eval mode agrees with training."""
    from learning.loader import Batches
    from learning.pack import open_split
    from learning.trainer import evaluate_loader

    run = train(dataset, tmp_path / "run", Settings(epochs=3, batch=1, workers=0))
    trained = float(_rows(run)[-1]["train_mean_deg"])
    model, _ = checkpoint.load_model(run / "last.safetensors")
    scored = evaluate_loader(model, Batches(open_split(dataset, "train"), 1), False)
    print(f"three steps: train mode {trained:.1f}°, eval mode {scored['mean_deg']:.1f}°")
    assert abs(scored["mean_deg"] - trained) < 10.0


def test_foreign_and_truncated_checkpoints_are_clear_errors(dataset, tmp_path):
    run = train(dataset, tmp_path / "run", Settings(epochs=1, batch=1, workers=0))
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes((run / "last.safetensors").read_bytes()[:1000])
    shutil.copy(run / "last.yaml", tmp_path / "cut.yaml")
    with pytest.raises(InputError, match="cut.safetensors: not a readable safetensors"):
        checkpoint.load_model(cut)
    (tmp_path / "x.safetensors").write_bytes(b"\x00" * 64)
    (tmp_path / "x.yaml").write_text("model: {name: resnet}\n")
    with pytest.raises(InputError, match="x.yaml: model: expected in_channels"):
        checkpoint.load_model(tmp_path / "x.safetensors")
    with pytest.raises(InputError, match="not found"):
        checkpoint.load_model(tmp_path / "none.safetensors")


def test_an_empty_split_and_a_foreign_folder_are_refused(dataset, tmp_path):
    import json

    manifest = json.loads((dataset / "manifest.json").read_text())
    for s in manifest["samples"]:
        s["split"] = "test"
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="train split is empty"):
        train(dataset, tmp_path / "run", Settings(epochs=1, workers=0))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    with pytest.raises(InputError):
        train(dataset, mine, Settings(epochs=1, workers=0))
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]


def test_metrics_on_hand_made_maps():
    n = torch.nn.functional.normalize(torch.rand(1, 3, 8, 8) + 0.1, dim=1)
    mask = torch.ones(1, 1, 8, 8, dtype=torch.bool)
    assert float(metrics.loss(n, n, mask)) == pytest.approx(0.0, abs=1e-6)
    s = metrics.summary(metrics.cosine(n, n).flatten(), metrics.angles_deg(n, n).flatten())
    assert s["cosine"] == pytest.approx(1.0, abs=1e-6) and s["mean_deg"] < 0.05
    # A rotation of every normal by 20° about the y axis: every angle is 20°.
    z = torch.zeros(1, 3, 4, 4)
    z[:, 2] = 1.0
    t = torch.tensor(20.0).deg2rad()
    r = torch.zeros_like(z)
    r[:, 0], r[:, 2] = torch.sin(t), torch.cos(t)
    s = metrics.summary(metrics.cosine(z, r).flatten(), metrics.angles_deg(z, r).flatten())
    assert s["mean_deg"] == pytest.approx(20.0, abs=1e-3)
    assert s["within_11.25"] == 0.0 and s["within_22.5"] == 1.0
    # The angular term's gradient stays finite where the prediction is exact.
    p = n.clone().requires_grad_(True)
    metrics.loss(p, n, mask, angular=1.0).backward()
    assert torch.isfinite(p.grad).all()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="torchrun needs a POSIX system")
def test_a_tally_in_shards_reports_what_one_pass_over_every_pixel_does():
    """Validation sharded over ranks: two tallies' sums and histograms added (what
    Tally.merge's all_reduce does) give one pass's figures; the median to 0.01°."""
    gen = torch.Generator().manual_seed(3)
    cos = torch.cos(torch.rand(50_000, generator=gen) ** 2 * 1.2)
    ang = metrics.cos_to_deg(cos)
    whole = metrics.summary(cos, ang)
    a, b = metrics.Tally(), metrics.Tally()
    a.add(cos[:20_000], ang[:20_000])
    b.add(cos[20_000:], ang[20_000:])
    a.sums += b.sums
    a.hist += b.hist
    got = a.summary()
    assert got["pixels"] == whole["pixels"] == 50_000
    for k in ("cosine", "mean_deg", *(f"within_{t:g}" for t in metrics.WITHIN)):
        assert got[k] == pytest.approx(whole[k], abs=1e-6), k
    assert abs(got["median_deg"] - whole["median_deg"]) <= 0.01


def test_torchrun_two_processes_train_one_run(dataset, tmp_path):
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "learning.trainer", str(dataset), "--out", str(run), "--epochs", "1",
           "--batch", "1", "--workers", "0", "--device", "cpu"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    model, meta = checkpoint.load_model(run)
    assert meta["world_size"] == 2
    assert meta["lr_used"] == pytest.approx(1e-3 * 2 ** 0.5)  # the rate follows the batch
    with torch.no_grad():
        y = model.eval()(torch.rand(1, 5, 64, 64))
    torch.testing.assert_close(y[:, :3].norm(dim=1), torch.ones(1, 64, 64))
    # booth predict takes the run as it is.
    import skimage.data
    from PIL import Image

    from booth.cli import main

    Image.fromarray(skimage.data.astronaut()).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--model", str(run), "--out",
                 str(tmp_path / "pred"), "--device", "cpu"]) == 0
    assert (tmp_path / "pred" / "a.normals.png").is_file()


@pytest.fixture(scope="module")
def four(tmp_path_factory, store_sources):
    """Four captures (three people, one twice) at 64 px, all in train."""
    from learning import exporter as export

    out = tmp_path_factory.mktemp("four") / "ds"
    faces = [s for s in store_sources[0] if s.subject in ("p1", "p2", "p3")]
    result = export.export(faces, out, export.Settings(size=64, split=(1.0, 0.0, 0.0)))
    assert result.ok and len(result.exported) == 4
    return out


def test_two_processes_follow_one_with_the_same_global_batch(four, tmp_path):
    """torchrun's two processes of 2 images a step against one process of 4 at the rate
    two processes use (--lr × √2): the same samples in each step (one shuffled order, shared
    out), gradients averaged by DDP. Only BatchNorm differs: each rank normalises its own 2
    images (SyncBatchNorm runs on GPUs only), so the curves agree within a tolerance."""
    import math

    one = tmp_path / "one"
    shutil.copytree(four, tmp_path / "ds1")
    train(tmp_path / "ds1", one, Settings(epochs=4, batch=4, lr=1e-3 * math.sqrt(2),
                                           workers=0, augment=False, seed=3))
    two = tmp_path / "two"
    shutil.copytree(four, tmp_path / "ds2")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node",
           "2", "-m", "learning.trainer", str(tmp_path / "ds2"), "--out", str(two),
           "--epochs", "4", "--batch", "2", "--workers", "0", "--device", "cpu", "--seed", "3",
           "--no-augment"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    a, b = _rows(one), _rows(two)
    assert [r["step"] for r in a] == [r["step"] for r in b] == ["1", "2", "3", "4"]
    la = [float(r["train_loss"]) for r in a]
    lb = [float(r["train_loss"]) for r in b]
    print("one process:", la, "two:", lb)
    for x, y in zip(la, lb, strict=True):  # measured: within 1.6 %
        assert y == pytest.approx(x, rel=0.05)
    assert lb[-1] < lb[0] and la[-1] < la[0]  # both learn


def test_booth_train_command(dataset, tmp_path, capsys):
    from booth.cli import main

    run = tmp_path / "run"
    args = ["train", str(dataset), "--out", str(run), "--epochs", "1", "--batch", "1",
            "--workers", "0"]
    assert main(args) == 0
    assert "trained ->" in capsys.readouterr().out
    assert stat.S_IMODE((run / "metrics.csv").stat().st_mode) == 0o600
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already holds a run; pass --resume" in err and err.count("\n") == 1
    assert main(["train", str(tmp_path / "nothing"), "--out", str(tmp_path / "r2")]) == 2
    assert "manifest" in capsys.readouterr().err



@pytest.mark.parametrize("option, expect", [
    (("--workers", "-1"), "--workers: expected 0..64 threads"),
    (("--seed", "-5"), "--seed: expected a whole number of at least 0, got -5"),
    (("--epochs", "0"), "--epochs and --batch: expected at least 1"),
    (("--lr", "nan"), "--lr must be positive"),
])
def test_bad_training_options_are_refused_before_anything_is_written(dataset, tmp_path, capsys,
                                                                     option, expect):
    from booth.cli import main

    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), *option]) == 2
    err = capsys.readouterr().err
    assert expect in err and err.count("\n") == 1 and "internal error" not in err
    assert not run.exists()

def test_a_run_stops_when_its_hours_are_up_and_resumes_to_the_end(dataset, tmp_path, capsys):
    """--hours: a long run trained in stretches, each ending on a saved epoch."""
    from booth.cli import main

    run = tmp_path / "run"
    args = ["train", str(dataset), "--out", str(run), "--epochs", "3", "--batch", "1",
            "--workers", "0", "--seed", "4"]
    assert main([*args, "--hours", "1e-9"]) == 0
    said = capsys.readouterr().out
    assert "stopped after epoch 1 of 3" in said and "trained 1 of 3 epochs" in said
    assert "--resume" in said
    assert len(_rows(run)) == 1
    assert main([*args, "--resume"]) == 0
    assert "trained ->" in capsys.readouterr().out
    assert [r["epoch"] for r in _rows(run)] == ["1", "2", "3"]
    # the same weights as a run never stopped
    whole = train(dataset, tmp_path / "whole", Settings(epochs=3, batch=1, workers=0, seed=4))
    a, _ = checkpoint.load_model(run / "last.safetensors")
    b, _ = checkpoint.load_model(whole / "last.safetensors")
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=1e-6, msg=k)
    assert main([*args, "--hours", "0"]) == 2  # a number of hours, positive
    assert "positive number of hours" in capsys.readouterr().err


def test_training_runs_with_torch_and_numpy_alone(dataset, tmp_path):
    """The GPU machine has torch, numpy, PyYAML and safetensors, not OpenCV, MediaPipe,
    SciPy or Pillow: packing, training and checkpoints import none of them."""
    blocker = (
        "import importlib.abc, runpy, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('cv2', 'mediapipe', 'scipy', 'PIL', 'skimage',\n"
        "                                  'rich', 'textual', 'anny', 'numba'):\n"
        "            raise ImportError('not on the GPU machine: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv[0] = 'learning.trainer'\n"
        "runpy.run_module('learning.trainer', run_name='__main__')\n")
    done = subprocess.run([sys.executable, "-c", blocker, str(dataset), "--out",
                           str(tmp_path / "run"), "--epochs", "1", "--batch", "1",
                           "--workers", "0"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "epoch 1/1" in done.stdout
    assert (tmp_path / "run" / "best.safetensors").is_file()
