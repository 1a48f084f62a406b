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


# -- the horizon population (issue 20): the rule's switch ---------------------------------------------
HORIZON_PREFIX = "runs-horizon/"
EARLY = ROOT / "population-early.csv"
TRAJECTORY_STAGES = {"init": "init", "memorised": "memorised", "grokked": "grokking", "horizon": "final"}


def horizon_rows(trajectories: list[dict]) -> list[dict]:
    """The calibrated file's rows from the horizon runs' measured snapshots
    (``calibration/trajectories.csv``), as the rule reads them (docs/claims.md, "The calibration
    rule"): per run its ``init`` and ``memorised`` models; its snapshot at the grokking epoch as
    ``grokking`` (a negative for the claims that name that kind); its model at the family's
    horizon as ``final``, grokked where the run grokked and clean where its test accuracy is 1 and
    its recorded test loss at most ``CLEAN_LOSS`` there; a full-data family's model at its horizon
    as ``full-data``. The snapshots between are trajectories, not calibration data.

    >>> row = {"family": "nb-mlp-113", "stage": "horizon", "epoch": "50000", "horizon": "50000", "grokked_at": "3400",
    ...        "test-accuracy": "1.0", "test_loss": "4e-05", "path": "nb-mlp-113/seed0/epoch050000.pt"}
    >>> [(r["stage"], r["grokked"], r["clean"], r["path"]) for r in horizon_rows([row])]
    [('final', 1, 1, 'runs-horizon/nb-mlp-113/seed0/epoch050000.pt')]
    >>> full = {**row, "family": "full-mlp", "stage": "full-data", "epoch": "5000", "horizon": "5000", "grokked_at": ""}
    >>> [r["stage"] for r in horizon_rows([full, {**full, "epoch": "4000"}, {**row, "stage": "snapshot"}])]
    ['full-data']
    """
    from calibration.measure_trajectories import FULL_DATA
    from calibration.train_population import CLEAN_LOSS

    out = []
    for r in trajectories:
        if r["family"] in FULL_DATA:
            stage = "init" if r["stage"] == "init" else "full-data" if r["epoch"] == r["horizon"] else None
        else:
            stage = TRAJECTORY_STAGES.get(r["stage"])
        if stage is None:
            continue
        final = stage == "final"
        clean = (final and float(r["test-accuracy"]) == 1.0 and r.get("test_loss", "") != ""
                 and float(r["test_loss"]) <= CLEAN_LOSS)
        out.append({**r, "stage": stage, "grokked": int(final and r["grokked_at"] != ""), "clean": int(clean),
                    "path": HORIZON_PREFIX + r["path"]})
    return out


def switch_to_horizon(population: Path, early: Path, trajectories: list[dict], columns: list[str],
                      architectures: tuple[str, ...] | None = None) -> tuple[int, int]:
    """The rule's switch: the early-stopped runs' rows of ``population`` move to ``early`` (added
    to what it holds), and ``population`` becomes the horizon population's rows. With
    ``architectures``, only those architectures' rows switch (their early rows move, their horizon
    rows come in); the others' rows stay as they are (calibration/README.md, "One architecture at
    a time"). Returns how many rows moved and how many the new file has."""
    def read(path: Path) -> list[dict]:
        if not path.is_file():
            return []
        with path.open(newline="") as fh:
            return list(csv.DictReader(fh))

    def switching(row: dict) -> bool:
        return architectures is None or row["architecture"] in architectures

    current = read(population)
    moved = [r for r in current if not r["path"].startswith(HORIZON_PREFIX) and switching(r)]
    kept = {(r["path"], r["sha256"]): r for r in read(early)}
    kept.update({(r["path"], r["sha256"]): r for r in moved})
    staying = [r for r in current if not switching(r)]
    rows = staying + [r for r in horizon_rows(trajectories) if switching(r)]
    for path, out in ((early, list(kept.values())), (population, rows)):
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(out)
    return len(moved), len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.measure_population",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    parser.add_argument("--out", type=Path, default=ROOT / "population.csv")
    parser.add_argument("--remeasure", action="store_true", help="measure every model again (a metric changed)")
    parser.add_argument("--horizon", action="store_true",
                        help="the rule's switch, once the horizon population is trained (calibration/README.md): "
                             "population.csv from calibration/trajectories.csv, the early-stopped runs' rows "
                             "moved to population-early.csv")
    parser.add_argument("--architecture", action="append", choices=("mlp", "transformer"),
                        help="with --horizon: switch only this architecture's rows (repeatable; default: all)")
    args = parser.parse_args(argv)
    claims = load_claims(DEFAULT_CLAIMS)
    columns = [*FIELDS, *dict.fromkeys([*(c.id for c in claims.claims), *EXTRA])]
    if args.horizon:
        from calibration.measure_trajectories import read_trajectories

        archs = tuple(args.architecture) if args.architecture else None
        moved, rows = switch_to_horizon(args.out, EARLY, read_trajectories(), columns, archs)
        print(f"{moved} early-stopped rows -> {EARLY}; {rows} horizon rows -> {args.out}")
        return 0
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
