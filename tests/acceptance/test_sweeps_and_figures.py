"""A training run verified as a sweep: one model run per checkpoint, the progress-measures
table, parallel workers, and the figures a person looks at."""

import csv
import json

import pytest

from interp import run as run_module
from interp.plugin import DEFAULT_CHECKPOINT

RUN_DIR = DEFAULT_CHECKPOINT.parent
EPOCHS = [0, 800, 2500, 50000]


def test_directory_sweep_runs_each_model_once_and_writes_the_table(pytester):
    before = run_module.FORWARD_CALLS["count"]
    md, table_csv = pytester.path / "sweep.md", pytester.path / "sweep.csv"
    result = pytester.runpytest_inprocess("--checkpoint", str(RUN_DIR), "--claims-table", str(md),
                                          "-p", "no:cacheprovider", "-q")
    assert result.ret == 1  # the controls fail
    assert run_module.FORWARD_CALLS["count"] - before == len(EPOCHS)
    lines = md.read_text().splitlines()
    assert [line.split(" | ")[1] for line in lines[2:6]] == [str(e) for e in EPOCHS]
    assert "| **first holds** |" in lines[6]
    pytester.runpytest_inprocess("--checkpoint", str(RUN_DIR), "--claims-table", str(table_csv),
                                 "-p", "no:cacheprovider", "-q", "-k", "accuracy")
    rows = list(csv.DictReader(table_csv.read_text().splitlines()))
    assert [r["test-accuracy passed"] for r in rows[:-1]] == ["False", "False", "False", "True"]
    assert rows[-1]["test-accuracy"] == "epoch 50000"


def test_claim_ids_carry_the_checkpoint_name(pytester):
    result = pytester.runpytest_inprocess("--checkpoint", str(RUN_DIR), "-k", "epoch000800 and accuracy",
                                          "--co", "-q", "-p", "no:cacheprovider")
    ids = [line for line in result.outlines if "::" in line]
    assert len(ids) == 1 and ids[0].endswith("::epoch000800::test-accuracy")


def test_sweep_in_parallel_workers_gives_the_same_report(pytester):
    pytest.importorskip("xdist")
    serial, parallel = pytester.path / "serial.json", pytester.path / "parallel.json"
    pytester.runpytest_inprocess("--checkpoint", str(RUN_DIR), "--claims-report", str(serial),
                                 "-p", "no:cacheprovider", "-q")
    result = pytester.runpytest_subprocess("--checkpoint", str(RUN_DIR), "--claims-report", str(parallel),
                                           "-n", "2", "--dist", "loadgroup", "-p", "no:cacheprovider", "-q")
    assert result.ret == 1
    assert json.loads(parallel.read_text()) == json.loads(serial.read_text())


def test_figures_and_index(pytester):
    pytest.importorskip("matplotlib")
    out = pytester.path / "figs"
    checkpoint = RUN_DIR / "epoch050000.pt"
    pytester.runpytest_inprocess("--checkpoint", str(checkpoint), "--claims-figures", str(out),
                                 "-p", "no:cacheprovider", "-q")
    pngs = sorted(p.name for p in (out / "epoch050000").glob("*.png"))
    assert pngs == ["fve.png", "logits.png", "neurons.png", "pre_post.png", "wneur.png", "wu.png"]
    for name in pngs:
        assert (out / "epoch050000" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index = (out / "index.html").read_text()
    assert index.count("<img ") == len(pngs)
    assert "fve[k23-sin]" in index and "known failure" in index and "holds" in index
