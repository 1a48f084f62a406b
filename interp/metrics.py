"""Every metric a claim can name, one small pure function each.

A metric's parameters come from two places, matched by name:

* names of :class:`interp.run.Run` attributes (``predictions``, ``wu_fourier``, ``key_freqs``, ...)
  are filled from the cached run, so nothing is recomputed per claim;
* every other parameter is a claim parameter, set by ``params`` in ``claims.yaml``.

The function name is the ``metric`` in ``claims.yaml``: find a claim's code by searching for
``def <metric>``. Each docstring states the formula. Metrics never modify their inputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.model import Weights

METRICS: dict[str, Callable[..., float]] = {}


def metric(fn: Callable[..., float]) -> Callable[..., float]:
    """Register ``fn`` under its own name."""
    METRICS[fn.__name__] = fn
    return fn


def run_inputs(fn: Callable[..., float], run_attrs: set[str]) -> list[str]:
    """The parameters of ``fn`` filled from the run."""
    return [n for n in inspect.signature(fn).parameters if n in run_attrs]


def claim_params(fn: Callable[..., float], run_attrs: set[str]) -> dict[str, inspect.Parameter]:
    """The parameters of ``fn`` a claim sets (with their defaults, if any)."""
    return {n: p for n, p in inspect.signature(fn).parameters.items() if n not in run_attrs}


def _rows(freqs: list[int]) -> list[int]:
    """Fourier-basis rows of the sine and cosine of each frequency: ``2k-1, 2k``."""
    return [r for k in freqs for r in (2 * k - 1, 2 * k)]


def _energy(x: Tensor) -> Tensor:
    return x.to(torch.float64).pow(2)


# -- the seed notebook's claims ------------------------------------------------------------------
@metric
def accuracy(predictions: Int[Tensor, " pair"], labels: Int[Tensor, " pair"],
             splits: dict[str, Int[Tensor, " n"]], split: Literal["train", "test", "all"] = "test"
             ) -> float:
    """Fraction of the split's pairs where ``argmax(logits) == (a + b) mod p``.

    >>> accuracy(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2]), {"all": torch.arange(3)}, "all")
    0.6666666666666666
    """
    idx = splits[split]
    return (predictions[idx] == labels[idx]).double().mean().item()


@metric
def wu_key_norm_ratio(weights: Weights, wu_fourier: Float[Tensor, "d_mlp p"],
                      basis: Float[Tensor, "p p"], key_freqs: list[int]) -> float:
    """How much of W_U the key frequencies' sin/cos output directions rebuild:
    ``||sum_{k in K} US[:, r] F[r] for r in (2k-1, 2k)||_F / ||W_U||_F`` with ``US = W_U F^T``
    (norms, not squared).

    >>> from interp.fourier import fourier_basis
    >>> F = fourier_basis(5, torch.float64)
    >>> W_U = torch.outer(torch.tensor([1.0, 2.0], dtype=torch.float64), F[1] + F[4])
    >>> w = Weights(torch.zeros(5, 1), torch.zeros(1, 2), W_U)
    >>> round(wu_key_norm_ratio(w, W_U @ F.T, F, [1]), 6)  # half the energy: 1/sqrt(2)
    0.707107
    """
    rows = _rows(key_freqs)
    approx = wu_fourier[:, rows] @ basis[rows]
    return (approx.to(torch.float64).norm() / weights.W_U.to(torch.float64).norm()).item()


@metric
def fve(readout_spectra: Mapping[int, Float[Tensor, "p p 2"]], freq: int,
        term: Literal["sin", "cos"]) -> float:
    """Fraction of the variance (uncentered) of the activations read along W_U's ``sin k`` or
    ``cos k`` direction that the matching trig identity explains. With ``S`` the 2D spectrum of
    ``post @ US[:, 2k-1]`` (sin) or ``post @ US[:, 2k]`` (cos):

    * sin: ``(S[2k-1, 2k]^2 + S[2k, 2k-1]^2) / sum(S^2)``  (sin(a)cos(b) + cos(a)sin(b))
    * cos: ``(S[2k, 2k]^2 + S[2k-1, 2k-1]^2) / sum(S^2)``  (cos(a)cos(b) - sin(a)sin(b))
    """
    s, c = 2 * freq - 1, 2 * freq
    if term == "sin":
        spectrum, hits = readout_spectra[freq][..., 0], [(s, c), (c, s)]
    else:
        spectrum, hits = readout_spectra[freq][..., 1], [(c, c), (s, s)]
    energy = _energy(spectrum)
    return (sum(energy[i, j] for i, j in hits) / energy.sum()).item()


def linear_share(energy: Float[Tensor, "p p"]) -> float:
    """Share of a 2D energy map in row 0 or column 0 (terms depending on a alone or b alone)."""
    linear = energy[0].sum() + energy[:, 0].sum() - energy[0, 0]
    return (linear / energy.sum()).item()


@metric
def pre_relu_linear_fraction(pre_energy: Float[Tensor, "p p"]) -> float:
    """Share of the centered pre-ReLU activations' 2D Fourier energy (summed over neurons) in the
    linear terms: ``sum_{i=0 or j=0} E[i, j] / sum E`` with ``E = sum_n fft2d(pre - mean)^2``."""
    return linear_share(pre_energy)


@metric
def wneur_key_share(wneur_fourier: Float[Tensor, "p d_mlp"], key_freqs: list[int]) -> float:
    """Share of ``||F @ W_neur||^2`` (``W_neur = W_E @ W_in``) in the key frequencies' sin and
    cos rows: ``sum_{r in rows(K)} ||row r||^2 / ||F @ W_neur||^2``."""
    energy = _energy(wneur_fourier).sum(-1)
    return (energy[_rows(key_freqs)].sum() / energy.sum()).item()
