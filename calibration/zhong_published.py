"""Summarise Zhong et al.'s published population for the report:
``python -m calibration.zhong_published [DIR]`` (DIR: the folder holding their ``1l_fixedwidth.csv``
and ``1l_varywidth.csv``; default ``../shared/data/clock-and-pizza``) writes
``interp/zhong_published.json``.

The runs kept: 1 layer, validation accuracy at least 0.99, both numbers present (their tables,
fjzzq2002/pizza at commit 4c7f2f31, ``result/1l_*.csv``, MIT licence). Kept from them: per number
(``gradient_sim``, and ``distance_irrelevance``, which their script computed on the largest wrong
logit), the 1001 quantiles at 0.1% steps, rounded to 6 digits, and the count; per attention-rate
band, the count, the 10th / 50th / 90th percentiles and the 201 quantiles at 0.5% steps. Facts
about their tables, not the tables.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "interp" / "zhong_published.json"
DEFAULT = ROOT.parent / "shared" / "data" / "clock-and-pizza"
BANDS = ((0.0, 0.1), (0.1, 0.5), (0.5, 0.9), (0.9, 1.0001))
COLUMNS = {"gradient_symmetricity": "gradient_sim", "distance_irrelevance_wrong_logit": "distance_irrelevance"}


def solved_runs(directory: Path) -> list[dict]:
    rows = []
    for name in ("1l_fixedwidth.csv", "1l_varywidth.csv"):
        with open(directory / name, newline="") as f:
            rows += [r for r in csv.DictReader(f) if r["n_layers"] == "1" and r["validation_accuracy"]
                     and float(r["validation_accuracy"]) >= 0.99 and r["gradient_sim"] and r["distance_irrelevance"]]
    return rows


def summary(rows: list[dict]) -> dict:
    out = {"source": "Zhong et al. 2023, fjzzq2002/pizza@4c7f2f31 result/1l_fixedwidth.csv + 1l_varywidth.csv "
                     "(MIT): 1-layer runs with validation accuracy >= 0.99",
           "n": len(rows), "quantiles": {}, "bands": []}
    for ours, theirs in COLUMNS.items():
        values = np.array([float(r[theirs]) for r in rows])
        out["quantiles"][ours] = [round(float(q), 6) for q in np.quantile(values, np.linspace(0, 1, 1001))]
    for low, high in BANDS:
        band = [r for r in rows if low <= float(r["attn_coeff"]) < high]
        entry = {"attn_coeff": [low, min(high, 1.0)], "n": len(band)}
        for ours, theirs in COLUMNS.items():
            values = np.array([float(r[theirs]) for r in band])
            entry[ours] = [round(float(q), 3) for q in np.quantile(values, [0.1, 0.5, 0.9])]
            entry[f"{ours}_quantiles"] = [round(float(q), 6) for q in np.quantile(values, np.linspace(0, 1, 201))]
        out["bands"].append(entry)
    return out


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else DEFAULT
    data = summary(solved_runs(directory))
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"{OUT}: {data['n']} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
