"""The calibration rule (docs/claims.md, "The calibration rule"; ``calibration/calibrate.py``) on a
small hand-made table, every answer worked out by hand here, not by calling the code under test;
its Clopper-Pearson bound against known values and an independent integration; and the seed's and
exact thresholds pinned."""

from __future__ import annotations

import math

import numpy as np
import pytest

from calibration.calibrate import (
    PIZZA_FAMILIES,
    calibration_bound,
    clopper_pearson_upper,
    place,
)
from interp import algorithm
from interp.claims.claim import Claim
from interp.claims.load import DEFAULT_CLAIMS, load_claims

ACCURACY = Claim("test-accuracy", "accuracy", "==", 1.0, "", "", threshold_source="seed")
CALIBRATED = Claim("c", "m", ">", 0.5, "", "", threshold_source="calibrated", requires=("test-accuracy",),
                   population_negatives=("full-data",))
LOSS = Claim("loss", "m", "<", 1.0, "", "", threshold_source="calibrated")
FIXED = Claim("f", "m", ">", 0.5, "", "", threshold_source="seed")


def row(arch, half, value, *, stage="final", clean="1", family=None, accuracy=1.0, claim="c"):
    family = family or ("mlp-add" if arch == "mlp" else "tl-add")
    return {"family": family, "seed": "0" if half == "calibration" else "1", "stage": stage, "half": half,
            "clean": clean if stage == "final" else "0", "architecture": arch, "test-accuracy": repr(accuracy),
            claim: repr(value)}


def table() -> list[dict]:
    """MLP: five calibration positives (worst 0.80), held out 0.70 and 0.50. Transformer: twenty
    calibration positives, nineteen at 0.9 and one outlier at 0.1, held out 0.95, 0.8, 0.75.
    Negatives: a calibration full-data transformer at 0.5 (it must not move the MLP's threshold),
    a calibration full-data MLP at 0.3 and one at 0.99 that does not solve the task (the claim does
    not apply: not a negative), a held-out full-data MLP at 0.88 and one at 0.2; untrained models
    (never negatives) at 0.95."""
    rows = [row("mlp", "calibration", v) for v in (0.90, 0.85, 0.95, 0.80, 0.92)]
    rows += [row("mlp", "held-out", v) for v in (0.70, 0.50)]
    rows += [row("transformer", "calibration", v) for v in [0.9] * 19 + [0.1]]
    rows += [row("transformer", "held-out", v) for v in (0.95, 0.8, 0.75)]
    rows += [row("transformer", "calibration", 0.5, stage="full-data"),
             row("mlp", "calibration", 0.3, stage="full-data"),
             row("mlp", "calibration", 0.99, stage="full-data", accuracy=0.6),
             row("mlp", "held-out", 0.88, stage="full-data"), row("mlp", "held-out", 0.2, stage="full-data")]
    rows += [row(a, h, 0.95, stage="init") for a in ("mlp", "transformer") for h in ("calibration", "held-out")]
    return rows


REFERENCES = {"mlp": [(0.40, "mlp-neg")], "transformer": [(0.30, "tf-neg")]}


def test_calibrated_threshold_per_architecture_by_hand():
    found = place(CALIBRATED, table(), REFERENCES, (ACCURACY,))
    mlp, tf = found.on["mlp"], found.on["transformer"]
    # MLP: n = 5 < 20, so the bound is the worst, 0.80; the nearest MLP negative is the reference
    # at 0.40 (the full-data MLP at 0.3 is farther, the one at 0.99 does not solve the task, the
    # transformer's 0.5 is another architecture's): halfway, (0.80 + 0.40) / 2 = 0.6.
    assert (mlp.bound, mlp.nearest_negative, mlp.threshold, mlp.gated) == (0.80, (0.40, "mlp-neg"), 0.6, True)
    # Transformer: n = 20, rank 20 // 20 + 1 = 2: the second worst, 0.9 (the outlier 0.1 is set
    # aside); the nearest transformer negative is the full-data one at 0.5: (0.9 + 0.5) / 2 = 0.7.
    assert (tf.bound, tf.nearest_negative[0], tf.threshold, tf.gated) == (0.9, 0.5, 0.7, True)
    assert (tf.calibration_holding, tf.calibration) == (19, 20)
    assert found.gated_on == ["mlp", "transformer"] and found.thresholds == {"mlp": 0.6, "transformer": 0.7}
    # Held out, MLP: 0.70 passes 0.6, 0.50 fails: 1 of 2. Its bound solves P(X <= 1) = 1 - p^2 =
    # 0.05: p = sqrt(0.95). Transformer: 0.95, 0.8, 0.75 all pass 0.7: 0 of 3, bound 1 - 0.05^(1/3).
    assert (mlp.held_out_failing, mlp.held_out) == (1, 2)
    assert mlp.false_fail_upper == pytest.approx(math.sqrt(0.95), abs=1e-9)
    assert (tf.held_out_failing, tf.held_out) == (0, 3)
    assert tf.false_fail_upper == pytest.approx(1 - 0.05 ** (1 / 3), abs=1e-9)
    # True-fail, held-out full-data MLPs at 0.6: 0.88 passes, 0.2 fails: 1 of 2.
    assert mlp.true_fail == {"full-data": (1, 2)} and tf.true_fail == {"full-data": (0, 0)}


