"""The seed notebook's metrics on inputs whose answers can be worked out by hand."""

import math

import pytest
import torch

from interp import metrics
from interp.fourier import fft2d, fourier_basis
from interp.terms import TermSpectrum

P = 11
A = torch.arange(P, dtype=torch.float64)[:, None]
B = torch.arange(P, dtype=torch.float64)[None, :]


def w(k: int) -> float:
    return 2 * math.pi * k / P


def readout(sin_signal: torch.Tensor, cos_signal: torch.Tensor, k: int) -> dict[int, torch.Tensor]:
    """A readout_spectra mapping for frequency k built from two [p, p] signals."""
    return {k: fft2d(torch.stack([sin_signal, cos_signal], dim=-1))}


@pytest.mark.parametrize("k", [1, 3, 5])
def test_pure_trig_identity_signal_is_fully_explained(k):
    spectra = readout(torch.sin(w(k) * (A + B)), torch.cos(w(k) * (A + B)), k)
    assert metrics.fve(spectra, k, "sin") == pytest.approx(1.0, abs=1e-12)
    assert metrics.fve(spectra, k, "cos") == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("c", [0.5, 1.0, 2.0])
def test_explained_share_with_an_orthogonal_linear_term(c):
    """sin(w(a+b)) and c*cos(w_2 a) each have energy proportional to 1 and c^2: share 1/(1+c^2)."""
    k = 3
    noise = c * torch.cos(w(2) * A).expand(P, P)
    spectra = readout(torch.sin(w(k) * (A + B)) + noise, torch.cos(w(k) * (A + B)) + noise, k)
    assert metrics.fve(spectra, k, "sin") == pytest.approx(1 / (1 + c**2), rel=1e-9)
    assert metrics.fve(spectra, k, "cos") == pytest.approx(1 / (1 + c**2), rel=1e-9)


def test_difference_signal_and_the_metrics_sign_blindness():
    """cos(w(a-b)) = cc + ss has no sin-cos cross terms, so the sin readout scores 0. The cos
    readout scores 1 although the sign of ss is wrong for cos(w(a+b)): the metric, as the seed
    defines it, sums squares and cannot tell a+b from a-b (distance irrelevance can)."""
    k = 2
    spectra = readout(torch.cos(w(k) * (A - B)), torch.cos(w(k) * (A - B)), k)
    assert metrics.fve(spectra, k, "sin") == pytest.approx(0.0, abs=1e-12)
    assert metrics.fve(spectra, k, "cos") == pytest.approx(1.0, rel=1e-9)


def test_planted_sparse_unembedding_norm_ratio():
    """W_U = u1 sin_k^T + u2 cos_k^T + e cos_j^T: ratio sqrt(|u1|^2+|u2|^2) / sqrt(that + |e|^2)."""
    F = fourier_basis(P, torch.float64)
    u1, u2, e = torch.tensor([1.0, 2.0]), torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    W_U = (torch.outer(u1, F[3]) + torch.outer(u2, F[4]) + torch.outer(e, F[6])).double()
    got = metrics.wu_key_norm_ratio(W_U, W_U @ F.T, F, key_freqs=[2])
    assert got == pytest.approx(math.sqrt(9 / 10), rel=1e-12)
    assert metrics.wu_key_norm_ratio(W_U, W_U @ F.T, F, key_freqs=[2, 3]) == pytest.approx(1.0)
    assert metrics.wu_key_norm_ratio(W_U, W_U @ F.T, F, key_freqs=[1]) == pytest.approx(0.0, abs=1e-12)


def _energy_of_centered(signal: torch.Tensor) -> TermSpectrum:
    return TermSpectrum.from_energy(fft2d((signal - signal.mean()).unsqueeze(-1)).pow(2).sum(-1))


def test_pre_relu_linear_fraction_of_sum_and_product():
    f, g = torch.cos(w(1) * A) + 0.3 * A, torch.sin(w(4) * B) - 0.1 * B**2
    assert metrics.pre_relu_linear_fraction(_energy_of_centered(f + g)) == pytest.approx(1.0, abs=1e-12)
    product = torch.cos(w(1) * A) * torch.sin(w(4) * B)  # zero-mean factors: purely quadratic
    assert metrics.pre_relu_linear_fraction(_energy_of_centered(product)) == pytest.approx(0.0, abs=1e-12)
    mixed = torch.cos(w(1) * A) + torch.cos(w(1) * A) * torch.sin(w(4) * B)  # energies p^2/2 and p^2/4
    assert metrics.pre_relu_linear_fraction(_energy_of_centered(mixed)) == pytest.approx(2 / 3, rel=1e-9)


def test_wneur_key_share_counts_sin_and_cos_rows():
    wneur_fourier = torch.zeros(P, 2, dtype=torch.float64)
    wneur_fourier[0] = 1.0  # constant row: counted in the total only
    wneur_fourier[3] = torch.tensor([1.0, 1.0])  # sin 2
    wneur_fourier[4] = torch.tensor([2.0, 0.0])  # cos 2
    wneur_fourier[9] = torch.tensor([0.0, 2.0])  # sin 5
    assert metrics.wneur_key_share(wneur_fourier, [2]) == pytest.approx(6 / 12)
    assert metrics.wneur_key_share(wneur_fourier, [2, 5]) == pytest.approx(10 / 12)


def test_accuracy_reads_only_its_split():
    preds, answers = torch.tensor([0, 1, 2, 9]), torch.tensor([0, 1, 2, 3])
    splits = {"train": torch.tensor([0, 1]), "test": torch.tensor([2, 3]), "all": torch.arange(4)}
    assert metrics.accuracy(preds, answers, splits, "train") == 1.0
    assert metrics.accuracy(preds, answers, splits, "test") == 0.5
    assert metrics.accuracy(preds, answers, splits, "all") == 0.75
