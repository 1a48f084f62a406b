"""Thresholds from measurement: each calibrated threshold lies strictly between the values on the
claim's positive references and the nearest value on a negative one, recomputed here from the
bundled and planted models (that the claims hold on the third-party reference, a positive
reference of most of them, is ``test_claim_holds_on_the_reference`` in test_references.py); and
docs/claims.md and the README show exactly these numbers. The tables' reference column, and the
threshold rows that cite the reference, need its file; the rest of each table is checked without.
"""

from __future__ import annotations

import pytest

from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._paths import ROOT
from tests._references import calibration, rule_threshold
from tests._tables import BLOCKS, block_in, rows_citing_the_reference, without_reference

CLAIMS = load_claims(DEFAULT_CLAIMS)
CALIBRATED = [c for c in CLAIMS.claims if c.threshold_source == "calibrated"]
ON_REFERENCES = CALIBRATED  # the default threshold; the population places the per-architecture ones


def test_every_claim_says_where_its_threshold_comes_from():
    assert all(c.threshold_source for c in CLAIMS.claims)


@pytest.mark.parametrize("claim", CALIBRATED, ids=lambda c: c.id)
def test_calibrated_threshold_lies_strictly_between_positives_and_nearest_negative(claim):
    """The default threshold, against the references of every architecture (the thresholds the
    population places per architecture: test_population.py)."""
    numbers = calibration(claim, CLAIMS, None)
    (pos_margin, pos_value, pos_name), (neg_margin, neg_value, neg_name) = (
        numbers["worst_positive"], numbers["nearest_negative"])
    assert pos_margin > 0, f"{claim.id}: the positive reference {pos_name} gives {pos_value}, not {claim.op} " \
                           f"{claim.threshold}"
    assert neg_margin < 0, f"{claim.id}: the negative reference {neg_name} gives {neg_value}, which passes"


def _current(block: str) -> str:
    return block_in((ROOT / BLOCKS[block][0]).read_text(), block)


WITH_REFERENCE = [b for b in BLOCKS if without_reference(_current(b), rows_citing_the_reference(_current(b)))
                  != _current(b)]  # it has a reference column or rows that cite it
FIX = "run: python docs/make_claims_tables.py"


@pytest.mark.parametrize("block", sorted(BLOCKS))
def test_the_tables_in_the_docs_are_current(block, request):
    """The whole block; where it shows the reference, with the reference (skipped without it)."""
    reference = request.getfixturevalue("reference_path") if block in WITH_REFERENCE else None
    assert BLOCKS[block][1](CLAIMS, reference) == _current(block), FIX


@pytest.mark.parametrize("block", WITH_REFERENCE)
def test_the_tables_in_the_docs_are_current_without_the_reference(block):
    """What does not depend on the reference: the table made without it equals the file's, less
    the reference column and the threshold rows that cite the reference."""
    current = _current(block)
    cited = rows_citing_the_reference(current)
    assert without_reference(BLOCKS[block][1](CLAIMS, None), cited) == without_reference(current, cited), FIX


@pytest.mark.parametrize("claim", ON_REFERENCES, ids=lambda c: c.id)
def test_calibrated_threshold_is_where_the_rule_puts_it(claim, request):
    """Not only between: exactly where the written rule puts it (``rule_threshold``: halfway, or the
    geometric mean for losses, rounded), from the worst positive and the nearest negative. Moving a
    threshold anywhere else between them (wneur-key-share to 0.968, say) fails here."""
    cited = {*claim.references.get("holds", ()), *claim.references.get("fails", ())}
    reference = request.getfixturevalue("reference_path") if "reference" in cited else None
    numbers = calibration(claim, CLAIMS, reference)
    placed = rule_threshold(numbers["worst_positive"][1], numbers["nearest_negative"][1])
    assert claim.threshold == placed, (f"{claim.id}: threshold {claim.threshold}, but the rule puts it at {placed} "
                                       f"(worst positive {numbers['worst_positive'][1]:.6g}, nearest negative "
                                       f"{numbers['nearest_negative'][1]:.6g})")
