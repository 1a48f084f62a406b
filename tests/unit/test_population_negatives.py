"""Which claims name which kinds of population negatives (``population_negatives`` in
``claims.yaml``) follows the three sentences of docs/claims.md, "Which claims name which kinds",
written before the switch to the horizon population (the grokking sentence per architecture since
the amendment of 2026-12-04): a claim cannot gain or lose a kind of negative without that text
changing with it.

The ``full-data`` sentence is checked on the metrics, not on a list: a claim leaves out the
full-data models when it reads the key set and a model trained on every pair passes it once every
frequency is key (a spread spectrum). Two such models are bundled: the one-hot study's p = 97 MLP
(37 of its 48 frequencies come out key) and a ``full-tl`` transformer of the population (p = 59,
seed 0 at its 3,000-epoch horizon)."""

import csv
import math

import pytest

from interp.checkpoint import load_checkpoint
from interp.claims.claim import ClaimCase, gate_architecture
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import evaluate
from interp.metrics import key_freq_fraction
from interp.registry import NotDefined
from interp.run import Run
from tests._paths import FIXTURES, ROOT

CLAIMS = load_claims(DEFAULT_CLAIMS).claims
JUST_GENERALISED = {"mlp": "mlp-4000", "transformer": "transformer-add-10000"}  # per architecture, its
# reference that has just generalised
CLOCK_READOUT = {"clock-restricted-loss", "clock-excluded-loss", "clock-excluded-loss-at-most-uniform"}
# left out of full-data for a reason of their own: full-data models solve the task; the MLP holds
# pre-ReLU linearity by construction
OWN_REASON = {"test-accuracy", "pre-relu-linear"}
FULL_DATA_MLP = FIXTURES / "onehot" / "p_97_dmlp_64_ReLU_random_scale_0.1_decay_0_12030400" / "final.pth"
FULL_DATA_TRANSFORMER = FIXTURES / "full-data" / "epoch003000.pt"  # full-tl seed 0 (its PROVENANCE.md)


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
@pytest.mark.parametrize("architecture", sorted(JUST_GENERALISED))
def test_grokking_where_the_architectures_just_generalised_reference_fails(claim, architecture):
    """The amendment of 2026-12-04: an architecture's grokking snapshots are a claim's negatives
    where that architecture's just-generalised reference fails the claim, not another's."""
    fails = JUST_GENERALISED[architecture] in claim.references.get("fails", ())
    assert claim.names_negatives("grokking", architecture) == fails


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_pizza_where_the_claim_says_the_readout_is_the_clocks(claim):
    assert ("pizza" in claim.population_negatives) == (claim.id in CLOCK_READOUT)


def _reading(claim, run) -> tuple[list[ClaimCase], list[float]] | None:
    """The claim's cases on ``run`` (one per key frequency for a per-frequency claim) and their
    values, at the claim's threshold on the run's architecture; None where the metric is not
    defined there."""
    cases = claim.at(gate_architecture(run.model)).expand(run.key_freqs)
    try:
        return cases, [evaluate(case, run) for case in cases]
    except NotDefined:
        return None


@pytest.fixture(scope="module")
def full_data_runs() -> dict[str, tuple[Run, Run]]:
    """Per bundled full-data model: its run with its own key set, and with every frequency key
    (``1 .. p // 2``, as :mod:`interp.fourier` counts them), on one loaded checkpoint."""
    runs = {}
    for name, path in (("mlp", FULL_DATA_MLP), ("transformer", FULL_DATA_TRANSFORMER)):
        own = Run(load_checkpoint(path))
        runs[name] = own, Run(own.checkpoint, given_key_freqs=list(range(1, own.p // 2 + 1)))
    return runs


@pytest.fixture(scope="module")
def spread_readings(full_data_runs):
    """Per claim id: (whether its value moves with the key set, whether every full-data model
    where it is defined passes it with every frequency key, how many models define it)."""
    out = {}
    for claim in CLAIMS:
        reads, passes, defined = False, True, 0
        for own, every in full_data_runs.values():
            mine, spread = _reading(claim, own), _reading(claim, every)
            if spread is None:
                continue
            defined += 1
            reads |= len(mine[0]) != len(spread[0]) or any(
                not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) for a, b in zip(mine[1], spread[1], strict=True))
            passes &= all(case.judge(v) for case, v in zip(*spread, strict=True))
        out[claim.id] = (reads, passes, defined)
    return out


@pytest.mark.parametrize("claim", CLAIMS, ids=lambda c: c.id)
def test_full_data_unless_a_spread_spectrum_passes_the_claim(claim, spread_readings):
    reads, passes, defined = spread_readings[claim.id]
    assert defined, f"{claim.id}: no bundled full-data model defines it"
    left_out = claim.id in OWN_REASON or (reads and passes)
    assert ("full-data" in claim.population_negatives) == (not left_out), (
        f"{claim.id}: reads the key set: {reads}; passes on every full-data model with every frequency key: {passes}")


def test_the_full_data_models_are_what_they_stand_for(full_data_runs):
    """The MLP's own spectrum is spread; the transformer is the population's own row."""
    run = full_data_runs["mlp"][0]
    accuracy = next(c for c in CLAIMS if c.id == "test-accuracy")
    assert key_freq_fraction(run.key_freqs, run.p) > 0.5 and _reading(accuracy, run)[1] == [1.0]
    with open(ROOT / "calibration" / "trajectories.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if (r["family"], r["seed"], r["epoch"]) == ("full-tl", "0", "3000")]
    assert [r["sha256"] for r in rows] == [full_data_runs["transformer"][0].checkpoint.sha256]
    assert rows[0]["stage"] == "full-data"


def test_key_freqs_few_guards_the_claims_a_spread_spectrum_passes():
    assert any(c.id == "key-freqs-few" and "full-data" in c.population_negatives for c in CLAIMS)
    assert {*OWN_REASON, *CLOCK_READOUT} <= {c.id for c in CLAIMS}
