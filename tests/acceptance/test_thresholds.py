"""Thresholds from measurement: each calibrated threshold lies strictly between the values on the
claim's positive references and the nearest value on a negative one, recomputed here from the
bundled models; and docs/claims.md shows exactly these numbers."""

from __future__ import annotations

import pytest

from interp.claims import load_claims
from interp.plugin import DEFAULT_CLAIMS
from tests._paths import ROOT
from tests._references import calibration
from tests._tables import replace_blocks, tables

CLAIMS = load_claims(DEFAULT_CLAIMS)
CALIBRATED = [c for c in CLAIMS.claims if c.threshold_source == "calibrated"]


def test_every_claim_says_where_its_threshold_comes_from():
    assert all(c.threshold_source for c in CLAIMS.claims)


@pytest.mark.parametrize("claim", CALIBRATED, ids=lambda c: c.id)
def test_calibrated_threshold_lies_strictly_between_positives_and_nearest_negative(claim, reference_path):
    numbers = calibration(claim, CLAIMS, reference_path)
    (pos_margin, pos_value, pos_name), (neg_margin, neg_value, neg_name) = (
        numbers["worst_positive"], numbers["nearest_negative"])
    assert pos_margin > 0, f"{claim.id}: the positive reference {pos_name} gives {pos_value}, not {claim.op} " \
                           f"{claim.threshold}"
    assert neg_margin < 0, f"{claim.id}: the negative reference {neg_name} gives {neg_value}, which passes"


def test_the_tables_in_docs_are_current(reference_path):
    doc = (ROOT / "docs" / "claims.md").read_text()
    assert replace_blocks(doc, tables(CLAIMS, reference_path)) == doc, "run: python docs/make_claims_tables.py"
