"""Planted ground truth: hand-built clock models, and defective ones, through the claims."""

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interp.checkpoint import Checkpoint
from interp.claims import evaluate, load_claims
from interp.keyfreqs import key_frequencies
from interp.planted import DEFECTS, planted_clock
from interp.plugin import DEFAULT_CLAIMS
from interp.run import Run


def run_of(weights) -> Run:
    return Run(Checkpoint(path=Path("planted.pt"), sha256="0" * 64, model=weights))


@st.composite
def clock_specs(draw):
    p = draw(st.sampled_from([11, 13, 17, 23, 29, 31, 37, 41]))
    freqs = draw(st.lists(st.integers(1, (p - 1) // 2), min_size=1, max_size=4, unique=True))
    per_freq = draw(st.integers(8, 16))
    return p, sorted(freqs), per_freq * len(freqs)


@given(clock_specs())
def test_planted_clock_is_perfect_and_its_frequencies_are_recovered(spec):
    """From W_U (the suite's rule), from W_E @ W_in, and neuron by neuron (each neuron's best
    frequency is the one it was built to read). The logits' and post-ReLU sets are not asserted:
    the ReLU's harmonics (2k, 3k, ...) can take a share there (docs/claims.md)."""
    p, freqs, d_mlp = spec
    run = run_of(planted_clock(p, freqs, d_mlp))
    assert run.key_freqs == freqs
    assert key_frequencies(run.wneur_fourier) == freqs
    per_freq = d_mlp // len(freqs)
    assert (run.neuron_freq_shares.argmax(-1) + 1).tolist() == [k for k in freqs for _ in range(per_freq)]
    assert (run.predictions == run.labels).all()


def failing_claims(run: Run) -> set[str]:
    claims = load_claims(DEFAULT_CLAIMS)
    return {case.id.split("[")[0] for claim in claims.claims for case in claim.expand(run.key_freqs)
            if not case.judge(evaluate(case, run))}


@pytest.fixture(scope="module")
def failures() -> dict[str, set[str]]:
    return {d: failing_claims(run_of(planted_clock(31, [2, 5, 11], 48, defect=d))) for d in DEFECTS}


def test_exact_relu_clock_fails_exactly_these_claims(failures):
    """Findings, not bugs: an exact ReLU clock has FVE 0.81 (the ReLU's higher harmonics), a logits
    linear share 0.18 (the second harmonic of each input survives the readout), harmonics that
    change the logits' frequency set, and is pizza-like (distance irrelevance 0.04)."""
    assert failures["none"] == {"fve", "logits-linear-share", "key-freq-agreement", "distance-irrelevance"}


@pytest.mark.parametrize(("defect", "caught_by"), [
    ("readout_removed", {"wneur-key-share", "post-relu-key-quadratic", "restricted-loss"}),
    ("phases_collapsed", {"test-accuracy", "logits-key-quadratic-share"}),
    ("embedding_noise", {"test-accuracy", "wneur-key-share", "logits-key-quadratic-share",
                         "post-relu-key-quadratic", "neuron-concentration-median", "neuron-clusters",
                         "restricted-loss"}),
])
def test_each_defect_is_caught_by_claims_the_exact_clock_passes(failures, defect, caught_by):
    assert failures[defect] - failures["none"] == caught_by
