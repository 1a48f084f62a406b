"""What a sweep prints, and how a folder of runs gates (issue 21, items 3 to 5).

A sweep's summary is one line per checkpoint (its counts and first failing claim) and the last
checkpoint's table; ``-v`` prints every table. A NOT-GATED claim on a model that does not solve
the task reads N/A. A folder of run directories gates as one population, with a ``run`` column."""

import csv
import json
import shutil

import pytest

from tests._paths import FIXTURES
from tests.published import nanda

SNAPSHOTS = 69  # Grok-Grok's published full-run file holds 69 snapshots and the final model


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """A Grok-Grok full-run file of 69 snapshots (a small p = 23 transformer, one epoch apart; its
    final model is its last snapshot, so the file holds 69 models)."""
    model = nanda.nanda(23, d_model=16, n_heads=2, d_mlp=24, seed=3)
    run = nanda.record_full_run(model, num_epochs=SNAPSHOTS + 1, every=1)
    assert len(run["state_dicts"]) == SNAPSHOTS
    return nanda.save_full_run(run, tmp_path_factory.mktemp("grokgrok") / "full_run_data.pth")


def _lines(result) -> list[str]:
    return [line for line in result.outlines if line.strip()] + [line for line in result.errlines if line.strip()]


def test_a_69_snapshot_sweep_fits_a_screen(pytester, full_run):
    result = pytester.runpytest_subprocess(f"--checkpoint={full_run}", "--input-form=a,b", "-p", "no:cacheprovider")
    assert result.ret == 1  # an untrained model's snapshots fail test accuracy
    lines = result.outlines + result.errlines
    assert len(lines) < 150, "\n".join(lines)
    per_checkpoint = [line for line in lines if line.startswith("  full_run_data@")]
    assert len(per_checkpoint) == SNAPSHOTS
    assert all("first failing: test-accuracy" in line for line in per_checkpoint)
    assert sum("claim  " in line and "verdict" in line for line in lines) == 1  # one table: the last checkpoint's
    assert not [line for line in lines if line.startswith("FAILED ")]  # pytest's per-case summary is left out

    verbose = pytester.runpytest_subprocess(f"--checkpoint={full_run}", "--input-form=a,b", "-v",
                                            "-p", "no:cacheprovider")
    tables = [line for line in verbose.outlines if "claim  " in line and "verdict" in line]
    assert len(tables) == SNAPSHOTS  # -v: every checkpoint's table


def test_not_gated_on_a_model_that_does_not_solve_the_task_reads_na(pytester):
    untrained = FIXTURES / "p113" / "epoch000000.pt"
    out = pytester.path / "r.json"
    result = pytester.runpytest_inprocess(f"--checkpoint={untrained}", "--claims-report", str(out),
                                          "-p", "no:cacheprovider")
    rows = {r["id"]: r for r in json.loads(out.read_text())["claims"]}
    row = rows["wu-key-norm-ratio"]
    assert row["verdict"] == "NOT-GATED" and row["not_applicable"].startswith("it describes how a model")
    table_lines = [line for line in result.outlines if line.strip().startswith("wu-key-norm-ratio")]
    assert table_lines and all(line.rstrip().endswith("NOT-GATED (N/A)") for line in table_lines), table_lines
    assert not [line for line in result.outlines if "NOT-GATED (holds)" in line or "NOT-GATED (does not hold)" in line]


def test_a_folder_of_runs_gates_as_one_population(pytester, tmp_path):
    folder = tmp_path / "population"
    shutil.copytree(FIXTURES / "transformer", folder)  # two runs: add/ (4 checkpoints) and sub/ (1)
    (folder / "PROVENANCE.md").unlink()
    table = tmp_path / "sweep.csv"
    result = pytester.runpytest_inprocess(f"--checkpoint={folder}", f"--claims-table={table}", "-p", "no:cacheprovider")
    assert result.ret == 1  # the untrained and memorising add checkpoints fail
    rows = list(csv.DictReader(table.read_text().splitlines()))
    assert [(r["run"], r["checkpoint"]) for r in rows] == [
        ("add", "add-epoch000000"), ("add", "add-epoch001000"), ("add", "add-epoch010000"),
        ("add", "add-epoch015000"), ("add", "first holds"), ("sub", "sub-epoch025000"), ("sub", "first holds")]
    assert [r["epoch"] for r in rows if r["checkpoint"] != "first holds"] == ["0", "1000", "10000", "15000", "25000"]
    summary = [line for line in result.outlines if line.startswith(("  add-", "  sub-"))]
    assert [line.split(":")[0].strip() for line in summary] == [
        "add-epoch000000", "add-epoch001000", "add-epoch010000", "add-epoch015000", "sub-epoch025000"]


def test_an_empty_folder_of_runs_is_one_line(pytester, tmp_path):
    (tmp_path / "runs" / "seed0").mkdir(parents=True)
    result = pytester.runpytest_inprocess(f"--checkpoint={tmp_path / 'runs'}", "-p", "no:cacheprovider")
    assert result.ret == 4
    errors = [line for line in result.errlines if "holds no checkpoint" in line]
    assert len(errors) == 1 and "run directories directly inside it" in errors[0]
