"""Measure every snapshot of the horizon runs: ``python -m calibration.measure_trajectories``.

Reads each run of ``calibration/runs-horizon/<family>/seed<k>/`` (written by
``python -m calibration.train_population --horizon``), finished or not, and appends to
``calibration/trajectories.csv`` one row per snapshot it has not measured yet (keyed by its
path under the runs' folder, with the file's sha256: two runs' snapshots can hold the same bytes,
as the epoch-0 models of ``tl-add``, ``tl-sub`` and ``full-tl`` with one seed do): its family,
seed, half (even seeds calibrate, odd seeds are held out), stage, epoch, epochs since grokking,
and per claim of the default claims file its worst case, measured as
:mod:`calibration.measure_population` measures a model (the suite's own readers, as a user's
file is read). A run's record is its ``run.json`` once it reached its horizon, else the record
its ``resume.pt`` holds (the snapshots saved so far, ``grokked_at``, ``memorised_at``); only the
snapshots that record lists are read, so a file being written is never measured.

Stages: ``init`` (epoch 0), ``memorised`` (the first evaluation with train accuracy 1 and test
accuracy below 0.5), ``grokked`` (the first evaluation with test accuracy 1), ``horizon`` (the
family's fixed horizon), ``snapshot`` (every other saved epoch); a full-data family's snapshots
after epoch 0 are ``full-data`` (nothing is held out: they do not grok). ``since_grokking`` is
the epoch less ``grokked_at`` from the grokking snapshot on, empty before it, in a run that has
not grokked, and in a full-data family.

Rows already in the file stay, also where their run is no longer on disk (the checkpoints are not
committed: each session adds the snapshots its runs reached); a row's stage and epochs since
grokking are re-read from its run's record where it is on disk. Then, from the whole file, it
writes what is derived from it (``--derived-only``: that alone, measuring nothing):

* ``interp/population_trajectories.json``, the summary a failing claim's message reads
  (:mod:`interp.trajectories`): per grokking family, claim and bin of epochs since grokking
  (:data:`BINS`), how many held-out models hold the claim throughout the bin;
* its table in docs/claims.md, between ``<!-- trajectories:begin -->`` and its end
  (``tests/acceptance/test_trajectories.py`` checks both against the committed file);
* its figure, ``docs/claims-over-training.png`` (:mod:`interp.figures.trajectories`).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from calibration.calibrate import OPS, applies, required_claims  # noqa: E402
from calibration.measure_population import EXTRA  # noqa: E402
from calibration.train_population import HORIZON_FAMILIES, snapshot_tag  # noqa: E402
from interp.checkpoint import sha256_of, write_atomic  # noqa: E402
from interp.trajectories import SUMMARY, bin_label  # noqa: E402

RUNS = ROOT / "runs-horizon"
OUT = ROOT / "trajectories.csv"
SUMMARY_PATH = ROOT.parent / "interp" / SUMMARY
DOCS = ROOT.parent / "docs" / "claims.md"
FIGURE = ROOT.parent / "docs" / "claims-over-training.png"
MARK = "trajectories"
FIELDS = ("family", "seed", "half", "stage", "epoch", "since_grokking", "grokked_at", "horizon", "test_loss",
          "architecture", "p", "task", "path", "sha256")
BINS = (0, 1000, 2000, 5000, 10_000, 20_000, 40_000)  # epochs since grokking: each bin to the next edge
FULL_DATA = tuple(name for name, f in HORIZON_FAMILIES.items() if f.train_fraction == 1.0)
DESCRIPTIONS = {  # how a failing claim's message names a family's models
    "nb-mlp-113": "notebook-recipe MLPs (p = 113)",
    "mlp-add": "notebook-recipe MLPs at p = 59",
    "tl-add": "Nanda-recipe transformers (p = 59, a + b)",
    "tl-sub": "Nanda-recipe transformers (p = 59, a - b)",
    "zhong-c0": "Zhong et al. c = 0 transformers (p = 59)",
    "zhong-c1": "Zhong et al. c = 1 transformers (p = 59)",
}


# -- the runs' records ---------------------------------------------------------------------------------
def record_of(directory: Path) -> dict | None:
    """A run's record: ``run.json`` once it reached its horizon, else the one its ``resume.pt``
    holds (the run so far); None where neither is there yet."""
    done = directory / "run.json"
    if done.is_file():
        return json.loads(done.read_text())
    resume = directory / "resume.pt"
    if not resume.is_file():
        return None
    import torch

    return json.loads(torch.load(resume, map_location="cpu", weights_only=True)["record"])


def stage_of(record: dict, epoch: int) -> str:
    """The stage of the run's snapshot at ``epoch`` (the module docstring's list).

    >>> record = {"family": "nb-mlp-113", "memorised_at": 300, "grokked_at": 3400, "horizon": 50000}
    >>> [stage_of(record, e) for e in (0, 300, 1000, 3400, 50000)]
    ['init', 'memorised', 'snapshot', 'grokked', 'horizon']
    >>> stage_of({**record, "family": "full-mlp", "memorised_at": None, "grokked_at": 200}, 200)
    'full-data'
    """
    if epoch == 0:
        return "init"
    if record["family"] in FULL_DATA:
        return "full-data"
    named = {record.get("memorised_at"): "memorised", record.get("grokked_at"): "grokked",
             record.get("horizon"): "horizon"}
    return named.get(epoch, "snapshot")


def since_grokking(record: dict, epoch: int) -> int | None:
    """Epochs since the run grokked (None before it, where it has not, and in a full-data family).

    >>> record = {"family": "nb-mlp-113", "grokked_at": 3400}
    >>> since_grokking(record, 3000), since_grokking(record, 5000), since_grokking({**record, "grokked_at": None}, 9)
    (None, 1600, None)
    """
    grokked = record.get("grokked_at")
    if record["family"] in FULL_DATA or grokked is None or epoch < grokked:
        return None
    return epoch - grokked


def snapshot_files(directory: Path, record: dict) -> list[tuple[int, Path]]:
    """``(epoch, file)`` of each snapshot the record lists, as the run saved it (``epochNNNNNN.pt``
    or, Zhong et al.'s layout, ``model_epochNNNNNN.pt``)."""
    out = []
    for epoch in sorted(set(record.get("snapshots", []))):
        tag = snapshot_tag(epoch)
        found = [p for p in (directory / f"{tag}.pt", directory / f"model_{tag}.pt") if p.is_file()]
        if found:
            out.append((epoch, found[0]))
    return out


def meta_of(record: dict, epoch: int, rel: str, test_loss: float | None = None) -> dict:
    """The columns of a snapshot's row that come from its run's record (and ``test_loss``, from the
    json the run saved beside the snapshot: whether a model at its horizon is clean)."""
    since = since_grokking(record, epoch)
    return {"family": record["family"], "seed": record["seed"], "test_loss": "" if test_loss is None else test_loss,
            "half": "calibration" if record["seed"] % 2 == 0 else "held-out", "stage": stage_of(record, epoch),
            "epoch": epoch, "since_grokking": "" if since is None else since,
            "grokked_at": "" if record.get("grokked_at") is None or record["family"] in FULL_DATA
            else record["grokked_at"], "horizon": record.get("horizon", ""), "path": rel}


def saved_test_loss(path: Path) -> float | None:
    """The test loss the run recorded beside a snapshot (``<tag>.json``; Zhong et al.'s layout,
    ``config_<tag>.json`` beside ``model_<tag>.pt``), or None.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "config_epoch020000.json").write_text('{"test_loss": 3e-05}')
    >>> saved_test_loss(folder / "model_epoch020000.pt"), saved_test_loss(folder / "epoch001000.pt")
    (3e-05, None)
    """
    tag = path.stem.removeprefix("model_")
    for stats in (path.with_name(f"{tag}.json"), path.with_name(f"config_{tag}.json")):
        if stats.is_file():
            return json.loads(stats.read_text()).get("test_loss")
    return None


# -- measuring ----------------------------------------------------------------------------------------
def columns_of(claims) -> list[str]:
    return [*FIELDS, *dict.fromkeys([*(c.id for c in claims.claims), *EXTRA])]


def read_trajectories(path: Path = OUT) -> list[dict]:
    if not path.is_file():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _order(row: dict) -> tuple:
    families = list(HORIZON_FAMILIES)
    family = row["family"]
    return (families.index(family) if family in families else len(families), family, int(row["seed"]),
            int(row["epoch"]))


def measure_runs(runs: Path, rows: list[dict], claims, measure, log=print) -> tuple[list[dict], int]:
    """``rows`` (the file so far) with every snapshot of ``runs`` not in it measured and added, and
    the rows of the snapshots on disk given their record's stage; returns them in order, and how
    many were measured. ``measure(path, claims)`` gives a row's measured columns."""
    columns = columns_of(claims)
    by_path = {r["path"]: r for r in rows}
    measured = 0
    for directory in sorted(p for p in runs.glob("*/seed*") if p.is_dir()):
        record = record_of(directory)
        if record is None:
            continue
        for epoch, path in snapshot_files(directory, record):
            rel = str(path.relative_to(runs))
            sha = sha256_of(path)
            meta = meta_of(record, epoch, rel, saved_test_loss(path))
            known = by_path.get(rel)
            if known is not None and known["sha256"] == sha and set(columns) <= set(known) | set(meta):
                by_path[rel] = {**known, **{k: str(v) for k, v in meta.items()}}
                continue
            # new, or the same snapshot re-made with other bytes (the new one stands), or missing a column
            by_path[rel] = {k: str(v) for k, v in {**measure(path, claims), **meta, "sha256": sha}.items()}
            measured += 1
            log(f"{rel}: {meta['stage']}, test accuracy {by_path[rel].get('test-accuracy')}")
    return sorted(by_path.values(), key=_order), measured


def write_rows(rows: list[dict], claims, path: Path = OUT) -> None:
    """The rows as CSV, atomically (an interrupted write leaves the previous file)."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns_of(claims), extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)

    write_atomic(path, write)


# -- what the file says over training time ------------------------------------------------------------
def holds(row: dict, claim, required: tuple) -> bool | None:
    """The row's worst case holds the claim at its threshold on the row's architecture, and the
    claims it requires hold (None: the claim is not defined there)."""
    if row.get(claim.id, "") == "":
        return None
    return applies(row, required) and OPS[claim.op](float(row[claim.id]), claim.threshold_on(row["architecture"]))


def bin_of(since: int) -> int:
    """The index of the bin of :data:`BINS` that ``since`` epochs since grokking fall in."""
    return max(i for i, edge in enumerate(BINS) if since >= edge)


def summary(claims, rows: list[dict]) -> dict:
    """The summary :mod:`interp.trajectories` reads: per grokking family with held-out snapshots
    after grokking, per claim, ``[holding, models]`` per bin (a model holds in a bin when it holds
    at every snapshot it has there)."""
    held = [r for r in rows if r["half"] == "held-out" and r["since_grokking"] != "" and r["family"] not in FULL_DATA]
    families = {}
    for family in sorted({r["family"] for r in held}, key=lambda f: _order({"family": f, "seed": 0, "epoch": 0})):
        of_family = [r for r in held if r["family"] == family]
        architecture = of_family[0]["architecture"]
        found = {}
        for claim in claims.claims:
            required = required_claims(claim, claims)
            per_model: dict[tuple[str, int], list[bool]] = {}
            for r in of_family:
                verdict = holds(r, claim, required)
                if verdict is not None:
                    per_model.setdefault((r["seed"], bin_of(int(r["since_grokking"]))), []).append(verdict)
            counts = [[sum(all(v) for (_, b), v in per_model.items() if b == i),
                       sum(b == i for _, b in per_model)] for i in range(len(BINS))]
            if any(models for _, models in counts):
                found[claim.id] = {"op": claim.op, "threshold": claim.threshold_on(architecture), "counts": counts}
        families[family] = {"architecture": architecture, "description": DESCRIPTIONS.get(family, family),
                            "models": len({r["seed"] for r in of_family}),
                            "furthest": max(int(r["since_grokking"]) for r in of_family), "claims": found}
    return {"source": "calibration/trajectories.csv (python -m calibration.measure_trajectories): the held-out "
                      "half (odd seeds) of each grokking family of the horizon population",
            "bins": list(BINS), "families": families}


def summary_text(found: dict) -> str:
    """The summary as JSON, a claim's entry on one line."""
    text = json.dumps(found, indent=1)
    entry = re.compile(r'\{\n\s*"op": .*?\n\s*\]\n\s*\}', re.S)
    return entry.sub(lambda m: json.dumps(json.loads(m.group(0))), text) + "\n"


def trajectory_table(found: dict) -> str:
    """The summary as a markdown table: a row per claim and family, a column per bin of epochs
    since grokking, each cell ``holding of models`` (– where no model reached the bin)."""
    edges = found["bins"]
    lines = ["| claim | family | held-out models | threshold | "
             + " | ".join(bin_label(edges, i) for i in range(len(edges))) + " |",
             "|---|---|---|---|" + "---|" * len(edges)]
    claim_ids = list(dict.fromkeys(c for f in found["families"].values() for c in f["claims"]))
    for claim_id in claim_ids:
        for name, family in found["families"].items():
            entry = family["claims"].get(claim_id)
            if entry is None:
                continue
            cells = [f"{k} of {n}" if n else "–" for k, n in entry["counts"]]
            lines.append(f"| `{claim_id}` | `{name}` | {family['models']} | {entry['op']} {entry['threshold']:g} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def measured_so_far(rows: list[dict]) -> str:
    """One paragraph: how many snapshots of which runs the file holds, and how far each run went.

    >>> rows = [{"family": "nb-mlp-113", "seed": "5", "epoch": e, "grokked_at": "4100", "horizon": "50000"}
    ...         for e in ("0", "4100")]
    >>> measured_so_far(rows)
    'Measured so far: 2 snapshots of 1 run. `nb-mlp-113`: seed 5 to epoch 4,100 (grokked at 4,100).'
    """
    runs: dict[str, dict[int, list[dict]]] = {}
    for r in rows:
        runs.setdefault(r["family"], {}).setdefault(int(r["seed"]), []).append(r)
    count = sum(len(seeds) for seeds in runs.values())
    parts = []
    for family, seeds in runs.items():
        cells = []
        for seed, of_run in sorted(seeds.items()):
            last = max(int(r["epoch"]) for r in of_run)
            notes = [f"grokked at {int(of_run[0]['grokked_at']):,}"] if of_run[0]["grokked_at"] else []
            if str(last) == of_run[0]["horizon"]:
                notes.append("its horizon")
            cells.append(f"seed {seed} to epoch {last:,}" + (f" ({', '.join(notes)})" if notes else ""))
        parts.append(f"`{family}`: " + ", ".join(cells))
    return (f"Measured so far: {len(rows)} snapshots of {count} run{'s' * (count != 1)}. "
            + "; ".join(parts) + ".")


def trajectory_block(rows: list[dict], found: dict) -> str:
    """docs/claims.md's generated block: what the file holds, then the table."""
    return measured_so_far(rows) + "\n\n" + trajectory_table(found)


def write_derived(claims, rows: list[dict], figure: bool = True) -> dict:
    """The summary, its table in docs/claims.md and its figure, from the rows."""
    from tests._tables import replace_blocks

    found = summary(claims, rows)
    SUMMARY_PATH.write_text(summary_text(found))
    DOCS.write_text(replace_blocks(DOCS.read_text(), {MARK: trajectory_block(rows, found)}))
    if figure:
        from interp.figures.trajectories import render_trajectories

        render_trajectories(found, FIGURE)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.measure_trajectories",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=RUNS)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--threads", type=int, default=1, help="torch threads while measuring (default: 1)")
    parser.add_argument("--derived-only", action="store_true",
                        help="measure nothing: write the summary, its table and its figure from the file")
    parser.add_argument("--no-figure", action="store_true", help="leave the figure as it is")
    args = parser.parse_args(argv)
    from calibration.measure_population import measure
    from interp.claims.load import DEFAULT_CLAIMS, load_claims

    claims = load_claims(DEFAULT_CLAIMS)
    rows = read_trajectories(args.out)
    if not args.derived_only:
        import torch

        torch.set_num_threads(args.threads)
        rows, measured = measure_runs(args.runs, rows, claims, measure)
        write_rows(rows, claims, args.out)
        print(f"{measured} snapshots measured; {len(rows)} rows -> {args.out}")
    found = write_derived(claims, rows, figure=not args.no_figure)
    counts = {name: f"{f['models']} held-out model(s), to {f['furthest']:,} epochs after grokking"
              for name, f in found["families"].items()}
    print(f"{SUMMARY_PATH}, {DOCS} ({MARK}), {FIGURE}: {counts or 'no held-out model has grokked yet'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
