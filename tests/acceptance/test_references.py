"""Every claim names its positive and negative references (``references`` in claims.yaml), and
this meta-test checks both directions:

* on each positive reference the claim holds (every case passes, or holds where the claim is
  NOT-GATED, or is a failure recorded in ``known_failures`` for exactly that checkpoint), and not
  merely by construction;
* on each negative reference the claim's measured value falls on the failing side of its
  threshold, in a case that does not also fail on one of the claim's positive references (a
  failure shared with a positive reference shows nothing about the claim). The verdict there may
  be N/A: what counts is that the measurement separates the model from the positives.

Every claim has references of both kinds. Wherever a claim is defined and not fixed by
construction, a model of that architecture fails it; and the two claims fixed by construction on
the MLP (pre-ReLU linearity, gradient symmetricity) also have a transformer on which they hold.
"""

from __future__ import annotations

import pytest

from interp.claims.claim import gate_architecture
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import KNOWN_FAIL, NOT_GATED, PASS, assess
from interp.model import ARCHITECTURES
from tests._references import (
    architecture_of,
    case_values,
    failing_side,
    reference_names,
    references_of,
    run_of,
    sha256_of_name,
)

CLAIMS = load_claims(DEFAULT_CLAIMS)


def _by_construction(claim, run) -> bool:
    constructed = run.model.by_construction.get(claim.metric)
    return constructed is not None and claim.expand([1])[0].judge(constructed.value)


def test_every_reference_name_exists():
    known = set(reference_names())
    for claim in CLAIMS.claims:
        for kind, names in claim.references.items():
            assert set(names) <= known, f"{claim.id}: references.{kind} names {sorted(set(names) - known)}"


def _known_failing_cases(claim) -> set[str]:
    """Cases of ``claim`` recorded as known failures on its positive references (the reference's
    by its recorded sha256, so without its file)."""
    shas = {sha256_of_name(name) for name in claim.references.get("holds", ())}
    return {kf.claim for kf in CLAIMS.known_failures if kf.sha256 in shas and kf.claim.split("[")[0] == claim.id}


def assert_on_its_side(claim, name: str, kind: str, run) -> None:
    """``holds``: every case passes or is a known failure of that checkpoint, and not by
    construction. ``fails``: a case falls on the failing side that the positives do not excuse.
    Each at the claim's threshold on the model's architecture."""
    claim = claim.at(gate_architecture(run.model))
    if kind == "holds":
        assert not _by_construction(claim, run), f"{name}: {claim.id} holds there by construction, which proves nothing"
        verdicts = [assess(case, run, CLAIMS, run.checkpoint.sha256) for case in claim.expand(run.key_freqs)]
        bad = [v.line() for v in verdicts
               if v.status not in (PASS, KNOWN_FAIL) and not (v.status == NOT_GATED and v.passed)]
        assert not bad, f"{claim.id} must hold on {name}: {bad}"
        return
    shared = _known_failing_cases(claim)
    assert not _by_construction(claim, run), f"{name}: {claim.id} holds there by construction"
    values = case_values(claim, run)
    assert values is not None, f"{claim.id} is not defined on {name}: it cannot be a negative reference"
    failing = {case for case, value in values.items() if failing_side(claim, value)}
    assert failing - shared, (f"{claim.id} must fail on {name} in a case its positive references pass: "
                              f"failing there {sorted(failing)}, known failures of the positives {sorted(shared)}")


@pytest.mark.parametrize("claim", CLAIMS.claims, ids=lambda c: c.id)
def test_claim_holds_on_its_positive_references(claim):
    """The bundled and planted ones; the third-party reference is the test below."""
    for name in references_of(claim, "holds", None):
        assert_on_its_side(claim, name, "holds", run_of(name))


@pytest.mark.parametrize("claim", CLAIMS.claims, ids=lambda c: c.id)
def test_claim_fails_on_its_negative_references(claim):
    for name in references_of(claim, "fails", None):
        assert_on_its_side(claim, name, "fails", run_of(name))


ON_THE_REFERENCE = [(c, kind) for c in CLAIMS.claims for kind, names in c.references.items() if "reference" in names]


@pytest.mark.parametrize(("claim", "kind"), ON_THE_REFERENCE, ids=[f"{c.id}-{k}" for c, k in ON_THE_REFERENCE])
def test_claim_on_the_reference(claim, kind, reference_path):
    """The claims that name the third-party reference checkpoint hold (or fail) on it."""
    assert architecture_of("reference") == run_of("reference", reference_path).architecture
    assert_on_its_side(claim, "reference", kind, run_of("reference", reference_path))


@pytest.mark.parametrize("claim", CLAIMS.claims, ids=lambda c: c.id)
def test_claim_has_references_in_both_directions(claim):
    """Every claim can hold and can fail: at least one model of each kind."""
    assert claim.references.get("holds"), f"{claim.id}: no positive reference"
    assert claim.references.get("fails"), f"{claim.id}: no negative reference"


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
@pytest.mark.parametrize("claim", CLAIMS.claims, ids=lambda c: c.id)
def test_claim_can_fail_on_each_architecture(claim, architecture):
    """Wherever a claim is defined and not fixed by construction, a model of that architecture
    fails it; where it is fixed by construction on another architecture (pre-ReLU linearity and
    gradient symmetricity on the MLP), a model of this one must also hold it. (The reference's
    architecture is known without its file; the probes are bundled models.)"""
    bundled = reference_names(with_reference=False)
    probe = next(n for n in bundled if architecture_of(n) == architecture)
    if claim.metric in run_of(probe).model.by_construction:
        pytest.skip(f"{claim.id} holds by construction on the {architecture}")
    if case_values(claim, run_of(probe)) is None:
        pytest.skip(f"{claim.id} is not defined for the {architecture}")
    kinds = {kind: [n for n in names if architecture_of(n) == architecture]
             for kind, names in claim.references.items()}
    assert kinds.get("fails"), f"{claim.id}: no negative reference of the {architecture} architecture"
    constructed_elsewhere = any(claim.metric in run_of(n).model.by_construction for n in bundled)
    if constructed_elsewhere:
        assert kinds.get("holds"), f"{claim.id}: no positive reference of the {architecture} architecture"
