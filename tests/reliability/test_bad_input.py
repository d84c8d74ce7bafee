"""Bad input everywhere a user can give it: each case gets one clear message naming the file or
field, a non-zero exit that is not the booth's "internal error", and nothing on disk changed;
inputs that are odd but fine (16-bit, grey, RGBA, CMYK, EXIF-rotated, 24 MP photos, a group
photo) are taken.

The table of cases and what the booth says is ``docs/bad-input.md``, made from these runs: the
last test checks that it says what the booth says today, and ``BOOTH_WRITE_DOCS=1`` rewrites
it (``BOOTH_WRITE_DOCS=1 .venv/bin/python -m pytest tests/reliability/test_bad_input.py``).
"""

from __future__ import annotations

import contextlib
import io
import os
import shlex
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from booth.cli import EXIT_INTERNAL, main
from tests.conftest import snapshot

DOC = Path(__file__).resolve().parents[2] / "docs" / "bad-input.md"


@dataclass
class Case:
    kind: str  # the table's section
    what: str  # the input, in words
    argv: list[str]  # run in the world folder; outputs go to ../out/ID
    expect: list[str]  # words the message must hold
    accepted: bool = False  # odd but fine: exit 0
    id: str = ""
    code: int = -1
    out: list[str] = field(default_factory=list)
    err: str = ""
    changed: bool = False


def _predict(photo: str, *extra: str) -> list[str]:
    return ["predict", f"photos/{photo}", *extra]


def _capture(*extra: str) -> list[str]:
    return ["capture", "--sessions", "../store", "--size", "64", "--no-process", *extra]


