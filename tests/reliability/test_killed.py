"""``booth export`` and ``booth train`` killed (SIGKILL) at random moments: a rerun finishes,
reuses what was done, and ends where an uninterrupted run ends (the export bit for bit, the
training's weights within float tolerance).

CI size: 10 kills of each. ``BOOTH_RELIABILITY=long`` makes it 50 of each.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

KILLS = 50 if os.environ.get("BOOTH_RELIABILITY") == "long" else 10
BOOTH = [sys.executable, "-m", "booth"]
EXPORT = ["--framing", "person", "--size", "64", "--workers", "1"]
TRAIN = ["--epochs", "3", "--batch", "1", "--workers", "0", "--seed", "1", "--device", "cpu"]


def _run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*BOOTH, *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def _killed(argv: list[str], cwd: Path, after: float) -> None:
    """Start ``booth ARGV`` and SIGKILL it ``after`` seconds later (if it still runs)."""
    proc = subprocess.Popen([*BOOTH, *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=after)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def _train_argv(run: Path) -> list[str]:
    """``booth train`` into ``run``: ``--resume`` once the run folder exists."""
    return ["train", "ds", "--out", run.name, *TRAIN, *(["--resume"] if run.exists() else [])]


def _epoch(run: Path) -> str:
    """The epoch a run has saved ("none" before its first)."""
    state = run / "state.yaml"
    return state.read_text().split("epoch: ")[1].split()[0] if state.is_file() else "none"


def _tree(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, its creation time left out (two whole runs differ only there)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if p.name in (".booth-output.yaml", "manifest.json"):
                data = re.sub(rb"""["']?created["']?: *["']?[0-9T:+-]+["']?""", b"created", data)
            out[str(p.relative_to(folder))] = data
    return out


@pytest.fixture(scope="module")
def people(tmp_path_factory):
    from booth.population import simulate_people

    root = tmp_path_factory.mktemp("killed")
    simulate_people(root / "people", 6, seed=3, size=128, lighting="portrait")
    return root


def test_an_export_killed_anywhere_finishes_as_if_never_killed(people):
    t0 = time.monotonic()
    done = _run("export", "people", "--out", "whole", *EXPORT, cwd=people)
    took = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    whole = _tree(people / "whole")
    rng = np.random.default_rng(0)
    reused = 0
    for k in range(KILLS):
        out = f"killed-{k}"
        _killed(["export", "people", "--out", out, *EXPORT], people, rng.uniform(0.2, took))
        before = (people / out / "index.jsonl")
        n = before.read_text().count("\n") if before.is_file() else 0
        again = _run("export", "people", "--out", out, *EXPORT, cwd=people)
        assert again.returncode == 0, (k, again.stderr)
        said = re.search(r"\((\d+) reused\)", again.stdout)
        assert said and int(said.group(1)) >= n, (k, n, again.stdout)  # nothing done twice
        reused += int(said.group(1))
        assert _tree(people / out) == whole, k
    # no stage or temporary file of a killed run is left beside the outputs
    assert not [p.name for p in people.iterdir() if p.name.startswith(".")]
    assert reused > 0  # some kills landed mid-export, not all before its first sample


def test_a_training_killed_anywhere_resumes_to_the_same_weights(people):
    """KILLS kills in chains of five: each process of a chain is the rerun of the one killed
    before it (``--resume``, or the first command again while nothing exists), killed in turn
    at a random moment; the chain's last rerun goes to the end. (Chains, not a rerun to the
    end after each kill: process start-up is most of a run this small.)"""
    from learning import checkpoint

    ds = people / "ds"
    if not ds.is_dir():
        assert _run("export", "people", "--out", "ds", *EXPORT, cwd=people).returncode == 0
    t0 = time.monotonic()
    done = _run("train", "ds", "--out", "whole-run", *TRAIN, cwd=people)
    took = time.monotonic() - t0
    assert done.returncode == 0, done.stderr
    whole, _ = checkpoint.load_model(people / "whole-run" / "last.safetensors")
    rng = np.random.default_rng(1)
    stopped = []
    for chain in range(KILLS // 5):
        run = people / f"run-{chain}"
        for _ in range(5):
            if _epoch(run) == "3":
                break  # finished before its next kill
            _killed(_train_argv(run), people, rng.uniform(0.5, took))
            stopped.append(_epoch(run))
        if _epoch(run) != "3":
            again = _run(*_train_argv(run), cwd=people)  # as a user reruns it, to the end
            assert again.returncode == 0, (chain, stopped, again.stderr)
        got, _ = checkpoint.load_model(run / "last.safetensors")
        for (name, a), b in zip(whole.state_dict().items(), got.state_dict().values(),
                                strict=True):
            if a.dtype.is_floating_point:
                np.testing.assert_allclose(b.numpy(), a.numpy(), atol=1e-6, err_msg=name)
            else:
                assert (a == b).all(), name
        assert (run / "metrics.csv").read_text().count("\n") == 4  # the header, 3 epochs
    assert len(set(stopped)) > 1, stopped  # the kills landed at different epochs
