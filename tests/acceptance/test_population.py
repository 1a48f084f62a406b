"""Thresholds and gates from the calibration population (``calibration/population.csv``, committed;
the rule: docs/claims.md, "The calibration rule", and ``calibration/calibrate.py``). Recomputed
here from the file, so an edit of claims.yaml that moves a threshold off the rule, or gates a
claim where the calibration half does not bear it out, fails; the held-out half changes nothing
(deleting its rows leaves claims.yaml as it is); and docs/claims.md and README show exactly these
numbers. The rule worked out by hand: ``tests/unit/test_calibration_rule.py``."""

from __future__ import annotations

import csv

import pytest

from calibration.calibrate import (
    EVERY_ARCHITECTURE,
    calibration_run,
    grokked_values,
    placements,
    read_population,
    rule_threshold,
    worst_of,
)
from calibration.population_tables import gate_rates, population_tables
from interp import algorithm
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._paths import ROOT
from tests._tables import block_in

CLAIMS = load_claims(DEFAULT_CLAIMS)
ROWS = read_population()
PLACED = placements(CLAIMS, ROWS)


@pytest.mark.parametrize("claim", CLAIMS.claims, ids=lambda c: c.id)
def test_claim_is_gated_where_the_rule_gates_it(claim):
    found = PLACED[claim.id]
    gated = list(claim.gated_on) if claim.gated_on is not None else None
    if gated is None:  # gated on every architecture: the population's, and those it has no models of
        assert claim.metric in EVERY_ARCHITECTURE, f"{claim.id}: gated_on all, but only the task itself may be"
        assert found.gated_on == ["mlp", "transformer"], f"{claim.id}: gated_on all, the rule gives {found.gated_on}"
    else:
        assert gated == found.gated_on, f"{claim.id}: gated_on {gated}, the rule gives {found.gated_on}"


@pytest.mark.parametrize("claim", CLAIMS.claims, ids=lambda c: c.id)
def test_thresholds_are_where_the_population_puts_them(claim):
    """Per architecture it gates, a calibrated claim's threshold is the rule's (``thresholds``);
    a fixed one has none (its default, checked by test_thresholds.py, is the seed's or exact)."""
    found = PLACED[claim.id]
    assert claim.thresholds == found.thresholds, (
        f"{claim.id}: thresholds {claim.thresholds}, the rule gives {found.thresholds} (calibration bound "
        f"{ {a: on.bound for a, on in found.on.items()} }, nearest negative "
        f"{ {a: on.nearest_negative for a, on in found.on.items()} })")


def _without_held_out(rows: list[dict], path) -> list[dict]:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["half"] != "held-out")
    return read_population(path)


def test_deleting_the_held_out_rows_leaves_the_claims_file_unchanged(tmp_path):
    """The issue's bar: thresholds and gating come from the calibration half alone. So do they
    where every held-out value fails its claim (before issue 20 that rewrote 11 claims)."""
    text = DEFAULT_CLAIMS.read_text()
    kept = _without_held_out(ROWS, tmp_path / "calibration-half.csv")
    assert len(kept) < len(ROWS) and all(r["half"] != "held-out" for r in kept)
    assert calibration_run(CLAIMS, kept, None, text)[0] == text, "the held-out rows changed claims.yaml"
    failing = [{**r, **{c.id: ("-1e9" if c.op in (">", ">=", "==") else "1e9") for c in CLAIMS.claims
                        if r.get(c.id, "") != ""}} if r["half"] == "held-out" else r for r in ROWS]
    assert calibration_run(CLAIMS, failing, None, text)[0] == text, "held-out values changed claims.yaml"


def test_the_claims_file_is_what_the_rule_writes():
    """``python -m calibration.calibrate --write`` would change nothing (without the third-party
    reference, the default thresholds of the claims that name it are kept)."""
    text = DEFAULT_CLAIMS.read_text()
    assert calibration_run(CLAIMS, ROWS, None, text)[0] == text, "run: python -m calibration.calibrate --write"


EARLY_CLEAN_SEEDS = {"mlp": {"mlp-add": 10, "mlp-add-113": 3},
                     "transformer": {"tl-add": 10, "tl-sub": 10, "zhong-c0": 10, "zhong-c1": 10}}
HORIZON_SEEDS = {"mlp": {"nb-mlp-113": 10, "mlp-add": 6},
                 "transformer": {"tl-add": 6, "tl-sub": 6, "zhong-c0": 6, "zhong-c1": 6}}  # issue 20
FULL_DATA_SEEDS = 5  # full-data models per architecture, issue 20


def test_the_population_is_the_issue_s():
    """Per architecture, either the early-stopped population (10 clean grokked seeds a family, the
    p = 113 check at least 3) or, once that architecture has switched (calibration/README.md, "One
    architecture at a time"), the horizon population: every family's runs at their horizon (issue
    20's seeds) and 5 full-data models. Both halves of every family present."""
    for architecture, horizon_families in HORIZON_SEEDS.items():
        rows = [r for r in ROWS if r["architecture"] == architecture]
        kinds = {r["path"].startswith("runs-horizon/") for r in rows}
        assert len(kinds) == 1, f"{architecture}: early and horizon rows mixed"
        switched = kinds == {True}
        finals = [r for r in rows if r["stage"] == "final" and (r["clean"] == "1" or switched)]
        wanted = horizon_families if switched else EARLY_CLEAN_SEEDS[architecture]
        for family, n in wanted.items():
            seeds = {int(r["seed"]) for r in finals if r["family"] == family}
            assert len(seeds) >= n, f"{family}: {len(seeds)} seeds"
            assert {s % 2 for s in seeds} == {0, 1}, f"{family}: one half only"
        if switched:
            assert sum(r["stage"] == "full-data" for r in rows) >= FULL_DATA_SEEDS, architecture


def test_clock_and_pizza_cut_points_are_where_the_rule_puts_them():
    """``interp.algorithm``: pizzas (constant attention) against clocks (Nanda et al.'s
    transformers), calibration half."""
    def values(families, column):
        return [float(r[column]) for r in ROWS if r["family"] in families and r["stage"] == "final"
                and r["clean"] == "1" and r["half"] == "calibration"]

    pizza_gs = values(algorithm.PIZZA_FAMILIES, "gradient-symmetricity")
    clock_gs = values(algorithm.CLOCK_FAMILIES, "gradient-symmetricity")
    pizza_di = values(algorithm.PIZZA_FAMILIES, "distance-irrelevance")
    clock_di = values(algorithm.CLOCK_FAMILIES, "distance-irrelevance")
    assert rule_threshold(worst_of(pizza_gs, ">"), worst_of(clock_gs, "<")) == algorithm.SYMMETRIC
    assert rule_threshold(worst_of(clock_di, ">"), worst_of(pizza_di, "<")) == algorithm.IRRELEVANT


def test_the_population_tables_in_the_docs_are_current():
    current = block_in((ROOT / "docs" / "claims.md").read_text(), "population")
    assert population_tables(CLAIMS, ROWS, PLACED) == current, "run: python -m calibration.population_tables"
    rates = block_in((ROOT / "README.md").read_text(), "population-rates")
    assert gate_rates(CLAIMS, ROWS, PLACED) == rates, "run: python -m calibration.population_tables"


def test_grokked_values_reads_only_clean_final_models():
    values = grokked_values(ROWS, "test-accuracy", "mlp", "held-out")
    assert values and all(v == 1.0 for v in values)
