"""The spread over training seeds: held-out reports of one recipe trained with different seeds
(``SEED=K sh learning/models/make.sh NAME`` writes ``report-NAME-seedK``), summarised by
region: run by ``learning.py seeds``.

    python benchmarks/_seeds.py REPORT REPORT [REPORT ...]

Each REPORT is a folder ``booth evaluate`` wrote (its ``metrics.json``) or that file itself;
all must score the same dataset, or the spread would mix people. Printed: per region (all
pixels, then face, hair, neck, clothes, glasses), the mean over seeds ± the sample standard
deviation of each metric, and each seed's mean angle.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

KEYS = (("mean_deg", "mean °", 1.0, "{:.2f}"), ("median_deg", "median °", 1.0, "{:.2f}"),
        ("within_11.25", "≤11.25°", 100.0, "{:.1f} %"),
        ("within_22.5", "≤22.5°", 100.0, "{:.1f} %"), ("within_30", "≤30°", 100.0, "{:.1f} %"))


def load(path: str) -> dict:
    p = Path(path)
    p = p / "metrics.json" if p.is_dir() else p
    try:
        runs = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        sys.exit(f"{p}: not a report's metrics.json ({exc})")
    if not isinstance(runs, list) or len(runs) != 1 or "overall" not in runs[0]:
        sys.exit(f"{p}: expected the metrics of one run (booth evaluate RUN --out REPORT)")
    return runs[0]


def table(reports: list[dict]) -> list[str]:
    """Markdown rows: region, then each metric's mean ± sd over the reports."""
    regions = ["all"] + [r for r in reports[0].get("body", {})
                         if all(r in x.get("body", {}) for x in reports)]
    lines = ["| region | " + " | ".join(k[1] for k in KEYS) + " | per seed, mean ° |",
             "| --- " * (len(KEYS) + 2) + "|"]
    for region in regions:
        scores = [x["overall"] if region == "all" else x["body"][region] for x in reports]
        cells = []
        for key, _, scale, fmt in KEYS:
            v = [s[key] * scale for s in scores]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append(f"{fmt.format(statistics.mean(v))} ± {fmt.format(sd)}")
        each = ", ".join(f"{s['mean_deg']:.2f}" for s in scores)
        lines.append(f"| {region} | " + " | ".join(cells) + f" | {each} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reports", nargs="+")
    args = ap.parse_args()
    reports = [load(p) for p in args.reports]
    datasets = {x.get("dataset") for x in reports}
    if len(datasets) > 1:
        sys.exit(f"the reports score different datasets ({', '.join(map(str, datasets))}): "
                 "a spread over seeds needs the same people")
    print(f"## {len(reports)} seed(s) on {datasets.pop()} (mean over seeds ± sd)")
    print("\n".join(table(reports)))


if __name__ == "__main__":
    main()
