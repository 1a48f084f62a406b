"""A failing claim's message says when that claim holds in the population (issue 20, item 5),
from the summary shipped beside claims.yaml (:mod:`interp.trajectories`): here a hand-made one,
on the planted clock without its clock (``planted-none``, an MLP), which fails
``logits-key-quadratic-share``. A summary with no data for that claim and architecture adds nothing."""

from __future__ import annotations

import pytest

from interp import trajectories
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import FAIL, PASS, assess
from tests._references import run_of

CLAIMS = load_claims(DEFAULT_CLAIMS)
BINS = [0, 1000, 2000, 5000, 10_000, 20_000, 40_000]


CLAIM = "logits-key-quadratic-share"  # gated on the MLP; planted-none fails it (0.81)


def summary(architecture: str = "mlp", claim_id: str = CLAIM, op: str = ">",
            threshold: float | None = None, counts=None) -> dict:
    """A hand-made summary: one family with one claim."""
    if threshold is None:
        threshold = CLAIMS.claim(CLAIM).threshold_on("mlp")
    counts = counts or [[0, 10], [1, 10], [3, 10], [4, 10], [5, 10], [9, 10], [9, 9]]
    return {"bins": BINS, "families": {"hand-made": {
        "architecture": architecture, "description": "hand-made MLPs", "models": 10, "furthest": 46_000,
        "claims": {claim_id: {"op": op, "threshold": threshold, "counts": counts}}}}}


def verdict(monkeypatch, found: dict | None, claim_id: str = CLAIM, name: str = "planted-none"):
    if found is not None:
        monkeypatch.setattr(trajectories, "shipped", lambda: found)
    run = run_of(name)
    case = CLAIMS.claim(claim_id).expand(run.key_freqs)[0]
    return assess(case, run, CLAIMS, run.checkpoint.sha256)


def test_a_failing_claim_says_when_it_holds_in_the_population(monkeypatch):
    found = verdict(monkeypatch, summary())
    assert found.status == FAIL
    assert found.message == ("in the population: holds on 9 of 10 held-out hand-made MLPs from 20,000 epochs after "
                             "grokking (measured to 46,000 epochs after grokking)")
    assert found.message in found.line()


def test_where_it_never_holds_on_most_the_message_says_so(monkeypatch):
    found = verdict(monkeypatch, summary(counts=[[0, 3], [1, 3], [1, 2], [0, 0], [0, 0], [0, 0], [0, 0]]))
    assert found.message == ("in the population: holds on more than half of the held-out hand-made MLPs at no "
                             "point measured (at best 1 of 2; measured to 46,000 epochs after grokking)")


@pytest.mark.parametrize("other", [
    {"architecture": "transformer"},  # data for another architecture only
    {"claim_id": "fve"},  # for another claim only
    {"threshold": 0.5},  # for another comparison (another claims file's threshold)
    {"counts": [[0, 0]] * 7},  # no model reached any bin
])
def test_a_summary_without_data_for_the_claim_adds_nothing(monkeypatch, other):
    found = verdict(monkeypatch, summary(**other))
    assert found.status == FAIL and found.message == ""


def test_an_empty_summary_and_a_passing_claim_add_nothing(monkeypatch):
    assert verdict(monkeypatch, {"bins": [], "families": {}}).message == ""
    passing = verdict(monkeypatch, summary(claim_id="test-accuracy", op="==", threshold=1.0), "test-accuracy")
    assert passing.status == PASS and passing.message == ""


def test_the_shipped_summary_is_read():
    trajectories.shipped.cache_clear()
    shipped = trajectories.shipped()
    assert shipped["bins"] == BINS and "nb-mlp-113" in shipped["families"]
