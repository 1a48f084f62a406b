"""Metrics beyond the seed notebook on inputs whose answers can be worked out by hand."""

import math
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from interp import metrics, metrics_causal
from interp.arch.mlp import MLP
from interp.checkpoint import Checkpoint
from interp.run import Run
from interp.terms import TermSpectrum
from tests._models import table_checkpoint

P = 7


def energy_map(entries: dict[tuple[int, int], float]) -> TermSpectrum:
    """The terms metrics read (:class:`TermSpectrum`) of a 2D energy map with these entries."""
    energy = torch.zeros(P, P, dtype=torch.float64)
    for (i, j), value in entries.items():
        energy[i, j] = value
    return TermSpectrum.from_energy(energy)


def test_logit_shares_split_linear_and_same_frequency_products():
    # linear: (0, 1) and (2, 0); key products of k=1: (1, 2), (2, 2); a cross-frequency product (1, 4)
    energy = energy_map({(0, 1): 1.0, (2, 0): 1.0, (1, 2): 3.0, (2, 2): 3.0, (1, 4): 2.0})
    assert metrics.logits_linear_share(energy) == pytest.approx(2 / 10)
    assert metrics.logits_key_quadratic_share(energy, [1]) == pytest.approx(6 / 10)
    assert metrics.logits_key_quadratic_share(energy, [2]) == pytest.approx(0.0)
    assert metrics.post_relu_key_quadratic_share(energy, [1]) == pytest.approx(6 / 8)  # of quadratic only


def test_neuron_concentration_and_clusters():
    shares = torch.tensor([[0.95, 0.01], [0.10, 0.90], [0.50, 0.40], [0.84, 0.0]], dtype=torch.float64)
    assert metrics.neuron_cluster_fraction(shares, cut=0.85) == 0.5
    assert metrics.neuron_concentration_quantile(shares, quantile=0.5) == pytest.approx((0.84 + 0.90) / 2)
    assert metrics.neuron_concentration_quantile(shares, quantile=0.0) == pytest.approx(0.5)


def test_neuron_shares_of_a_single_frequency_neuron():
    """A neuron computing cos(w_2 a) cos(w_2 b) + sin(w_2 a) has all its energy in frequency 2."""
    a = torch.arange(P, dtype=torch.float64)[:, None]
    b = torch.arange(P, dtype=torch.float64)[None, :]
    w2 = 2 * math.pi * 2 / P
    neuron = torch.cos(w2 * a) * torch.cos(w2 * b) + torch.sin(w2 * a)
    run = Run(table_checkpoint((neuron + 3)[..., None].float()))  # positive: the ReLU passes it
    assert run.neuron_freq_shares[0].tolist() == pytest.approx([0.0, 1.0, 0.0], abs=1e-6)


def _correct_logits(f) -> torch.Tensor:
    a, b = torch.arange(P).repeat_interleave(P), torch.arange(P).repeat(P)
    return f(a, b).to(torch.float64)


def test_distance_irrelevance_of_sum_only_and_distance_only_logits():
    by_sum = _correct_logits(lambda a, b: torch.cos((a + b) % P * 1.0))
    by_distance = _correct_logits(lambda a, b: torch.cos((a - b) % P * 1.0))
    assert metrics.distance_irrelevance(by_sum, "add") == pytest.approx(1.0)
    assert metrics.distance_irrelevance(by_distance, "add") == pytest.approx(0.0)
    assert metrics.distance_irrelevance(by_distance, "sub") == pytest.approx(1.0)  # for a - b the roles swap
    assert metrics.distance_irrelevance(by_sum, "sub") == pytest.approx(0.0)


def test_gradient_symmetricity_is_one_and_undefined_without_gradient():
    w = MLP.random(P, 4, 16, seed=2)
    assert metrics.gradient_symmetricity(w) == pytest.approx(1.0, abs=1e-6)
    dead = MLP(w.W_E, torch.zeros_like(w.W_in), w.W_U)
    assert math.isnan(metrics.gradient_symmetricity(dead))


def clock_logits_run(scale: float, extra: float = 0.0) -> Run:
    """A run whose logits are scale * cos(w_1 (a+b-c)) + extra * cos(w_2 a), up to a constant
    (a table model: the readout is the identity, the pre-ReLU activations the logits plus 20)."""
    a, b = torch.arange(P).repeat_interleave(P), torch.arange(P).repeat(P)
    c = torch.arange(P)
    w = 2 * math.pi / P
    logits = scale * torch.cos(w * ((a + b)[:, None] - c[None, :])) + extra * torch.cos(2 * w * a)[:, None]
    return Run(table_checkpoint((logits + 20).float().reshape(P, P, P)), given_key_freqs=[1])


