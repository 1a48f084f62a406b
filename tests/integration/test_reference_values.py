"""The reference checkpoint reproduces SPEC's numbers to 1e-4, with SPEC's verdicts.

These expected values are the published reference numbers (SPEC.md), not outputs of this code.
"""

import pytest

from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import KNOWN_FAIL, NOT_GATED, assess, evaluate

SEED_KEY_FREQS = [1, 3, 17, 19, 21, 23, 28, 29, 33, 35, 37, 42, 44]
SPEC_FVE = {  # freq: (sin, cos)
    1: (.876045, .873625), 3: (.962507, .959092), 17: (.956503, .946393), 19: (.840360, .852645),
    21: (.980572, .983368), 23: (.851571, .863526), 28: (.923306, .926279), 29: (.949293, .951330),
    33: (.945226, .941864), 35: (.835319, .841190), 37: (.916977, .915845), 42: (.966886, .969676),
    44: (.910832, .909630),
}
SPEC_VALUES = {
    "test-accuracy": 1.0,
    "wu-key-norm-ratio": 0.982413,
    "pre-relu-linear": 1.0,
    "wneur-key-share": 0.98733,
    **{f"fve[k{k}-{term}]": v[i] for k, v in SPEC_FVE.items() for i, term in enumerate(("sin", "cos"))},
}
REFUTED_ON_REFERENCE = {"fve[k35-sin]", "fve-signed[k35-sin]"}  # SPEC: 35-sin is .8353 < .84; its twin too


@pytest.fixture(scope="module")
def reference_cases(reference_run):
    claims = load_claims(DEFAULT_CLAIMS)
    return {c.id: c for claim in claims.claims for c in claim.expand(reference_run.key_freqs)}


def test_key_frequencies_found_by_the_rule(reference_run):
    assert reference_run.key_freqs_source == "auto"
    assert reference_run.key_freqs == SEED_KEY_FREQS


@pytest.mark.parametrize("case_id", sorted(SPEC_VALUES))
def test_value_and_verdict_match_spec(reference_run, reference_cases, case_id):
    case = reference_cases[case_id]
    value = evaluate(case, reference_run)
    assert value == pytest.approx(SPEC_VALUES[case_id], abs=1e-4)
    assert case.judge(value) == (case_id not in REFUTED_ON_REFERENCE)


def test_the_refuted_cases_are_recorded_for_the_seed_gate_only(reference_run):
    """The seed's refuted numbers are NOT-GATED on an MLP under the population's gate (it bears
    FVE out on no architecture); under ``--gate=seed`` they gate, and the reference's one refuted
    case is a recorded known failure, with the seed's own value."""
    claims = load_claims(DEFAULT_CLAIMS)
    sha = reference_run.checkpoint.sha256
    recorded = {kf.claim: kf.value for kf in claims.known_failures if kf.sha256 == sha}
    assert set(recorded) == {"fve[k35-sin]"} and recorded["fve[k35-sin]"] == pytest.approx(0.835319, abs=1e-6)
    for case_id in REFUTED_ON_REFERENCE:
        case = next(c for claim in claims.claims for c in claim.expand(reference_run.key_freqs) if c.id == case_id)
        assert assess(case, reference_run, claims, sha).status == NOT_GATED
        assert assess(case, reference_run, claims, sha, "seed").status == (
            KNOWN_FAIL if case_id in recorded else NOT_GATED)  # fve-signed stays the population's
