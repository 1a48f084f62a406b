"""Measure every model of the calibration population: ``python -m calibration.measure_population``.

Reads each run of ``calibration/runs/<family>/seed<k>/`` (written by
:mod:`calibration.train_population`) through the project's own readers, as a user's file would
be read (its layout and sidecar decide the computation, task and split), and writes
``calibration/population.csv``: one row per model (``init``, ``memorised``, ``final``), with its
family, seed, half (even seeds calibrate, odd seeds are held out), whether it grokked, its
architecture (as a claim's ``gated_on`` names it), and per claim of the default claims file its
worst case (the lowest value for a ``>``/``>=``/``==`` claim, the highest for ``<``/``<=``; empty
where the claim is not defined).
Beside the claims, ``gradient-symmetricity`` and ``distance-irrelevance-wrong-logit`` (the number
Zhong et al.'s tables hold), for the clock/pizza verdict.
Idempotent: a model already in the file (same path and sha256, every column) is not measured
again, and one missing a column (a claim added since, as ``key-freqs-few``, the share of the
frequencies that come out key) is measured again; ``--remeasure`` measures all of them again, for
a metric whose definition changed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from calibration.calibrate import worst_of  # noqa: E402
from calibration.train_population import is_clean  # noqa: E402
from interp.checkpoint import load_checkpoint, sha256_of  # noqa: E402
from interp.claims.claim import gate_architecture  # noqa: E402
from interp.claims.load import DEFAULT_CLAIMS, load_claims  # noqa: E402
from interp.claims.verdicts import NotDefined, evaluate  # noqa: E402
from interp.run import Run  # noqa: E402

STAGES = ("init", "memorised", "final")
EXTRA = ("gradient-symmetricity", "distance-irrelevance-wrong-logit")
FIELDS = ("family", "seed", "stage", "half", "grokked", "clean", "epoch", "architecture", "p", "task", "path", "sha256")


def model_files(directory: Path) -> dict[str, Path]:
    """``{stage: checkpoint file}`` of one run directory, in either layout it was saved in."""
    out = {}
    for stage in STAGES:
        for candidate in (directory / f"{stage}.pt", directory / f"model_{stage}.pt"):
            if candidate.is_file():
                out[stage] = candidate
    return out


def worst(claim, run) -> float:
    """The claim's worst case on the run (NaN where it is not defined)."""
    values = []
    for case in claim.expand(run.key_freqs):
        try:
            values.append(evaluate(case, run))
        except NotDefined:
            return math.nan
    return worst_of(values, claim.op) if values else math.nan


def measure(path: Path, claims) -> dict:
    checkpoint = load_checkpoint(path)
    run = Run(checkpoint)
    row = {"architecture": gate_architecture(checkpoint.model), "p": checkpoint.model.p, "task": run.task,
           "sha256": checkpoint.sha256}
    for claim in claims.claims:
        value = worst(claim, run)
        row[claim.id] = "" if math.isnan(value) else repr(value)
    for column, value in extra_values(run).items():
        row[column] = repr(value)
    return row


def extra_values(run) -> dict[str, float]:
    """Numbers beside the claims, for the clock/pizza verdict (:mod:`interp.algorithm`): Zhong et
    al.'s gradient symmetricity, and the distance irrelevance of the largest wrong logit (the number
    their published tables hold), to set this population beside theirs."""
    from interp.metrics import distance_irrelevance_wrong_logit, gradient_symmetricity

    return {"gradient-symmetricity": gradient_symmetricity(run.model),
            "distance-irrelevance-wrong-logit": distance_irrelevance_wrong_logit(run.largest_wrong_logits, run.task)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.measure_population",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--out", type=Path, default=ROOT / "population.csv")
    parser.add_argument("--remeasure", action="store_true", help="measure every model again (a metric changed)")
    args = parser.parse_args(argv)
    claims = load_claims(DEFAULT_CLAIMS)
    columns = [*FIELDS, *dict.fromkeys([*(c.id for c in claims.claims), *EXTRA])]
    done = {}
    if args.out.exists() and not args.remeasure:
        with args.out.open() as fh:
            done = {(r["path"], r["sha256"]): r for r in csv.DictReader(fh)}
    rows = []
    for record_path in sorted(args.runs.glob("*/seed*/run.json")):
        record = json.loads(record_path.read_text())
        for stage, path in model_files(record_path.parent).items():
            rel = str(path.relative_to(args.runs))
            key = (rel, sha256_of(path))
            meta = {"family": record["family"], "seed": record["seed"], "stage": stage,
                    "half": "calibration" if record["seed"] % 2 == 0 else "held-out",
                    "grokked": int(stage == "final" and bool(record["grokked"])),
                    "clean": int(stage == "final" and bool(record.get("clean", record["grokked"]))
                                 and is_clean(record)),
                    "epoch": record["final_epoch"] if stage == "final" else
                    (0 if stage == "init" else record["memorised_at"]), "path": rel}
            if key in done and set(columns) <= set(done[key]):
                rows.append({**done[key], **meta})  # the run's outcome as read now; the values as measured
                continue
            row = {**meta, **measure(path, claims)}
            rows.append(row)
            print(f"{rel}: {row['architecture']}, test accuracy {row.get('test-accuracy')}", flush=True)
    with args.out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} models -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
