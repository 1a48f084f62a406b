"""Thresholds and gates from the calibration population (``calibration/population.csv``, committed;
the rule: ``calibration/calibrate.py``). Recomputed here from the file, so an edit of claims.yaml
that moves a threshold off the rule, or gates a claim where the held-out models do not bear it
out, fails; and docs/claims.md shows exactly these numbers."""

from __future__ import annotations

import pytest

from calibration.calibrate import (
    EVERY_ARCHITECTURE,
    GATED_SHARE,
    grokked_values,
    place,
    read_population,
    rule_threshold,
    worst_of,
)
from calibration.population_tables import population_tables
from interp import algorithm
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._paths import ROOT
from tests._references import calibration
from tests._tables import block_in

CLAIMS = load_claims(DEFAULT_CLAIMS)
ROWS = read_population()


def placement(claim):
    negative = calibration(claim, CLAIMS, None)["nearest_negative"]
    return place(claim, ROWS, None if negative is None else negative[1])


@pytest.mark.parametrize("claim", CLAIMS.claims, ids=lambda c: c.id)
def test_claim_is_gated_where_the_rule_gates_it(claim):
    found = placement(claim)
    gated = list(claim.gated_on) if claim.gated_on is not None else None
    if gated is None:  # gated on every architecture: the population's, and those it has no models of
        assert claim.metric in EVERY_ARCHITECTURE, f"{claim.id}: gated_on all, but only the task itself may be"
        assert found.gated_on == ["mlp", "transformer"], f"{claim.id}: gated_on all, the rule gives {found.gated_on}"
    else:
        assert gated == found.gated_on, f"{claim.id}: gated_on {gated}, the rule gives {found.gated_on} " \
                                        f"(held-out {found.held})"


@pytest.mark.parametrize("claim", [c for c in CLAIMS.claims if c.threshold_source == "calibrated"], ids=lambda c: c.id)
def test_calibrated_threshold_is_where_the_population_puts_it(claim):
    """Where the population places it (a gated architecture), exactly there; a calibrated claim the
    population gates nowhere keeps the references' placement (test_thresholds.py)."""
    found = placement(claim)
    if not found.gated_on:  # test_thresholds.py checks its placement on the references
        assert not claim.gated_on, f"{claim.id}: the population gates it nowhere"
        return
    assert claim.threshold == found.threshold, (
        f"{claim.id}: threshold {claim.threshold}, the rule puts it at {found.threshold} (worst calibration value "
        f"{found.calibration_worst}, nearest negative {found.nearest_negative})")


@pytest.mark.parametrize("claim", [c for c in CLAIMS.claims if c.gated_on], ids=lambda c: c.id)
def test_gated_claim_holds_on_the_held_out_grokked_models(claim):
    """The issue's bar: at least 95% of each gated architecture's held-out grokked models."""
    found = placement(claim)
    for architecture in claim.gated_on:
        holding, total = found.held[architecture]
        assert total >= 5 and holding >= GATED_SHARE * total, f"{claim.id} on the {architecture}: {holding} of {total}"


def test_the_population_is_the_issue_s():
    """Every family with 10 clean grokked seeds (5 held out) but the p = 113 check, which has at
    least 3; both halves of every family present."""
    clean = {}
    for row in ROWS:
        if row["stage"] == "final" and row["clean"] == "1":
            clean.setdefault(row["family"], []).append(int(row["seed"]))
    assert set(clean) >= {"mlp-add", "tl-add", "tl-sub", "zhong-c0", "zhong-c1"}
    for family, seeds in clean.items():
        assert len(seeds) >= (3 if family == "mlp-add-113" else 10), f"{family}: {len(seeds)} clean seeds"
        assert {s % 2 for s in seeds} == {0, 1}, f"{family}: one half only"


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
    assert population_tables(CLAIMS, ROWS, {c.id: placement(c) for c in CLAIMS.claims}) == current, \
        "run: python -m calibration.population_tables"


def test_grokked_values_reads_only_clean_final_models():
    values = grokked_values(ROWS, "test-accuracy", "mlp", "held-out")
    assert values and all(v == 1.0 for v in values)
