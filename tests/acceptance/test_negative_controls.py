"""Negative controls: checkpoints from the project's own training run that must fail the suite.

Every claim must fail on at least one control or defective planted model, or else be marked
holds_by_construction: a claim that nothing can fail proves nothing.
"""

import json

import pytest

from interp.claims import load_claims
from interp.plugin import DEFAULT_CLAIMS
from tests._paths import BUNDLED as DEFAULT_CHECKPOINT
from tests.unit.test_planted_models import failing_claims, planted_clock, run_of

CONTROLS = DEFAULT_CHECKPOINT.parent
SEED_AND_BEYOND = {"test-accuracy", "wu-key-norm-ratio", "fve", "wneur-key-share", "logits-linear-share",
                   "logits-key-quadratic-share", "post-relu-key-quadratic", "neuron-concentration-median",
                   "neuron-clusters", "key-freq-agreement", "restricted-loss", "excluded-loss"}
EXPECTED_FAILURES = {
    "epoch000000": SEED_AND_BEYOND - {"excluded-loss"},  # random: nothing there to ablate
    "epoch000800": SEED_AND_BEYOND,  # memorized: train solved by something other than the clock
    "epoch002500": SEED_AND_BEYOND - {"key-freq-agreement"},  # grokking: frequencies settled already
}


def failed_claims_in_suite(pytester, checkpoint) -> tuple[int, set[str]]:
    report = pytester.path / "report.json"
    result = pytester.runpytest_inprocess(f"--checkpoint={checkpoint}", "--claims-report", str(report),
                                          "-p", "no:cacheprovider", "-q")
    rows = json.loads(report.read_text())["claims"]
    return result.ret, {r["id"].split("[")[0] for r in rows if not r["passed"]}


@pytest.mark.parametrize("control", sorted(EXPECTED_FAILURES))
def test_control_fails_the_suite_on_these_claims(pytester, control):
    code, failed = failed_claims_in_suite(pytester, CONTROLS / f"{control}.pt")
    assert code == 1
    assert failed == EXPECTED_FAILURES[control]


def test_every_claim_can_fail_or_is_marked_as_holding_by_construction():
    claims = load_claims(DEFAULT_CLAIMS).claims
    by_construction = {c.id for c in claims if c.holds_by_construction}
    planted = [failing_claims(run_of(planted_clock(31, [2, 5, 11], 48, defect=d)))
               for d in ("none", "readout_removed", "phases_collapsed", "embedding_noise")]
    falsified = set().union(*EXPECTED_FAILURES.values(), *planted)
    never_failing = {c.id for c in claims} - falsified - by_construction
    assert not never_failing, f"claims no control or planted defect can fail: {sorted(never_failing)}"
    assert by_construction == {"pre-relu-linear", "gradient-symmetricity"}
