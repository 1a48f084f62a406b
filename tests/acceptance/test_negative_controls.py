"""Negative controls: checkpoints from the project's own training runs that do not solve the task.
On them no claim passes, the by-construction ones included: test accuracy fails, and every claim
about how the task is solved is N/A (``requires: [test-accuracy]``), which the gate counts as
failing. Done through the real command line, as a user gates a checkpoint."""

import json

import pytest

from tests._paths import FIXTURES

CONTROLS = {  # name: (path, what it is)
    "mlp-0": (FIXTURES / "p113" / "epoch000000.pt", "random initialisation"),
    "mlp-800": (FIXTURES / "p113" / "epoch000800.pt", "memorised: train 1.0, test 0.30"),
    "mlp-2500": (FIXTURES / "p113" / "epoch002500.pt", "half-way through grokking: test 0.92"),
    "transformer-add-0": (FIXTURES / "transformer" / "add" / "epoch000000.pt", "random initialisation"),
    "transformer-add-1000": (FIXTURES / "transformer" / "add" / "epoch001000.pt", "memorised: test 0.017"),
}


@pytest.mark.parametrize("control", sorted(CONTROLS))
def test_no_claim_passes_on_a_model_that_does_not_solve_the_task(pytester, control):
    path, _ = CONTROLS[control]
    report = pytester.path / "r.json"
    result = pytester.runpytest_inprocess(f"--checkpoint={path}", f"--claims-report={report}", "-p", "no:cacheprovider")
    assert result.ret == 1
    rows = json.loads(report.read_text())["claims"]
    verdicts = {r["id"]: r["verdict"] for r in rows}
    assert verdicts.pop("test-accuracy") == "FAIL"
    assert set(verdicts.values()) == {"N/A", "NOT-GATED"}  # NOT-GATED: the claims this architecture's gate leaves out
    assert not any(r["passed"] for r in rows)
    assert all("does not" in r["not_applicable"] for r in rows if r["verdict"] == "N/A")
    assert all("is not applicable" in r["message"] for r in rows if r["verdict"] == "NOT-GATED")


def test_a_not_applicable_claim_alone_fails_the_gate(pytester):
    """``-k distance`` on random weights: distance irrelevance is 0.99 there (the correct logit
    ignores a - b because it ignores everything), and the claim is N/A, so the run fails
    (``--gate=all``, so that the claim gates whatever the population decides for it)."""
    result = pytester.runpytest_inprocess(f"--checkpoint={CONTROLS['mlp-0'][0]}", "-k", "distance", "--gate=all",
                                          "-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(failed=1)


ANSWER_EVERY_PAIR = ("planted-none", "planted-readout_removed", "planted-transformer")
"""Planted models that answer every test pair (issue 20, item 3d): the hand-built sum-then-ReLU
MLP (pizza-like, ``planted-none``), the same with its readout's key frequencies removed and put
back elsewhere, and the exact clock inside a constant-attention transformer."""


@pytest.mark.parametrize("name", ANSWER_EVERY_PAIR)
def test_the_default_gate_fails_a_planted_model_on_more_than_accuracy(name):
    """Power: test accuracy passes on these, so only a claim about *how* the task is solved can
    fail them, and under the default gate (population) at least one must."""
    from interp.claims.load import DEFAULT_CLAIMS, load_claims
    from interp.claims.verdicts import FAIL, PASS, assess
    from tests._references import run_of

    claims = load_claims(DEFAULT_CLAIMS)
    run = run_of(name)
    verdicts = [assess(case, run, claims, run.checkpoint.sha256) for claim in claims.claims
                for case in claim.expand(run.key_freqs)]
    accuracy = next(v for v in verdicts if v.case.id == "test-accuracy")
    assert accuracy.status == PASS
    assert [v.case.id for v in verdicts if v.status == FAIL], name
