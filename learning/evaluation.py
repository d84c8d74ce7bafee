"""Evaluation: trained runs scored on a held-out split, side by side in one report.

``booth evaluate RUN [RUN...] --dataset DATASET --out REPORT``: each run's ``best`` model on the
dataset's ``test`` split (``--split``), inside the mask: the paper's mean cosine similarity, the
mean and median angular error, and the share of pixels within 11.25°, 22.5° and 30°
(:mod:`learning.metrics`); the same per facial region (:mod:`learning.regions`) and per subject;
on simulated people (whose samples carry the parts map) the same per part of the sitter (face,
hair, neck, clothes, glasses); and for a model with a mask output, the intersection over union
of its mask with the target's. Several runs in one report is how the landmark ablation
(``points`` / ``dense`` / ``none``) is shown: each run is scored on a dataset of its own
encoding, so ``--dataset`` takes one folder per run when they differ (in the runs' order), or
one for all.

Writes ``report.md``, ``report.html`` (the same tables and the figure), ``metrics.json`` and
``figure.png``: for a few held-out samples, the input photo, the target normals (measured by
the booth, or a simulated person's truth), and each run's prediction and error map (0-30°).
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from learning import checkpoint, metrics
from learning.loader import Batches
from learning.pack import open_split
from learning.regions import REGIONS, region_masks
from learning.sample_format import read_manifest
from photometric.errors import InputError
from photometric.io import normalmap
from photometric.io.files import OutputDir
from photometric.sim.parts import REGIONS as BODY

COMMAND = "evaluate"
NAMES = ("report.md", "report.html", "metrics.json", "figure.png")
ERROR_SCALE_DEG = 30.0


@dataclass
class RunScore:
    run: Path
    dataset: Path
    encoding: str
    overall: dict
    regions: dict[str, dict] = field(default_factory=dict)
    subjects: dict[str, dict] = field(default_factory=dict)
    examples: list[np.ndarray] = field(default_factory=list)  # per example: pred (S, S, 3)
    shown: list[int] = field(default_factory=list)  # the examples' indices in the split
    body: dict[str, dict] = field(default_factory=dict)  # by part of the sitter (simulated)
    mask_iou: float = float("nan")  # the model's mask against the target's (NaN: no mask)


def _check(run: Path, meta: dict, packed) -> None:
    """Refuse a dataset the run cannot be scored on fairly: another encoding or crop size,
    or people the run learnt from or was chosen on (runs that record them)."""
    data = meta.get("dataset", {})
    want_size = data.get("size")
    if isinstance(want_size, int) and want_size != packed.size:
        raise InputError(f"{run}: trained on {want_size}-pixel crops; the dataset "
                         f"{packed.root} has {packed.size}-pixel ones (a model scores far "
                         f"worse off its size). Export the held-out people with --size "
                         f"{want_size}")
    want_framing = data.get("framing", "face")
    have_framing = read_manifest(packed.root / "manifest.json")["settings"].get("framing", "face")
    if want_framing != have_framing:
        raise InputError(f"{run}: trained on the {want_framing} framing; the dataset "
                         f"{packed.root} has the {have_framing} framing. Export the held-out "
                         f"people with --framing {want_framing}")
    people = data.get("people") or {}
    # (the split named is scored as asked: --split train or val on the run's own dataset)
    seen = set().union(*(people.get(k, []) for k in ("train", "val") if k != packed.split))
    known = sorted(seen & set(packed.subjects))
    if known:
        raise InputError(f"{run}: {len(known)} of the people in {packed.root}'s {packed.split} "
                         f"split were in its training or validation ({', '.join(known[:5])}"
                         f"{', ...' if len(known) > 5 else ''}); a score on them would "
                         "flatter it. Score it on people it has not seen")
    want_enc = data.get("encoding")
    have = meta["model"]["in_channels"]
    if have != packed.in_channels or (want_enc and want_enc != packed.encoding):
        raise InputError(f"{run}: trained on {want_enc or '?'} inputs ({have} channels); the "
                         f"dataset {packed.root} gives {packed.encoding} "
                         f"({packed.in_channels} channels). Give a dataset of the run's "
                         "encoding (--dataset takes one per run)")


def shown_samples(packed, examples: int = 4, show: Sequence[str] = ()) -> list[int]:
    """The split's samples the figure shows: those of the subjects in ``show`` (each must be
    in the split), else the first ``examples``."""
    if not show:
        return list(range(min(examples, len(packed))))
    missing = [s for s in show if s not in set(packed.subjects)]
    if missing:
        raise InputError(f"--show: {', '.join(missing)}: not in this split (its subjects: "
                         f"{', '.join(sorted(set(packed.subjects))[:8])}…)")
    return [i for i, s in enumerate(packed.subjects) if s in set(show)]


def score_run(run: str | Path, dataset: str | Path, split: str = "test", batch: int = 4,
              device: str = "cpu", examples: int = 4, show: Sequence[str] = ()) -> RunScore:
    run = Path(run)
    model, meta = checkpoint.load_model(run, device)
    packed = open_split(dataset, split)
    if len(packed) == 0:
        raise InputError(f"{dataset}: the {split} split is empty; nothing to evaluate")
    _check(run, meta, packed)
    wanted = shown_samples(packed, examples, show)
    picked: dict[int, np.ndarray] = {}
    cos_all: list[torch.Tensor] = []
    ang_all: list[torch.Tensor] = []
    by_region: dict[str, list] = {r: [] for r in REGIONS}
    by_subject: dict[str, list] = {}
    by_body: dict[str, list] = {r: [] for r in BODY}
    body_codes = {r: torch.tensor(codes, dtype=torch.uint8) for r, codes in BODY.items()}
    inter = union = 0
    for b, pred, cos, ang, mask in metrics.per_pixel(model, Batches(packed, batch, device)):
        said = metrics.mask_of(pred)
        if said is not None:
            inter += int((said.cpu() & mask).sum())
            union += int((said.cpu() | mask).sum())
        for j, i in enumerate(b["index"].tolist()):
            m = mask[j]
            parts = torch.from_numpy(np.array(packed.parts[i]))
            for r, codes in body_codes.items():
                sel = m & torch.isin(parts, codes)
                if sel.any():
                    by_body[r].append((cos[j][sel], ang[j][sel]))
            cos_all.append(cos[j][m])
            ang_all.append(ang[j][m])
            by_subject.setdefault(packed.subjects[i], []).append((cos[j][m], ang[j][m]))
            regions = region_masks(packed.landmarks[i], packed.size)
            for r, rm in regions.items():
                sel = m & torch.from_numpy(rm)
                by_region[r].append((cos[j][sel], ang[j][sel]))
            if i in wanted:
                picked[i] = pred[j, :3].permute(1, 2, 0).cpu().numpy()

    def summarise(pairs) -> dict:
        if not pairs:
            return metrics.summary(torch.empty(0), torch.empty(0))
        return metrics.summary(torch.cat([c for c, _ in pairs]), torch.cat([a for _, a in pairs]))

    return RunScore(run, Path(dataset), packed.encoding,
                    metrics.summary(torch.cat(cos_all), torch.cat(ang_all)),
                    {r: summarise(v) for r, v in by_region.items()},
                    {s: summarise(v) for s, v in sorted(by_subject.items())},
                    [picked[i] for i in wanted], wanted,
                    {r: summarise(v) for r, v in by_body.items() if v},
                    inter / union if union else float("nan"))


def _fmt(d: dict) -> list[str]:
    return [f"{d['cosine']:.4f}", f"{d['mean_deg']:.2f}", f"{d['median_deg']:.2f}",
            *(f"{100 * d[f'within_{t:g}']:.1f}" for t in metrics.WITHIN)]


def _short(d: dict) -> str:
    return f"{d['mean_deg']:.2f} / {d['median_deg']:.2f} / {100 * d['within_11.25']:.1f}"


HEAD = ["cosine", "mean °", "median °", *(f"≤{t:g}° %" for t in metrics.WITHIN)]


def _tables(scores: list[RunScore]) -> list[tuple[str, list[str], list[list[str]]]]:
    names = [f"{s.run.name} ({s.encoding})" for s in scores]
    out = [("Overall", ["run", *HEAD], [[n, *_fmt(s.overall)] for n, s in zip(names, scores,
                                                                             strict=True)])]
    out.append(("Mean angular error by facial region (°)", ["region", *names],
                [[r, *(f"{s.regions[r]['mean_deg']:.2f}" for s in scores)] for r in REGIONS]))
    body = [r for r in BODY if any(r in s.body for s in scores)]
    if body:
        out.append(("By part of the sitter (simulated people's parts map): mean ° / median ° "
                    "/ ≤11.25° %", ["part", *names],
                    [[r, *(_short(s.body[r]) if r in s.body else "-" for s in scores)]
                     for r in body]))
    if any(not np.isnan(s.mask_iou) for s in scores):
        out.append(("Where the sitter is: the model's mask against the target's",
                    ["run", "IoU"], [[n, "-" if np.isnan(s.mask_iou) else f"{s.mask_iou:.3f}"]
                                     for n, s in zip(names, scores, strict=True)]))
    subjects = sorted({k for s in scores for k in s.subjects})
    out.append(("Mean angular error by subject (°)", ["subject", *names],
                [[k, *(f"{s.subjects[k]['mean_deg']:.2f}" if k in s.subjects else "-"
                       for s in scores)] for k in subjects]))
    return out


def _band(labels: list[str], tile: int, height: int = 30) -> np.ndarray:
    """A row of captions, one centred over each ``tile``-wide column (dark grey, white)."""
    band = np.full((height, tile * len(labels), 3), 40, np.uint8)
    for i, text in enumerate(labels):
        scale = 0.5
        while cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] > tile - 8 \
                and scale > 0.3:
            scale -= 0.05
        (w, h), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.putText(band, text, (i * tile + max(4, (tile - w) // 2), (height + h) // 2),
                    cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return band


def _error_scale(width: int, height: int = 44) -> np.ndarray:
    """The error maps' colour scale, 0 to ``ERROR_SCALE_DEG`` degrees, with ticks."""
    bar = np.full((height, width, 3), 40, np.uint8)
    x0, x1 = 150, width - 30
    ramp = np.linspace(0, 255, max(1, x1 - x0)).astype(np.uint8)[None, :]
    colours = cv2.applyColorMap(np.repeat(ramp, 14, 0), cv2.COLORMAP_INFERNO)[..., ::-1]
    bar[6:20, x0:x1] = colours
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(bar, "angular error", (8, 18), font, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    steps = 3
    for k in range(steps + 1):
        deg = ERROR_SCALE_DEG * k / steps
        x = x0 + int(round((x1 - x0 - 1) * k / steps))
        text = f"{deg:g}" + ("+ deg" if k == steps else " deg")
        (w, _), _ = cv2.getTextSize(text, font, 0.4, 1)
        cv2.putText(bar, text, (min(max(0, x - w // 2), width - w), 36), font, 0.4,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return bar


def _figure(scores: list[RunScore], dataset: Path, split: str) -> np.ndarray:
    """Rows: samples; columns: photo, target normals, then per run prediction and error;
    captions above, the error's colour scale below."""
    packed = open_split(dataset, split)
    shown = scores[0].shown
    tile = 192
    labels = ["photo", "target normals"]
    for s in scores:
        labels += [f"{s.run.name}: predicted", f"{s.run.name}: error"]

    def rgb(normals: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return cv2.resize(normalmap.preview8(normals, mask), (tile, tile),
                          interpolation=cv2.INTER_AREA)

    rows = []
    for k, i in enumerate(shown):
        mask = np.asarray(packed.mask[i])
        target = np.asarray(packed.normals[i], np.float32)
        cells = [cv2.resize(np.asarray(packed.image[i]), (tile, tile)), rgb(target, mask)]
        for s in scores:
            pred = s.examples[k]
            ang = np.degrees(np.arccos(np.clip((pred * target).sum(-1), -1, 1)))
            err = np.clip(ang / ERROR_SCALE_DEG * 255, 0, 255).astype(np.uint8)
            err = cv2.applyColorMap(err, cv2.COLORMAP_INFERNO)[..., ::-1]
            err[~mask] = 0
            cells += [rgb(pred, mask), cv2.resize(err, (tile, tile))]
        rows.append(np.hstack(cells))
    return np.vstack([_band(labels, tile), *rows, _error_scale(tile * len(labels))])


def evaluate(runs: list[str | Path], datasets: list[str | Path], out: str | Path,
             split: str = "test", device: str = "cpu", examples: int = 4,
             show: Sequence[str] = ()) -> list[RunScore]:
    """Score ``runs`` side by side; the figure's rows are ``show``'s subjects' samples (default
    the split's first ``examples``)."""
    if not runs:
        raise InputError("give at least one run to evaluate")
    if len(datasets) not in (1, len(runs)):
        raise InputError(f"--dataset: give one dataset, or one per run ({len(runs)}), got "
                         f"{len(datasets)}")
    target = OutputDir(out, COMMAND, NAMES)
    pairs = list(zip(runs, datasets * len(runs) if len(datasets) == 1 else datasets,
                     strict=True))
    scores = [score_run(r, d, split, device=device, examples=examples, show=show)
              for r, d in pairs]
    tables = _tables(scores)
    fig = _figure(scores, Path(pairs[0][1]), split)
    columns = ["photo", "target"] + [f"{s.run.name}: {w}" for s in scores
                                       for w in ("predicted", "error 0-30°")]
    md = [f"# Evaluation on the {split} split", ""]
    for title, head, body in tables:
        md += [f"## {title}", "", "| " + " | ".join(head) + " |",
               "|" + " --- |" * len(head)]
        md += ["| " + " | ".join(row) + " |" for row in body]
        md.append("")
    md += ["## Examples", "", "Columns: " + ", ".join(columns) + ".", "",
           "![examples](figure.png)", ""]
    page = ["<!doctype html><meta charset='utf-8'><title>Evaluation</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
            "margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
            "</style>", f"<h1>Evaluation on the {split} split</h1>"]
    for title, head, body in tables:
        page.append(f"<h2>{html.escape(title)}</h2><table><tr>"
                    + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
        for row in body:
            page.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        page.append("</table>")
    page.append(f"<h2>Examples</h2><p>{html.escape(', '.join(columns))}</p>"
                "<img src='figure.png' alt='examples'>")
    data = [{"run": str(s.run), "dataset": str(s.dataset), "encoding": s.encoding,
             "overall": s.overall, "regions": s.regions, "subjects": s.subjects,
             "body": s.body, "mask_iou": None if np.isnan(s.mask_iou) else s.mask_iou}
            for s in scores]
    with target as stage:
        (stage / "report.md").write_text("\n".join(md))
        (stage / "report.html").write_text("\n".join(page))
        (stage / "metrics.json").write_text(json.dumps(data, indent=1))
        cv2.imwrite(str(stage / "figure.png"), cv2.cvtColor(fig, cv2.COLOR_RGB2BGR))
    return scores
