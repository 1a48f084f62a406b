"""The calibration rule's switch to the horizon population (issue 20; docs/claims.md, "The
calibration rule"): ``python -m calibration.measure_population --horizon`` moves the early-stopped
runs' rows to ``population-early.csv`` and makes the calibrated file of the horizon runs' models,
with the stages the rule reads (``final`` at the horizon, ``grokking``, ``full-data``)."""

import csv

from calibration.calibrate import is_positive, negative_rows
from calibration.measure_population import FIELDS, HORIZON_PREFIX, horizon_rows, switch_to_horizon

COLUMNS = [*FIELDS, "test-accuracy"]


def _snapshot(family, seed, stage, epoch, horizon, grokked_at="", accuracy="1.0", loss="1e-05"):
    return {"family": family, "seed": str(seed), "half": "calibration" if seed % 2 == 0 else "held-out",
            "stage": stage, "epoch": str(epoch), "horizon": str(horizon), "grokked_at": str(grokked_at),
            "test_loss": loss, "architecture": "mlp", "p": "113", "task": "add", "sha256": f"{family}{seed}{epoch}",
            "path": f"{family}/seed{seed}/epoch{epoch:06d}.pt", "test-accuracy": accuracy}


TRAJECTORIES = [
    _snapshot("nb-mlp-113", 0, "init", 0, 50000, 3400, accuracy="0.01", loss="4.7"),
    _snapshot("nb-mlp-113", 0, "memorised", 300, 50000, 3400, accuracy="0.05", loss="9.0"),
    _snapshot("nb-mlp-113", 0, "grokked", 3400, 50000, 3400, loss="0.02"),
    _snapshot("nb-mlp-113", 0, "snapshot", 4000, 50000, 3400),
    _snapshot("nb-mlp-113", 0, "horizon", 50000, 50000, 3400),
    _snapshot("nb-mlp-113", 1, "horizon", 50000, 50000, 5000, loss="3e-04"),  # at its horizon, not clean
    _snapshot("nb-mlp-113", 2, "snapshot", 20000, 50000, 4000),  # still training: no final row yet
    _snapshot("full-mlp", 0, "full-data", 4000, 5000),
    _snapshot("full-mlp", 0, "full-data", 5000, 5000),
]


def test_the_stages_the_rule_reads():
    rows = horizon_rows(TRAJECTORIES)
    assert [(r["family"], r["seed"], r["stage"], r["epoch"]) for r in rows] == [
        ("nb-mlp-113", "0", "init", "0"), ("nb-mlp-113", "0", "memorised", "300"),
        ("nb-mlp-113", "0", "grokking", "3400"), ("nb-mlp-113", "0", "final", "50000"),
        ("nb-mlp-113", "1", "final", "50000"), ("full-mlp", "0", "full-data", "5000")]
    assert [is_positive({k: str(v) for k, v in r.items()}) for r in rows] == [False, False, False, True, False, False]
    as_read = [{k: str(v) for k, v in r.items()} for r in rows]
    assert [r["epoch"] for r in negative_rows(as_read, "grokking")] == ["3400"]
    assert [r["epoch"] for r in negative_rows(as_read, "full-data")] == ["5000"]


def test_the_switch_moves_the_early_rows_and_keeps_them(tmp_path):
    population, early = tmp_path / "population.csv", tmp_path / "population-early.csv"
    old = [{"family": "mlp-add", "seed": "0", "stage": "final", "half": "calibration", "grokked": "1", "clean": "1",
            "epoch": "3600", "architecture": "mlp", "p": "59", "task": "add", "path": "mlp-add/seed0/final.pt",
            "sha256": "a" * 64, "test-accuracy": "1.0"}]
    with population.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(old)
    assert switch_to_horizon(population, early, TRAJECTORIES, COLUMNS) == (1, 6)
    with early.open() as fh:
        assert [r["path"] for r in csv.DictReader(fh)] == ["mlp-add/seed0/final.pt"]
    with population.open() as fh:
        now = list(csv.DictReader(fh))
    assert all(r["path"].startswith("runs-horizon/") for r in now) and len(now) == 6
    assert switch_to_horizon(population, early, TRAJECTORIES, COLUMNS) == (0, 6)  # again: nothing more moves
    with early.open() as fh:
        assert len(list(csv.DictReader(fh))) == 1


def test_one_architecture_at_a_time(tmp_path):
    """``--architecture mlp``: the MLPs' early rows move and their horizon rows come in; the
    transformers' early rows stay, and a later switch of the transformers keeps the MLPs' rows."""
    population, early = tmp_path / "population.csv", tmp_path / "population-early.csv"
    common = {"stage": "final", "grokked": "1", "clean": "1", "p": "59", "task": "add", "test-accuracy": "1.0"}
    old = [{**common, "family": "mlp-add", "seed": "0", "half": "calibration", "epoch": "3600", "architecture": "mlp",
            "path": "mlp-add/seed0/final.pt", "sha256": "a" * 64},
           {**common, "family": "tl-add", "seed": "0", "half": "calibration", "epoch": "2000",
            "architecture": "transformer", "path": "tl-add/seed0/final.pt", "sha256": "b" * 64}]
    with population.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(old)
    transformer = _snapshot("tl-add", 0, "horizon", 25000, 25000, 1800)
    trajectories = [*TRAJECTORIES, {**transformer, "architecture": "transformer"}]

    def paths(path):
        with path.open() as fh:
            return [r["path"] for r in csv.DictReader(fh)]

    assert switch_to_horizon(population, early, trajectories, COLUMNS, ("mlp",)) == (1, 7)
    assert paths(early) == ["mlp-add/seed0/final.pt"]
    now = paths(population)
    assert now[0] == "tl-add/seed0/final.pt"  # the transformers' early row stays
    assert all(p.startswith("runs-horizon/nb-mlp-113/") or p.startswith("runs-horizon/full-mlp/") for p in now[1:])
    assert switch_to_horizon(population, early, trajectories, COLUMNS, ("transformer",)) == (1, 7)
    assert paths(early) == ["mlp-add/seed0/final.pt", "tl-add/seed0/final.pt"]
    now = paths(population)
    assert all(p.startswith(HORIZON_PREFIX) for p in now) and now[-1] == "runs-horizon/tl-add/seed0/epoch025000.pt"