def test_the_held_out_half_changes_no_threshold_and_no_gate():
    """Deleting the held-out rows, or making every held-out value fail, leaves the placement."""
    rows = table()
    before = place(CALIBRATED, rows, REFERENCES, (ACCURACY,))
    without = place(CALIBRATED, [r for r in rows if r["half"] != "held-out"], REFERENCES, (ACCURACY,))
    failing = place(CALIBRATED, [{**r, "c": "0.0"} if r["half"] == "held-out" else r for r in rows],
                    REFERENCES, (ACCURACY,))
    for other in (without, failing):
        assert (other.gated_on, other.thresholds) == (before.gated_on, before.thresholds) == (
            ["mlp", "transformer"], {"mlp": 0.6, "transformer": 0.7})
    assert failing.on["mlp"].held_out_failing == 2


def test_no_negative_of_the_architecture_no_gate():
    """Without its transformer negatives (the reference at 0.3, the full-data model at 0.5) the
    claim does not gate the transformer: nothing shows it separates anything there. The MLP's
    reference does not stand in for them."""
    rows = [r for r in table() if not (r["architecture"] == "transformer" and r["stage"] == "full-data")]
    found = place(CALIBRATED, rows, {"mlp": REFERENCES["mlp"]}, (ACCURACY,))
    assert found.gated_on == ["mlp"] and found.thresholds == {"mlp": 0.6}
    assert found.on["transformer"].threshold == 0.5  # the default, where it does not gate


def test_positives_not_separated_from_negatives_no_gate():
    """A negative reference at 0.85 above the MLP's bound 0.80: the calibration half does not
    separate them, so the claim does not gate the MLP."""
    found = place(CALIBRATED, table(), {**REFERENCES, "mlp": [(0.85, "close")]}, (ACCURACY,))
    assert not found.on["mlp"].gated and found.gated_on == ["transformer"]


def test_fewer_than_five_calibration_positives_no_gate():
    rows = [r for r in table() if not (r["architecture"] == "mlp" and r["stage"] == "final" and r["c"] == "0.92")]
    assert not place(CALIBRATED, rows, REFERENCES, (ACCURACY,)).on["mlp"].gated  # 4 of them left


def test_a_loss_placed_on_the_log_scale_from_the_failing_end():
    """``<``: the bound is the highest calibration value (n = 5: the worst), 1e-5; the nearest
    negative the lowest, 1e-1; they are 1e4 times apart, so the geometric mean,
    sqrt(1e-5 * 1e-1) = 1e-3."""
    rows = [row("mlp", "calibration", v, claim="loss") for v in (1e-7, 3e-6, 1e-5, 2e-7, 5e-6)]
    found = place(LOSS, rows, {"mlp": [(0.1, "neg"), (0.5, "far")]})
    assert (found.on["mlp"].bound, found.on["mlp"].threshold, found.gated_on) == (1e-5, 0.001, ["mlp"])


def test_a_fixed_threshold_gates_where_95_percent_of_the_calibration_positives_hold_it():
    """Twenty transformer calibration positives, one under 0.5: 19 of 20 = 95%, gated; two under:
    90%, not. Five MLPs, one under: 80%, not. The threshold never moves."""
    base = [row("transformer", "calibration", 0.9, claim="f") for _ in range(18)]
    one = place(FIXED, [*base, row("transformer", "calibration", 0.9, claim="f"),
                        row("transformer", "calibration", 0.2, claim="f")], {})
    two = place(FIXED, [*base, *(row("transformer", "calibration", 0.2, claim="f") for _ in range(2))], {})
    mlp = place(FIXED, [*(row("mlp", "calibration", 0.9, claim="f") for _ in range(4)),
                        row("mlp", "calibration", 0.4, claim="f")], {})
    assert one.on["transformer"].gated and not two.on["transformer"].gated and not mlp.on["mlp"].gated
    assert one.on["transformer"].threshold == two.on["transformer"].threshold == 0.5 and one.thresholds == {}


