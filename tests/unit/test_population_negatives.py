"""Which claims name which kinds of population negatives (``population_negatives`` in
``claims.yaml``) follows the three sentences of docs/claims.md, "Which claims name which kinds",
written before the switch to the horizon population: a claim cannot gain or lose a kind of
negative without that text changing with it."""

import pytest

from interp.claims.load import DEFAULT_CLAIMS, load_claims

CLAIMS = load_claims(DEFAULT_CLAIMS).claims
JUST_GENERALISED = {"mlp-4000", "transformer-add-10000"}  # the references that have just generalised
CLOCK_READOUT = {"clock-restricted-loss", "clock-excluded-loss", "clock-excluded-loss-at-most-uniform"}
# read over the key set, and passed whatever the model does when nearly every frequency is key
SPREAD_PASSES = {"wu-key-norm-ratio", "wneur-key-share", "embedding-key-share", "restricted-loss", "excluded-loss",
                 "excluded-loss-at-most-uniform", *CLOCK_READOUT}
NO_FULL_DATA = {"test-accuracy", "pre-relu-linear", *SPREAD_PASSES}


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_grokking_where_a_just_generalised_reference_fails(claim):
    assert ("grokking" in claim.population_negatives) == bool(JUST_GENERALISED & set(claim.references.get("fails", ())))


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_pizza_where_the_claim_says_the_readout_is_the_clocks(claim):
    assert ("pizza" in claim.population_negatives) == (claim.id in CLOCK_READOUT)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_full_data_unless_a_spread_spectrum_passes_the_claim(claim):
    assert ("full-data" in claim.population_negatives) == (claim.id not in NO_FULL_DATA)


def test_the_lists_name_claims_that_exist():
    assert {*NO_FULL_DATA, *CLOCK_READOUT} <= {c.id for c in CLAIMS}
    assert any(c.id == "key-freqs-few" and "full-data" in c.population_negatives for c in CLAIMS)
