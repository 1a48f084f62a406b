"""The progress-measures view on hand-made rows: where each claim first holds, and margins."""

import pytest

from interp.claims.verdicts import margin
from interp.report import first_holds


def row(checkpoint, epoch, **passed):
    return {"checkpoint": checkpoint, "epoch": epoch,
            "cells": {c: {"value": float(p), "passed": p, "n_passed": int(p), "n": 1} for c, p in passed.items()}}


TABLE = [row("epoch000000", 0, a=False, b=True, c=False),
         row("epoch000100", 100, a=True, b=False, c=False),
         row("epoch000200", 200, a=True, b=True, c=False)]


def test_first_holds_names_the_epoch_and_whether_the_claim_stays_true():
    assert first_holds(["a", "b", "c"], TABLE) == {"a": "epoch 100", "b": "epoch 0 (not kept)", "c": "never"}


def test_first_holds_falls_back_to_the_checkpoint_name_without_epochs():
    table = [{**r, "epoch": None} for r in TABLE]
    assert first_holds(["a"], table) == {"a": "epoch000100"}


@pytest.mark.parametrize(("value", "op", "threshold", "expected"), [
    (0.9, ">", 0.84, 0.06), (0.8, ">", 0.84, -0.04), (0.05, "<", 0.1, 0.05), (1.0, "==", 1.0, 0.0),
    (0.98, "==", 1.0, -0.02)])
def test_margin_is_positive_on_the_passing_side(value, op, threshold, expected):
    assert margin(value, op, threshold) == pytest.approx(expected)