def test_pizzas_are_a_clock_claim_s_negatives_not_its_positives():
    """A claim naming ``pizza``: the calibration pizza (0.45) is the transformers' nearest negative
    and no positive; 19 clocks at 0.9 and one at 0.85 (n = 19 with the pizza out: the worst, 0.85):
    (0.85 + 0.45) / 2 = 0.65."""
    clock = Claim("k", "m", ">", 0.5, "", "", threshold_source="calibrated", population_negatives=("pizza",))
    rows = [row("transformer", "calibration", v, claim="k") for v in [0.9] * 18 + [0.85]]
    rows += [row("transformer", "calibration", 0.45, claim="k", family=PIZZA_FAMILIES[0]),
             row("transformer", "held-out", 0.4, claim="k", family=PIZZA_FAMILIES[0])]
    on = place(clock, rows, {"transformer": [(0.1, "ref")]}).on["transformer"]
    assert (on.calibration, on.bound, on.nearest_negative[0], on.threshold) == (19, 0.85, 0.45, 0.65)
    assert on.true_fail == {"pizza": (1, 1)}
    assert PIZZA_FAMILIES == algorithm.PIZZA_FAMILIES


def test_grokking_snapshots_are_negatives_only_of_the_architectures_named():
    """The amendment of 2026-12-04: a claim naming ``grokking`` on the MLP only. Five calibration
    positives of each architecture, worst 0.8; a grokking snapshot of each at 0.85 (beyond the
    positives' bound) and a full-data transformer at 0.3. The MLP's snapshot is its nearest
    negative, on the passing side of 0.8: the MLP is not gated. The transformer's snapshot is no
    negative: its nearest is the full-data one, 0.3, and it gates at (0.8 + 0.3) / 2 = 0.55. With
    the claim naming ``grokking`` on both, the transformer is not gated either."""
    def claim(on):
        return Claim("g", "m", ">", 0.5, "", "", threshold_source="calibrated",
                     population_negatives=("full-data", "grokking"), population_negatives_on=on)
    rows = [row(a, "calibration", v, claim="g") for a in ("mlp", "transformer") for v in (0.9, 0.95, 0.8, 0.9, 0.85)]
    rows += [row(a, "calibration", 0.85, stage="grokking", claim="g") for a in ("mlp", "transformer")]
    rows += [row("transformer", "calibration", 0.3, stage="full-data", claim="g")]
    mlp_only = place(claim({"grokking": ("mlp",)}), rows, {})
    assert not mlp_only.on["mlp"].gated and mlp_only.on["mlp"].nearest_negative[0] == 0.85
    tf = mlp_only.on["transformer"]
    assert (tf.gated, tf.bound, tf.nearest_negative[0], tf.threshold) == (True, 0.8, 0.3, 0.55)
    assert not place(claim({}), rows, {}).on["transformer"].gated


@pytest.mark.parametrize(("n", "rank"), [(1, 1), (19, 1), (20, 2), (39, 2), (40, 3), (59, 3), (60, 4)])
def test_the_calibration_bound_is_the_order_statistic_of_rank_n_over_20_plus_1(n, rank):
    values = [float(i) for i in range(1, n + 1)]  # 1 is the worst for ">", n for "<"
    assert calibration_bound(values, ">") == rank
    assert calibration_bound(values, "<") == n + 1 - rank


@pytest.mark.parametrize(("k", "n", "expected"), [(0, 7, 0.348), (0, 19, 0.146), (0, 59, 0.0495)])
def test_clopper_pearson_known_values(k, n, expected):
    assert clopper_pearson_upper(k, n) == pytest.approx(expected, abs=5e-4)
    assert clopper_pearson_upper(k, n) == pytest.approx(1 - 0.05 ** (1 / n), abs=1e-9)


@pytest.mark.parametrize(("k", "n"), [(1, 10), (2, 7), (3, 19), (5, 40)])
def test_clopper_pearson_is_the_beta_quantile(k, n):
    """The one-sided upper bound is the 95% quantile of Beta(k + 1, n - k): integrate its density on
    a fine grid (numpy only) and check the CDF at the bound is 0.95."""
    bound = clopper_pearson_upper(k, n)
    x = np.linspace(0, bound, 200_001)
    log_norm = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k)
    density = np.exp(log_norm + k * np.log(np.maximum(x, 1e-300)) + (n - k - 1) * np.log1p(-x))
    assert np.trapezoid(density, x) == pytest.approx(0.95, abs=1e-6)


def test_clopper_pearson_all_failing_and_bad_input():
    assert clopper_pearson_upper(4, 4) == 1.0
    with pytest.raises(ValueError):
        clopper_pearson_upper(3, 2)


SEED_AND_EXACT = {"test-accuracy": ("==", 1.0), "wu-key-norm-ratio": (">", 0.98), "fve": (">", 0.84),
                  "fve-signed": (">", 0.84), "pre-relu-linear": (">=", 0.9999)}


def test_the_seed_s_and_the_exact_thresholds_are_pinned():
    """The rule never moves a fixed threshold, per architecture or by default."""
    claims = load_claims(DEFAULT_CLAIMS)
    fixed = {c.id: (c.op, c.threshold) for c in claims.claims if c.threshold_source in ("seed", "exact", "paper")}
    assert fixed == SEED_AND_EXACT
    assert all(not claims.claim(i).thresholds for i in fixed)