CASES = [
    # -- photos given to predict (and so to relight --predict) --------------------------------
    Case("photo", "missing file", _predict("nosuch.jpg"), ["photos/nosuch.jpg: not found"]),
    Case("photo", "empty file", _predict("empty.jpg"),
         ["photos/empty.jpg: not a readable photo"]),
    Case("photo", "truncated JPEG", _predict("truncated.jpg"),
         ["photos/truncated.jpg: not a readable photo", "truncated"]),
    Case("photo", "a CSV named .jpg", _predict("foreign.jpg"),
         ["photos/foreign.jpg: not a readable photo"]),
    Case("photo", "a PNG whose header claims 400 MP", _predict("bomb.png"),
         ["photos/bomb.png: more than 100,000,000 pixels"]),
    Case("photo", "a PNG whose header claims 150 MP (Pillow only warns)",
         _predict("bomb150.png"), ["photos/bomb150.png: more than 100,000,000 pixels"]),
    Case("photo", "no face (a grey wall)", _predict("wall.png"),
         ["photos/wall.png: no face found"]),
    Case("photo", "tiny (32×32)", _predict("tiny.png"), ["photos/tiny.png: no face found"]),
    Case("photo", "16-bit grey PNG", _predict("sixteen.png"), ["1 face(s)"], accepted=True),
    Case("photo", "8-bit grey", _predict("grey.png"), ["1 face(s)"], accepted=True),
    Case("photo", "RGBA", _predict("rgba.png"), ["1 face(s)"], accepted=True),
    Case("photo", "CMYK JPEG", _predict("cmyk.jpg"), ["1 face(s)"], accepted=True),
    Case("photo", "EXIF-rotated (orientation 6)", _predict("rotated.jpg"), ["1 face(s)"],
         accepted=True),
    Case("photo", "huge (24 MP)", _predict("huge.jpg"), ["1 face(s)"], accepted=True),
    Case("photo", "two faces, --max-faces 2", _predict("two.jpg", "--max-faces", "2"),
         ["2 face(s)"], accepted=True),
    # -- models ---------------------------------------------------------------------------------
    Case("model", "missing checkpoint", _predict("astronaut.jpg", "--model",
                                                 "ck/nosuch.safetensors"),
         ["ck/nosuch.safetensors: not found"]),
    Case("model", "not a safetensors file", _predict("astronaut.jpg", "--model",
                                                     "ck/junk.safetensors"),
         ["ck/junk.safetensors: not a readable safetensors file"]),
    Case("model", "a model of other input channels", _predict("astronaut.jpg", "--model",
                                                              "ck/rgb.safetensors"),
         ["ck/rgb.safetensors", "3 input channels", "points encoding (5)"]),
    Case("model", "weights of another shape than its YAML", _predict("astronaut.jpg", "--model",
                                                                     "ck/shape.safetensors"),
         ["ck/shape.safetensors: the weights do not fit", "the model wants"]),
    Case("model", "its YAML a Python tag (code to run)",
         _predict("astronaut.jpg", "--model", "ck/exec.safetensors"),
         ["ck/exec.yaml: line 1: the tag", "python/object/apply", "is refused"]),
    Case("model", "its YAML an alias bomb (10¹⁰ values expanded)",
         _predict("astronaut.jpg", "--model", "ck/bomb.safetensors"),
         ["ck/bomb.yaml: too large once its aliases are expanded"]),
    # -- booth.yaml -----------------------------------------------------------------------------
    Case("config", "missing", _capture("--config", "cfg/nosuch.yaml", "--session", "s",
                                       "--subject", "p", "--consent"),
         ["cfg/nosuch.yaml", "not found"]),
    Case("config", "malformed YAML", _capture("--config", "cfg/malformed.yaml", "--session",
                                              "s", "--subject", "p", "--consent"),
         ["cfg/malformed.yaml: malformed YAML at line 3"]),
    Case("config", "wrong type (retries: \"5\")", _capture("--config", "cfg/wrongtype.yaml",
                                                         "--session", "s", "--subject", "p",
                                                         "--consent"),
         ["cfg/wrongtype.yaml: flash.retries", "integer"]),
    Case("config", "unknown key", _capture("--config", "cfg/unknown.yaml", "--session", "s",
                                           "--subject", "p", "--consent"),
         ["cfg/unknown.yaml: flash: unknown key(s) ['retriez']"]),
    Case("config", "nested 5000 deep", _capture("--config", "cfg/deep.yaml", "--session", "s",
                                                "--subject", "p", "--consent"),
         ["cfg/deep.yaml", "nest"]),
    Case("config", "an alias bomb (10¹⁰ values expanded)", _capture("--config", "cfg/bomb.yaml",
                                                          "--session", "s", "--subject", "p",
                                                          "--consent"),
         ["cfg/bomb.yaml: too large once its aliases are expanded"]),
    Case("config", "a Python tag (code to run)", _capture("--config", "cfg/exec.yaml",
                                                          "--session", "s", "--subject", "p",
                                                          "--consent"),
         ["cfg/exec.yaml: line 1: the tag", "python/object/apply", "is refused"]),
    # -- names ------------------------------------------------------------------------------------
    *[Case("name", f"subject {name!r}", _capture("--session", "s", "--subject", name,
                                                 "--consent"),
           [f"subject '{name}'", "ASCII letters"])
      for name in ("a/b", "..", "has space", "naïve")],
    *[Case("name", f"session {name!r}", _capture("--session", name, "--subject", "p",
                                                 "--consent"),
           [f"session '{name}'", "ASCII letters"])
      for name in ("a/b", "..", "x y", "ünï")],
    Case("name", "no consent", _capture("--session", "s", "--subject", "q"),
         ["subject 'q': consent is required"]),
    # -- datasets and training ------------------------------------------------------------------
    Case("dataset", "no dataset there", ["train", "ds/none", "--out", "../out/{id}"],
         ["ds/none/manifest.json: not found"]),
    Case("dataset", "someone else's manifest.json", ["train", "ds/foreign", "--out",
                                                     "../out/{id}"],
         ["ds/foreign/manifest.json: not a dataset manifest", "missing format_version"]),
    Case("dataset", "truncated manifest", ["train", "ds/trunc", "--out", "../out/{id}"],
         ["ds/trunc/manifest.json: not a dataset manifest", "not JSON"]),
    Case("dataset", "empty manifest", ["evaluate", "ck/rgb.safetensors", "--dataset",
                                       "ds/empty", "--out", "../out/{id}"],
         ["ds/empty/manifest.json: not a dataset manifest", "not JSON"]),
    Case("dataset", "--workers -1", ["train", "ds/foreign", "--out", "../out/{id}", "--workers",
                                     "-1"], ["--workers: expected 0..64"]),
    Case("dataset", "export of a folder without captures", ["export", "ds/none", "--out",
                                                            "../out/{id}"],
         ["ds/none: no captures to export"]),
    # -- normal maps given to relight -----------------------------------------------------------
    Case("normals", "an 8-bit photo as the normal map",
         ["relight", "photos/astronaut.jpg", "--normals", "photos/tiny.png"],
         ["photos/tiny.png: expected a 16-bit RGB normal map"]),
    Case("normals", "an empty normal map",
         ["relight", "photos/astronaut.jpg", "--normals", "photos/empty.jpg"],
         ["photos/empty.jpg: empty file (0 bytes)"]),
    Case("normals", "a light without its elevation",
         ["relight", "photos/astronaut.jpg", "--predict", "--light", "az=999"],
         ["--light 'az=999'", "el="]),
]
for k, c in enumerate(CASES):
    c.id = f"{k:02d}-{c.kind}"
    c.argv = [a.replace("{id}", c.id) for a in c.argv]
    if c.argv[0] in ("predict", "relight") and "--out" not in c.argv:
        c.argv += ["--out", f"../out/{c.id}"]