def test_restricted_and_excluded_loss_of_pure_clock_logits():
    """Both definitions keep all of ``cos(w_1(a+b-c))`` (it is ``cos(w_1 y) cos(w_1 c) + sin(w_1 y)
    sin(w_1 c)``: Nanda et al.'s per-class coefficients span it), so the restricted loss is the
    logits' own and the excluded loss uniform."""
    run = clock_logits_run(scale=5.0)
    full = metrics_causal._split_loss(run.logits, run.labels)
    centered = run.logits.double() - run.logits.double().mean()
    assert torch.allclose(run.clock_projection[run.labels], centered, atol=1e-4)
    assert torch.allclose(run.trig_components[run.labels], centered, atol=1e-4)
    assert metrics_causal.clock_restricted_loss(run.clock_projection, run.labels, run.splits, "all") == (
        pytest.approx(full, rel=1e-5))
    assert metrics_causal.restricted_loss(run.trig_components, run.mean_logits, run.labels, run.splits, "all") == (
        pytest.approx(full, rel=1e-5))
    assert metrics_causal.clock_excluded_loss_vs_uniform(run.split_logits, run.clock_projection, run.labels,
                                                         "all") == pytest.approx(1.0, abs=1e-5)
    assert metrics_causal.excluded_loss_vs_uniform(run.split_logits, run.trig_components, run.labels, "all") == (
        pytest.approx(1.0, abs=1e-5))


def test_projections_ignore_components_outside_their_directions():
    run = clock_logits_run(scale=5.0, extra=3.0)  # cos(w_2 a) is orthogonal to every direction of both
    pure = clock_logits_run(scale=5.0)
    assert torch.allclose(run.clock_projection, pure.clock_projection, atol=1e-5)
    assert torch.allclose(run.trig_components, pure.trig_components, atol=1e-5)


def test_nanda_components_keep_a_per_class_read_out_that_the_clock_form_drops():
    """Logits ``5 cos(w_1 (a+b)) cos(w_1 c)^3``: along ``cos(w_1 y)`` with a coefficient per class that
    is not one rotation, so Nanda et al.'s components hold all of them and the clock form part."""
    a, b = torch.arange(P).repeat_interleave(P), torch.arange(P).repeat(P)
    w = 2 * math.pi / P
    logits = 5 * torch.cos(w * (a + b))[:, None] * torch.cos(w * torch.arange(P))[None, :] ** 3
    run = Run(table_checkpoint((logits + 20).float().reshape(P, P, P)), given_key_freqs=[1])
    centered = run.logits.double() - run.logits.double().mean(0)
    assert torch.allclose(run.trig_components[run.labels], centered, atol=1e-4)
    assert not torch.allclose(run.clock_projection[run.labels], centered, atol=0.1)


def _spectrum_on(freqs: list[int], width: int) -> torch.Tensor:
    """A ``[P, width]`` spectrum (axis 0 in the Fourier basis) with unit energy in the sin and cos
    rows of each frequency in ``freqs``."""
    spectrum = torch.zeros(P, width, dtype=torch.float64)
    for k in freqs:
        spectrum[2 * k - 1 : 2 * k + 1] = 1.0
    return spectrum


def _energy_on(freqs: list[int]) -> TermSpectrum:
    """A 2D energy map with unit energy in each frequency's four products."""
    return energy_map({(i, j): 1.0 for k in freqs for i in (2 * k - 1, 2 * k) for j in (2 * k - 1, 2 * k)})


def test_key_freq_agreement_is_intersection_over_union_of_the_four_sets():
    wu, wneur = _spectrum_on([1, 3], 4).T, _spectrum_on([1, 3], 4)
    assert metrics.key_freq_agreement(wu, wneur, _energy_on([1, 3]), _energy_on([1, 3])) == 1.0
    assert metrics.key_freq_agreement(wu, wneur, _energy_on([1, 3]), _energy_on([1])) == 0.5  # {1} of {1, 3}
    assert metrics.key_freq_agreement(wu, _spectrum_on([2], 4), _energy_on([1, 3]), _energy_on([1, 3])) == 0.0


@given(p=st.integers(3, 23), d_model=st.integers(1, 12), d_mlp=st.integers(1, 40), seed=st.integers(0, 10**6))
def test_claims_marked_by_construction_hold_for_any_weights(p, d_model, d_mlp, seed):
    """Measured, not assumed: pre-ReLU linearity and gradient symmetricity on random weights of
    any shape (a dead network, with no gradient at all, is the only way to miss the second)."""
    w = MLP.random(p, d_model, d_mlp, seed=seed)
    run = Run(Checkpoint(Path("x.pt"), "0" * 64, w))
    assert metrics.pre_relu_linear_fraction(run.pre_terms) >= 0.9999
    symmetricity = metrics.gradient_symmetricity(w)
    assert math.isnan(symmetricity) or symmetricity == pytest.approx(1.0, abs=1e-5)
