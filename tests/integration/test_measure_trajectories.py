"""Measuring the horizon runs' snapshots (``calibration/measure_trajectories.py``): a run still
training is read from its ``resume.pt`` record; a snapshot already measured (same path and
sha256) is not measured again; rows of runs no longer on disk stay; two runs' files with the same
bytes keep a row each; each snapshot is read by the suite's own readers (tiny runs trained here,
of this project's MLP and of Zhong et al.'s transformer)."""

from __future__ import annotations

import json

import pytest
import torch

import calibration.train_population as population
from calibration.measure_population import measure
from calibration.measure_trajectories import FIELDS, columns_of, measure_runs, read_trajectories, write_rows
from calibration.train_population import Family, train_to_horizon
from interp.claims.load import DEFAULT_CLAIMS, load_claims

CLAIMS = load_claims(DEFAULT_CLAIMS)


def fake_measure(calls: list):
    """A stand-in for the measurement: every claim column 0.5, the call recorded."""

    def measure_one(path, claims):
        calls.append(path.name)
        return {"architecture": "mlp", "p": 113, "task": "add", **{c: "0.5" for c in columns_of(claims)[len(FIELDS):]}}

    return measure_one


def lay_run(directory, record: dict, finished: bool) -> None:
    """A run directory as the trainer leaves it: a file per snapshot of the record, and the
    record as ``run.json`` (finished) or inside ``resume.pt`` (still training)."""
    directory.mkdir(parents=True, exist_ok=True)
    for epoch in record["snapshots"]:
        (directory / f"epoch{epoch:06d}.pt").write_bytes(f"{directory.name} {epoch}".encode())
    if finished:
        (directory / "run.json").write_text(json.dumps(record))
    else:
        torch.save({"run": {}, "record": json.dumps(record)}, directory / "resume.pt")


def test_unfinished_runs_are_measured_once_and_rows_stay(tmp_path):
    runs = tmp_path / "runs"
    record = {"family": "nb-mlp-113", "seed": 5, "horizon": 50_000, "memorised_at": 300, "grokked_at": 4100,
              "snapshots": [0, 300, 1000, 4000, 4100]}
    lay_run(runs / "nb-mlp-113" / "seed5", record, finished=False)
    (runs / "nb-mlp-113" / "seed5" / "epoch005000.pt").write_bytes(b"being written")  # not in the record yet
    calls = []
    rows, measured = measure_runs(runs, [], CLAIMS, fake_measure(calls), log=lambda _: None)
    assert measured == 5 and calls == [f"epoch{e:06d}.pt" for e in record["snapshots"]]
    by_epoch = {int(r["epoch"]): r for r in rows}
    assert [by_epoch[e]["stage"] for e in record["snapshots"]] == ["init", "memorised", "snapshot", "snapshot",
                                                                   "grokked"]
    assert [by_epoch[e]["since_grokking"] for e in record["snapshots"]] == ["", "", "", "", "0"]
    assert {r["half"] for r in rows} == {"held-out"} and {r["grokked_at"] for r in rows} == {"4100"}

    write_rows(rows, CLAIMS, tmp_path / "t.csv")
    rows = read_trajectories(tmp_path / "t.csv")
    record = {**record, "snapshots": [*record["snapshots"], 5000, 50_000], "final_epoch": 50_000}
    lay_run(runs / "nb-mlp-113" / "seed5", record, finished=True)
    full = {"family": "full-mlp", "seed": 0, "horizon": 5000, "memorised_at": None, "grokked_at": 200,
            "snapshots": [0, 200, 1000]}
    lay_run(runs / "full-mlp" / "seed0", full, finished=False)
    calls.clear()
    rows, measured = measure_runs(runs, rows, CLAIMS, fake_measure(calls), log=lambda _: None)
    assert calls == ["epoch000000.pt", "epoch000200.pt", "epoch001000.pt", "epoch005000.pt", "epoch050000.pt"]
    stages = [(r["family"], r["epoch"], r["stage"], r["since_grokking"]) for r in rows]
    assert stages[5:] == [("nb-mlp-113", "5000", "snapshot", "900"), ("nb-mlp-113", "50000", "horizon", "45900"),
                          ("full-mlp", "0", "init", ""), ("full-mlp", "200", "full-data", ""),
                          ("full-mlp", "1000", "full-data", "")]  # in the trainer's order of families

    for path in (runs / "full-mlp" / "seed0").iterdir():
        path.unlink()  # a run no longer on disk: its rows stay
    calls.clear()
    again, measured = measure_runs(runs, rows, CLAIMS, fake_measure(calls), log=lambda _: None)
    assert measured == 0 and calls == [] and again == rows