def _world(root: Path) -> None:
    """The inputs: photos, configs, checkpoints and datasets, good and bad."""
    import skimage.data
    import torch
    import yaml
    from PIL import Image

    from learning import checkpoint
    from learning.model import UNet
    from tests.conftest import png_header_only

    p = root / "photos"
    p.mkdir(parents=True)
    astro = skimage.data.astronaut()
    Image.fromarray(astro).save(p / "astronaut.jpg", quality=92)
    Image.fromarray(astro).convert("L").save(p / "grey.png")
    Image.fromarray(astro).convert("RGBA").save(p / "rgba.png")
    Image.fromarray(astro).convert("CMYK").save(p / "cmyk.jpg")
    Image.fromarray((astro.mean(-1) * 257).astype(np.uint16)).save(p / "sixteen.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90° clockwise: stored turned back
    Image.fromarray(np.ascontiguousarray(np.rot90(astro, 1))).save(p / "rotated.jpg", exif=exif)
    Image.fromarray(astro).resize((32, 32)).save(p / "tiny.png")
    Image.fromarray(astro).resize((6000, 4000)).save(p / "huge.jpg", quality=85)
    Image.fromarray(np.full((256, 256, 3), 128, np.uint8)).save(p / "wall.png")
    Image.fromarray(np.concatenate([astro, astro[:, ::-1]], 1)).save(p / "two.jpg")
    (p / "empty.jpg").write_bytes(b"")
    data = (p / "astronaut.jpg").read_bytes()
    (p / "truncated.jpg").write_bytes(data[: len(data) // 3])
    (p / "foreign.jpg").write_text("name,age\nann,3\n")
    (p / "bomb.png").write_bytes(png_header_only(20000, 20000))
    (p / "bomb150.png").write_bytes(png_header_only(12000, 12500))

    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        bomb.append(f"{cur}: &{cur} [" + ",".join(f"*{prev}" for _ in range(10)) + "]")
    c = root / "cfg"
    c.mkdir()
    (c / "wrongtype.yaml").write_text('flash:\n  retries: "5"\n')
    (c / "unknown.yaml").write_text("flash:\n  retriez: 5\n")
    (c / "malformed.yaml").write_text("flash: [\n  retries: 5\n")
    (c / "deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    (c / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    # what an unsafe loader would run: it must be refused, and nothing run
    exec_yaml = "flash: !!python/object/apply:os.system ['touch pwned']\n"
    (c / "exec.yaml").write_text(exec_yaml)

    k = root / "ck"
    k.mkdir()
    data_meta = {"encoding": "points", "size": 64, "framing": "person"}
    torch.manual_seed(0)
    for name, channels in (("rgb", 3), ("shape", 5), ("bomb", 5), ("exec", 5)):
        checkpoint.save_model(k / f"{name}.safetensors", UNet(channels, base=8),
                              {"model": {"preset": "test"}, "dataset": data_meta})
    meta = yaml.safe_load((k / "shape.yaml").read_text())
    meta["model"]["base"] = 16
    (k / "shape.yaml").write_text(yaml.safe_dump(meta))
    (k / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    (k / "exec.yaml").write_text("model: !!python/object/apply:os.system ['touch pwned']\n")
    (k / "junk.safetensors").write_bytes(b"junk")
    (k / "junk.yaml").write_text("model: {in_channels: 5, base: 8, depth: 4}\n")

    d = root / "ds"
    for name in ("foreign", "trunc", "empty", "none"):
        (d / name).mkdir(parents=True)
    (d / "foreign" / "manifest.json").write_text('{"a": 1}')
    (d / "trunc" / "manifest.json").write_text('{"format_version": 2, "samples": [{"id": "p')
    (d / "empty" / "manifest.json").write_text("")


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory) -> dict[str, Case]:
    """Every case run once, in this process, from the world folder."""
    root = tmp_path_factory.mktemp("bad-input")
    world = root / "world"
    _world(world)
    (root / "out").mkdir()
    here = os.getcwd()
    os.chdir(world)
    try:
        for c in CASES:
            before = snapshot(world)
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    c.code = main(c.argv)
                except SystemExit as exc:  # argparse's own exit
                    c.code = exc.code if isinstance(exc.code, int) else 1
            tidy = f"{root}{os.sep}"
            c.out = [x.replace(tidy, "") for x in out.getvalue().splitlines() if x.strip()]
            c.err = err.getvalue().replace(tidy, "")
            c.changed = snapshot(world) != before or (
                not c.accepted and (root / "out" / c.id).exists()) or (
                not c.accepted and (root / "store").exists())
    finally:
        os.chdir(here)
    return {c.id: c for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_input_gets_one_clear_answer(outcomes, case):
    c = outcomes[case.id]
    said = "\n".join([*c.out, c.err])
    assert "Traceback" not in said and "internal error" not in said, said
    assert c.code != EXIT_INTERNAL
    if c.accepted:
        assert c.code == 0, said
    else:
        assert c.code != 0, said
        assert c.err.count("\n") == 1 and c.err.endswith("\n"), c.err  # one line
        assert not c.changed, f"{c.argv}: changed what is on disk"
    for word in c.expect:
        assert word in said, (word, said)


INTRO = (
    "Every case below is run by `tests/reliability/test_bad_input.py` on each `make test`, "
    "which checks that this table is what the booth says today (`BOOTH_WRITE_DOCS=1 "
    ".venv/bin/python -m pytest tests/reliability/test_bad_input.py` rewrites it). A refused "
    "input gets one line on stderr naming the file or field and what was expected, exit "
    "status 2, and nothing on disk changes: the folder of inputs is compared before and "
    "after, and no output folder or session store appears. Odd but valid inputs are taken "
    "(exit 0). Paths are relative to the folder the command ran in; `../out/ID` is the "
    "case's `--out`. `predict` lists each photo with its outcome on stdout, then sums up.")


def _table(cases: list[Case]) -> str:
    lines = ["# Bad input: what the booth says", "", *textwrap.wrap(INTRO, 100), ""]
    for kind in dict.fromkeys(c.kind for c in cases):
        lines += [f"## {kind}", "", "| input | command | exit | what the booth says |",
                  "| --- | --- | --- | --- |"]
        for c in (c for c in cases if c.kind == kind):
            # stdout's line about the input (predict's per-photo line), then the summary or
            # the error
            about = [x for x in c.out if x.startswith(f"{c.argv[1]}:")]
            said = " / ".join([*about, *(c.out[-1:] if c.code == 0 else []),
                               *c.err.splitlines()])
            cell = said.replace("|", "\\|")
            lines.append(f"| {c.what} | `booth {shlex.join(c.argv)}` | {c.code} | {cell} |")
        lines.append("")
    return "\n".join(lines)


def test_the_table_of_bad_input_is_what_the_booth_says(outcomes):
    text = _table(list(outcomes.values()))
    if os.environ.get("BOOTH_WRITE_DOCS"):
        DOC.write_text(text)
    assert DOC.is_file() and DOC.read_text() == text, (
        f"{DOC} differs from what the booth says now: rewrite it with BOOTH_WRITE_DOCS=1 "
        ".venv/bin/python -m pytest tests/reliability/test_bad_input.py")
