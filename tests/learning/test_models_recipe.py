"""The shipped models' recipe (learning/models/make.sh, `make models`): every command it runs
is a valid command line of this booth, and each shipped model has its card and metadata."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml

from booth.cli import build_parser
from learning import checkpoint
from learning.prediction import SHIPPED

MODELS = Path(__file__).resolve().parents[2] / "learning" / "models"


def test_the_recipe_s_commands_parse(tmp_path):
    """make.sh with `echo` for booth and python: the commands it would run, each parsed by
    the booth's own parser (an option renamed or removed would fail here)."""
    env = {**os.environ, "BOOTH": "echo booth", "PY": "echo python", "WORK": str(tmp_path)}
    done = subprocess.run(["sh", str(MODELS / "make.sh"), "all"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = [shlex.split(ln) for ln in done.stdout.splitlines() if ln.startswith("booth ")]
    verbs = [ln[1] for ln in lines]
    assert verbs.count("simulate") == 8 and verbs.count("export") == 2
    assert verbs.count("train") == 2
    parser = build_parser()
    for ln in lines:
        args = parser.parse_args(ln[1:])
        if ln[1] == "export":
            assert args.framing == "person" and args.size >= 256
        if ln[1] == "train":
            assert args.hours is not None and args.epochs >= 10
    # training not finished: it says so, and ships nothing
    assert done.stdout.count("training continues") == 2


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_model_has_its_card(name):
    weights = MODELS / f"{name}.safetensors"
    if not weights.is_file():
        pytest.skip(f"no {name} model shipped yet (make models)")
    assert (MODELS / f"{name}.md").is_file()
    meta = yaml.safe_load((MODELS / f"{name}.yaml").read_text())
    assert meta["dataset"]["encoding"] in ("points", "dense", "none")
    model, _ = checkpoint.load_model(weights)
    assert model.in_channels in (3, 5)
