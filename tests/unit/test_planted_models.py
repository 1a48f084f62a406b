"""Planted ground truth: hand-built clock models, and defective ones, through the claims."""

import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interp.checkpoint import Checkpoint
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import evaluate
from interp.keyfreqs import key_frequencies
from interp.metrics import fve
from interp.planted import DEFECTS, planted_clock
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
    """Findings, not bugs: an exact ReLU clock has FVE 8/pi^2 = 0.81 (derived and pinned below), a logits
    linear share 0.18 (the second harmonic of each input survives the readout) and only 0.81 of
    the logits' energy in key products (trained models: 0.93), harmonics that leave confidently
    wrong logits once the clock is removed (excluded loss 2.9 ln p, by Nanda et al.'s definition
    and in the clock form), and it is pizza-like (distance irrelevance 0.04)."""
    assert failures["none"] == {"fve", "fve-signed", "logits-linear-share", "logits-key-quadratic-share",
                                "distance-irrelevance", "excluded-loss-at-most-uniform",
                                "clock-excluded-loss-at-most-uniform"}


def fve_of_exact_clock(p: int) -> float:
    """``2 / (p sin(pi / 2p))^2``: the exact ReLU clock's FVE at odd ``p``, in the limit of many
    neurons per frequency (derivation in the test below); ``8 / pi^2`` as ``p`` grows."""
    return 2 / (p * math.sin(math.pi / (2 * p))) ** 2


@pytest.mark.parametrize("p", [31, 113, 257])
def test_exact_relu_clock_fve_is_8_over_pi_squared(p):
    r"""Every FVE case of the defect-free planted clock is ``8/pi^2 = 0.8106``, up to ``1/p^2``.

    Derivation. Neuron ``(k, j)``, with ``w = 2 pi k / p`` and phase ``phi = 2 pi j / n``, reads
    ``cos(wa + phi) + cos(wb + phi) = 2 cos(d) cos(s + phi)``, with ``s = w(a+b)/2``,
    ``d = w(a-b)/2``. So ``relu`` of it is ``2 |cos d| relu(cos(s' + phi))``, ``s' = s`` (or
    ``s + pi`` where ``cos d < 0``), and by ``relu(cos t) = 1/pi + cos(t)/2 + (2/pi) sum_{m even}
    (-1)^{m/2+1} cos(mt)/(m^2-1)``, as a function of the phase:

        post = 2 |cos d| [1/pi + cos(s' + phi)/2 + 2/(3 pi) cos(w(a+b) + 2 phi) - ...]

    (``2 s' = w(a+b)`` mod ``2 pi``). The readout of frequency ``k``, ``US[:, cos k]``, is
    ``lambda cos(2 phi_j)`` on frequency ``k``'s neurons (``W_U``'s row ``cos(wc + 2 phi_j)`` on
    ``cos(wc)``) and 0 on the others (other frequencies are orthogonal); ``US[:, sin k]`` is
    ``-lambda sin(2 phi_j)``. Summed over ``n`` evenly spaced phases, a harmonic ``m`` in the
    phase survives against ``cos(2 phi)`` only if ``m = +-2 mod n``: the constant, the linear
    term and every other harmonic cancel, up to the aliased ``m = n +- 2, 2n +- 2, ...`` (energy
    ``sum (3/(m^2-1))^2 = 1e-6`` of the readout at ``n = 64``). What survives is

        r_cos = lambda n 2/(3 pi) |cos(w(a-b)/2)| cos(w(a+b))    (r_sin: the same with sin),

    the clock term times the envelope ``g(a-b) = |cos(w(a-b)/2)|``. Over all pairs, ``u = a+b``
    and ``v = a-b`` are independent and uniform (``p`` odd), so ``sum r^2`` factorises into
    ``mean cos^2(wu) = 1/2`` times ``mean g^2 = 1/2``. :func:`interp.metrics.fve` counts the two
    product terms ``cos(wa)cos(wb)`` and ``sin(wa)sin(wb)``, whose span is that of ``cos(w(a+b))``
    and ``cos(w(a-b))``: ``r`` projects onto the first with coefficient ``mean g`` and onto the
    second not at all (``mean_u cos(wu) = 0``); the ``sin`` case is the same with ``sin(w(a+b))``.
    With ``mean g = 2/pi`` (a continuous ``v``):

        FVE = (mean g)^2 (1/2) / (1/2 * 1/2) = 2 (2/pi)^2 = 8/pi^2 = 0.81057.

    The other 19% is the envelope's harmonics, ``|cos(v/2)| = 2/pi + 4/(3 pi) cos v -
    4/(15 pi) cos 2v + ...``: ``cos(u) cos(mv)`` is ``cos(w((1+m)a + (1-m)b))`` and its mirror,
    ``m = 1`` being the second harmonic of each input, ``cos(2wa)`` and ``cos(2wb)``.

    Finite ``p``: ``v`` takes the ``p`` values ``kt mod p``, and ``mean_t |cos(pi t/p)| =
    (1 + 2 sum_{t=1}^{(p-1)/2} cos(pi t/p)) / p = 1 / (p sin(pi/(2p)))`` (a Dirichlet sum), while
    ``mean g^2 = 1/2`` stays exact. So ``FVE_p = 2 / (p sin(pi/(2p)))^2 = 8/pi^2 (1 + pi^2/(12
    p^2) + O(p^-4))``: above the limit by ``2/(3 p^2)`` (7e-4 at p = 31, 5e-5 at 113, 1e-5 at
    257), inside the tolerance ``1/p^2``. The finite-``p`` form itself is met to 1e-6 here
    (measured: float32 and the aliased harmonics), and 1e-5 is asserted.
    """
    freqs, per_freq = [1, 5, (p - 1) // 2], 64
    run = run_of(planted_clock(p, freqs, per_freq * len(freqs)))
    values = [fve(run.readout_spectra, k, term) for k in freqs for term in ("sin", "cos")]
    assert max(abs(v - 8 / math.pi**2) for v in values) <= 1 / p**2
    assert max(abs(v - fve_of_exact_clock(p)) for v in values) <= 1e-5


@pytest.mark.parametrize(("defect", "caught_by"), [
    ("readout_removed", {"wneur-key-share", "embedding-key-share", "post-relu-key-quadratic", "restricted-loss",
                         "clock-restricted-loss"}),
    # logits-key-quadratic (0.22) fails, but so does the exact clock's; Nanda et al.'s restricted loss
    # (52) catches it, the clock form's (4.1e-05) does not (issue 16)
    ("phases_collapsed", {"test-accuracy", "restricted-loss"}),
    # the clock form's restricted loss (0.019) fails it again since issue 20's rule places thresholds
    # per architecture (the MLP's 0.0009; the default, from the references, 0.002: the 0.056 of
    # before followed a tl-sub transformer's 0.0036); its accuracy fails it anyway
    ("embedding_noise", {"test-accuracy", "wneur-key-share", "embedding-key-share",
                         "post-relu-key-quadratic", "neuron-concentration-median", "neuron-clusters",
                         "restricted-loss", "clock-restricted-loss"}),
])
def test_each_defect_is_caught_by_claims_the_exact_clock_passes(failures, defect, caught_by):
    assert failures[defect] - failures["none"] == caught_by