def test_runs_whose_snapshots_hold_the_same_bytes_each_keep_their_rows(tmp_path):
    """Runs of two families with one seed start from the same weights (``tl-add``, ``tl-sub`` and
    ``full-tl`` seed 0 share their epoch-0 file): each run keeps its own row of it."""
    runs = tmp_path / "runs"
    for family in ("tl-add", "tl-sub"):
        lay_run(runs / family / "seed0", {"family": family, "seed": 0, "horizon": 25_000, "memorised_at": None,
                                          "grokked_at": None, "snapshots": [0, 1000]}, finished=False)
    assert (runs / "tl-add/seed0/epoch000000.pt").read_bytes() == (runs / "tl-sub/seed0/epoch000000.pt").read_bytes()
    calls = []
    rows, measured = measure_runs(runs, [], CLAIMS, fake_measure(calls), log=lambda _: None)
    assert measured == 4 and sorted((r["family"], r["epoch"]) for r in rows) == [
        ("tl-add", "0"), ("tl-add", "1000"), ("tl-sub", "0"), ("tl-sub", "1000")]
    again, measured = measure_runs(runs, rows, CLAIMS, fake_measure(calls), log=lambda _: None)
    assert measured == 0 and again == rows


def test_a_run_is_measured_by_the_suite_s_readers_as_it_trains(tmp_path, monkeypatch):
    tiny = Family("nb-mlp-113", "interp", arch="mlp", p=11, train_fraction=0.5, horizon=200, snapshot_every=100)
    saved = population.write_atomic

    class Killed(Exception):
        pass

    def killed_after_first_snapshot(path, write):
        saved(path, write)
        if path.name == "resume.pt":
            raise Killed

    monkeypatch.setattr(population, "write_atomic", killed_after_first_snapshot)
    with pytest.raises(Killed):
        train_to_horizon(tiny, 1, tmp_path, lambda _: None)
    monkeypatch.setattr(population, "write_atomic", saved)
    calls = []

    def counted(path, claims):
        calls.append(path.name)
        return measure(path, claims)

    rows, measured = measure_runs(tmp_path, [], CLAIMS, counted, log=lambda _: None)
    assert measured == len(rows) >= 2 and rows[0]["stage"] == "init"  # epoch 0, and the first saved after it
    assert rows[0]["architecture"] == "mlp" and rows[0]["p"] == "11" and float(rows[0]["test-accuracy"]) < 0.5
    train_to_horizon(tiny, 1, tmp_path, lambda _: None)
    calls.clear()
    rows, measured = measure_runs(tmp_path, rows, CLAIMS, counted, log=lambda _: None)
    assert calls and "epoch000000.pt" not in calls and rows[-1]["epoch"] == "200"
    assert rows[-1]["stage"] == "horizon" and rows[-1]["sha256"] and rows[-1]["distance-irrelevance"] != ""


def test_a_zhong_run_is_measured_as_their_files_are_read(tmp_path):
    """A tiny Zhong et al. run (``zhong-c0``'s recipe at p = 11) trained to its horizon: its
    snapshots are their layout (``model_<tag>.pt`` beside ``config_<tag>.json``), each row has the
    test loss the run recorded, and the suite reads the file as theirs: their split is unseeded, so
    it measures on every pair (its test accuracy is the run's train and test accuracies weighted by
    the pairs in each)."""
    tiny = Family("zhong-c0", "zhong", attn_coeff=0.0, train_fraction=0.8, weight_decay=2.0, p=11, horizon=100,
                  snapshot_every=50)
    record = train_to_horizon(tiny, 1, tmp_path, lambda _: None)
    rows, measured = measure_runs(tmp_path, [], CLAIMS, measure, log=lambda _: None)
    assert measured == 3
    assert [r["path"] for r in rows] == [f"zhong-c0/seed1/model_epoch{e:06d}.pt" for e in (0, 50, 100)]
    assert [r["stage"] for r in rows] == ["init", "snapshot", "horizon"]
    assert {(r["architecture"], r["task"], r["p"]) for r in rows} == {("transformer", "add", "11")}
    recorded = {e["epoch"]: e for e in record["evaluations"]}
    n_train = int(0.8 * 11 * 11)  # 96 of the 121 pairs
    for row in rows[1:]:
        run = recorded[int(row["epoch"])]
        assert float(row["test_loss"]) == pytest.approx(run["test_loss"], rel=1e-5)
        every_pair = (n_train * run["train_accuracy"] + (121 - n_train) * run["test_accuracy"]) / 121
        assert float(row["test-accuracy"]) == pytest.approx(every_pair, abs=1e-6)
