"""Thresholds from measurement: each calibrated threshold lies strictly between the values on the
claim's positive references and the nearest value on a negative one, recomputed here from the
bundled models; and docs/claims.md and the README show exactly these numbers."""

from __future__ import annotations

import pytest

from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._paths import ROOT
from tests._references import calibration
from tests._tables import readme_tables, replace_blocks, tables

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


@pytest.mark.parametrize(("doc", "blocks"), [("docs/claims.md", tables), ("README.md", readme_tables)])
def test_the_tables_in_the_docs_are_current(doc, blocks, reference_path):
    text = (ROOT / doc).read_text()
    assert replace_blocks(text, blocks(CLAIMS, reference_path)) == text, "run: python docs/make_claims_tables.py"
