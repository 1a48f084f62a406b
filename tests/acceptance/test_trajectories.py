"""Claims over training time (issue 20, item 5), from the committed ``calibration/trajectories.csv``:
docs/claims.md's table and the summary shipped in the package
(``interp/population_trajectories.json``) are what ``python -m calibration.measure_trajectories``
gives from the file with the default claims file; the file's rows are consistent; the figure is
drawn from a summary."""

from __future__ import annotations

import pytest

from calibration.measure_trajectories import (
    BINS,
    DOCS,
    FIELDS,
    FULL_DATA,
    MARK,
    OUT,
    SUMMARY_PATH,
    bin_of,
    columns_of,
    read_trajectories,
    summary,
    summary_text,
    trajectory_block,
    trajectory_table,
)
from calibration.train_population import HORIZON_FAMILIES
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._extras import import_extra
from tests._tables import block_in

CLAIMS = load_claims(DEFAULT_CLAIMS)
ROWS = read_trajectories(OUT)
REGENERATE = "run: python -m calibration.measure_trajectories --derived-only"


def test_the_docs_table_is_what_the_committed_file_gives():
    assert block_in(DOCS.read_text(), MARK) == trajectory_block(ROWS, summary(CLAIMS, ROWS)), REGENERATE


def test_the_shipped_summary_is_what_the_committed_file_gives():
    assert SUMMARY_PATH.read_text() == summary_text(summary(CLAIMS, ROWS)), REGENERATE


def test_the_table_moves_with_the_file():
    """A held-out model's value moved across its claim's threshold changes the table."""
    held = [r for r in ROWS if r["half"] == "held-out" and r["since_grokking"] != ""]
    if not held:
        pytest.skip("no held-out snapshot after grokking in the file yet")
    claim = CLAIMS.claim("distance-irrelevance")
    moved = [{**r, claim.id: "0.0" if float(r[claim.id]) > claim.threshold_on(r["architecture"]) else "1.0"}
             if r is held[0] else r for r in ROWS]
    assert trajectory_table(summary(CLAIMS, moved)) != trajectory_table(summary(CLAIMS, ROWS))


def test_the_file_s_rows_are_consistent():
    assert ROWS, "calibration/trajectories.csv has no rows"
    columns = columns_of(CLAIMS)
    assert list(ROWS[0]) == columns, "the file's columns are not the claims file's: re-measure"
    assert len({r["path"] for r in ROWS}) == len(ROWS)
    assert len({(r["family"], r["seed"], r["epoch"]) for r in ROWS}) == len(ROWS)
    for r in ROWS:
        seed, epoch = int(r["seed"]), int(r["epoch"])
        assert r["half"] == ("calibration" if seed % 2 == 0 else "held-out")
        if epoch == 0:
            assert r["stage"] == "init"
        elif r["family"] in FULL_DATA:
            assert r["stage"] == "full-data" and r["since_grokking"] == ""
        if r["since_grokking"] != "":
            assert int(r["since_grokking"]) == epoch - int(r["grokked_at"]) >= 0
            assert (r["stage"] == "grokked") == (r["since_grokking"] == "0")
        assert r["test-accuracy"] != "" and r["architecture"] in ("mlp", "transformer")
        # measured as its own run's file: runs of two families with one seed share their epoch-0
        # bytes, and a row keyed by them once carried the other family's task and split
        family = HORIZON_FAMILIES[r["family"]]
        assert (r["task"], int(r["p"])) == (family.task, family.p), r["path"]
        assert set(FIELDS) <= set(r)


def test_the_worked_examples():
    import doctest

    import calibration.measure_trajectories as module

    assert doctest.testmod(module).failed == 0


def test_bins():
    assert [bin_of(s) for s in (0, 999, 1000, 4999, 5000, 39_999, 40_000, 10**6)] == [0, 0, 1, 2, 3, 5, 6, 6]
    assert BINS[0] == 0 and list(BINS) == sorted(BINS)


def test_the_figure_is_drawn_from_a_summary(tmp_path):
    import_extra("matplotlib", "test")
    from interp.figures.trajectories import render_trajectories

    found = {"bins": list(BINS), "families": {
        "a": {"architecture": "mlp", "description": "MLPs", "models": 3, "furthest": 42_000,
              "claims": {"fve": {"op": ">", "threshold": 0.84, "counts": [[0, 3], [1, 3], [2, 3], [0, 0],
                                                                           [3, 3], [3, 3], [2, 2]]}}},
        "b": {"architecture": "transformer", "description": "transformers", "models": 1, "furthest": 0,
              "claims": {"fve": {"op": ">", "threshold": 0.84, "counts": [[1, 1]] + [[0, 0]] * 6}}}}}
    path = render_trajectories(found, tmp_path / "t.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert render_trajectories({"bins": list(BINS), "families": {}}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def test_the_default_gate_fails_every_spread_full_data_model_beyond_accuracy():
    """Issue 20, item 3: a full-data model (every pair trained on, no weight decay) whose spectrum
    is spread (at least 40% of its frequencies key: it fails ``key-freqs-few``) answers every pair
    and must still fail the default gate on a claim other than test accuracy. Read from the
    committed rows at each full-data run's horizon, under claims.yaml's gates and thresholds. A
    full-data model with a sparse spectrum (``full-tl`` seed 3: 2 of 29 frequencies key) may pass:
    a few frequencies is what the claims describe."""
    from calibration.calibrate import required_claims
    from calibration.measure_trajectories import holds
    from interp.claims.claim import gates

    spread = [r for r in ROWS if r["family"] in FULL_DATA and r["epoch"] == r["horizon"]
              and float(r["key-freqs-few"]) >= 0.4]
    assert len(spread) >= 4, "the committed file should hold the spread full-data models measured so far"
    for r in spread:
        failing = [c.id for c in CLAIMS.claims if c.id != "test-accuracy" and gates(c, r["architecture"])
                   and holds(r, c, required_claims(c, CLAIMS)) is False]
        assert float(r["test-accuracy"]) == 1.0 and failing, f"{r['family']} seed {r['seed']} passes the default gate"
