"""How claims.yaml entries become test cases."""

import pytest

from interp.claims.load import DEFAULT_CLAIMS, parse_claims

CLAIM = """
claims:
  - id: per-freq
    metric: {metric}
    for_each: {for_each}
    op: ">"
    threshold: 0.5
    claim: a claim
    source: a test
"""


def expand(for_each: str, key_freqs: list[int], metric: str = "fve") -> list[str]:
    claims = parse_claims(CLAIM.format(metric=metric, for_each=for_each), "t.yaml")
    return [c.id for c in claims.claims[0].expand(key_freqs)]


def test_per_frequency_claims_expand_over_key_freqs_and_terms():
    assert expand("{freq: key_freqs, term: [sin, cos]}", [3, 17]) == [
        "per-freq[k3-sin]", "per-freq[k3-cos]", "per-freq[k17-sin]", "per-freq[k17-cos]"]


def test_explicit_lists_expand_too():
    assert expand("{freq: [5], term: [cos]}", [1, 2, 3]) == ["per-freq[k5-cos]"]


def test_expanded_cases_carry_their_params():
    claims = parse_claims(CLAIM.format(metric="fve", for_each="{freq: key_freqs, term: [sin]}"), "t.yaml")
    (case,) = claims.claims[0].expand([7])
    assert case.params == {"freq": 7, "term": "sin"}
    assert case.judge(0.51) and not case.judge(0.5)


def test_unexpanded_claim_keeps_its_id():
    claims = parse_claims(CLAIM.replace("    for_each: {for_each}\n", "").format(metric="wneur_key_share"), "t.yaml")
    assert [c.id for c in claims.claims[0].expand([1, 2])] == ["per-freq"]


def test_project_claims_file_is_valid_and_names_the_seed_claims():
    claims = parse_claims(DEFAULT_CLAIMS.read_text(), DEFAULT_CLAIMS)
    assert {c.id for c in claims.claims} >= {
        "test-accuracy", "wu-key-norm-ratio", "fve", "pre-relu-linear", "wneur-key-share"}
    ids = {c.id for claim in claims.claims for c in claim.expand(list(range(1, 57)))}
    assert {kf.claim for kf in claims.known_failures} <= ids


@pytest.mark.parametrize(("op", "value", "holds"), [
    (">", 1.0, False), (">=", 1.0, True), ("<", 0.9, True), ("<=", 1.1, False), ("==", 1.0, True)])
def test_ops_compare_value_to_threshold(op, value, holds):
    text = CLAIM.replace("    for_each: {for_each}\n", "").format(metric="wneur_key_share")
    claims = parse_claims(text.replace('">"', f'"{op}"').replace("0.5", "1.0"), "t.yaml")
    assert claims.claims[0].expand([])[0].judge(value) is holds
