"""``key_freq_fraction`` and the claim ``key-freqs-few`` (issue 20, item 4): the share of the
p // 2 frequencies that come out key separates a sparse spectrum from a spread one, on planted
clocks that both answer every pair, and on the bundled MLP before and after its clean-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from interp.checkpoint import Checkpoint
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import evaluate
from interp.metrics import accuracy, key_freq_fraction
from interp.planted import planted_clock
from interp.run import Run
from tests._references import run_of

CLAIM = load_claims(DEFAULT_CLAIMS).claim("key-freqs-few")


def _planted(freqs: list[int]) -> Run:
    return Run(Checkpoint(Path("planted.pt"), "0" * 64, planted_clock(31, freqs, 8 * len(freqs))))


@pytest.mark.parametrize(("freqs", "fraction", "holds"), [([2, 5, 11], 3 / 15, True),
                                                          (list(range(1, 13)), 12 / 15, False)])
def test_planted_clocks_sparse_and_spread(freqs, fraction, holds):
    """Both clocks answer every pair (p = 31, 15 frequencies); the one on 3 frequencies holds the
    claim (0.2 < 0.4), the one on 12 (0.8: spread, more than half) fails it."""
    run = _planted(freqs)
    assert accuracy(run.predictions, run.labels, run.splits, "all") == 1.0
    assert run.key_freqs == freqs
    (case,) = CLAIM.expand(run.key_freqs)
    value = evaluate(case, run)
    assert value == pytest.approx(fraction) == key_freq_fraction(freqs, 31)
    assert case.judge(value) is holds


@pytest.mark.parametrize(("name", "count", "holds"), [("mlp-50000", 13, True), ("mlp-4000", 32, False)])
def test_the_bundled_mlp_is_spread_when_it_has_just_generalised(name, count, holds):
    """At epoch 4,000 (test accuracy 1, not cleaned up) 32 of 56 frequencies come out key; at
    50,000 the notebook's 13."""
    run = run_of(name)
    (case,) = CLAIM.expand(run.key_freqs)
    assert len(run.key_freqs) == count and case.judge(evaluate(case, run)) is holds
