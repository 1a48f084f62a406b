"""Every metric a claim can name, one small pure function each (the causal losses in
:mod:`interp.metrics_causal`; both register in :data:`interp.registry.METRICS`).

A metric's parameters come from two places, matched by name:

* names of :class:`interp.run.Run` attributes (``predictions``, ``readout_fourier``, ``key_freqs``, ...)
  are filled from the cached run, so nothing is recomputed per claim;
* every other parameter is a claim parameter, set by ``params`` in ``claims.yaml``.

The function name is the ``metric`` in ``claims.yaml``: find a claim's code by searching for
``def <metric>``. Each docstring states the formula. Metrics never modify their inputs, and none
knows the architecture: "the readout" is ``W_U`` for the MLP and ``W_out @ W_U`` for a
transformer (:mod:`interp.model`).

Every metric is defined for every ``p >= 3``, prime or not, odd or even. Frequencies are
``k = 1 .. p // 2``; for even ``p`` the last, the Nyquist ``k = p/2``, has one Fourier row, ``p-1``
(``cos(pi x)``, no sine row), and is a frequency of its own: formulas over the rows ``2k-1, 2k``
read that one row there (its 9-term block has 4 terms, ``{0, p-1}^2``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.model import Model
from interp.registry import METRICS, NotDefined, claim_params, metric, run_inputs
from interp.terms import TermSpectrum

__all__ = ["METRICS", "NotDefined", "claim_params", "metric", "run_inputs"]  # the registry, for its readers

def _rows(freqs: list[int], p: int) -> list[int]:
    """Fourier-basis rows of the sine and cosine of each frequency: ``2k-1, 2k``. For even ``p``
    the Nyquist frequency ``k = p/2`` has one row, ``p-1`` (``cos(pi x)``; no sine row)."""
    return [r for k in freqs for r in (2 * k - 1, 2 * k) if r < p]


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
def wu_key_norm_ratio(readout: Float[Tensor, "d_mlp p"], readout_fourier: Float[Tensor, "d_mlp p"],
                      basis: Float[Tensor, "p p"], key_freqs: list[int]) -> float:
    """How much of the readout (``W_U``; ``W_out @ W_U`` for a transformer) the key frequencies'
    sin/cos output directions rebuild: ``||sum_{k in K} US[:, r] F[r] for r in (2k-1, 2k)||_F /
    ||W_U||_F`` with ``US = W_U F^T`` (norms, not squared; the Nyquist ``k = p/2`` of an even ``p``
    contributes its one row, ``p-1``).

    >>> from interp.fourier import fourier_basis
    >>> F = fourier_basis(5, torch.float64)
    >>> W_U = torch.outer(torch.tensor([1.0, 2.0], dtype=torch.float64), F[1] + F[4])
    >>> round(wu_key_norm_ratio(W_U, W_U @ F.T, F, [1]), 6)  # half the energy: 1/sqrt(2)
    0.707107
    """
    rows = _rows(key_freqs, basis.shape[0])
    approx = readout_fourier[:, rows] @ basis[rows]
    return (approx.to(torch.float64).norm() / readout.to(torch.float64).norm()).item()


@metric
def fve(readout_spectra: Mapping[int, Float[Tensor, "p p 2"]], freq: int,
        term: Literal["sin", "cos"]) -> float:
    """Fraction of the variance (uncentered) of the activations read along the readout's ``sin k``
    or ``cos k`` direction that the matching trig identity explains. With ``S`` the 2D spectrum of
    ``post @ US[:, 2k-1]`` (sin) or ``post @ US[:, 2k]`` (cos):

    * sin: ``(S[2k-1, 2k]^2 + S[2k, 2k-1]^2) / sum(S^2)``  (sin(a)cos(b) + cos(a)sin(b))
    * cos: ``(S[2k, 2k]^2 + S[2k-1, 2k-1]^2) / sum(S^2)``  (cos(a)cos(b) - sin(a)sin(b))

    For even p the Nyquist frequency ``k = p/2`` has one readout direction, ``US[:, p-1]``
    (``cos(pi c)``), and one identity, ``cos(pi(a+b)) = cos(pi a) cos(pi b)``:

    * cos: ``S[p-1, p-1]^2 / sum(S^2)``;
    * sin: not defined (``sin(pi x) = 0`` at every token: no direction, nothing to explain), so
      the claim case is reported as not evaluated (SKIP), not as a failure.
    """
    p = readout_spectra[freq].shape[0]
    if 2 * freq == p:
        if term == "sin":

            raise NotDefined(f"fve's sin term at k={freq}: p={p} is even and its Nyquist frequency p/2 has a "
                             f"cosine row only (sin(pi x) = 0), so there is no sine direction to explain")
        energy = _energy(readout_spectra[freq][..., 1])
        return (energy[p - 1, p - 1] / energy.sum()).item()
    s, c = 2 * freq - 1, 2 * freq
    if term == "sin":
        spectrum, hits = readout_spectra[freq][..., 0], [(s, c), (c, s)]
    else:
        spectrum, hits = readout_spectra[freq][..., 1], [(c, c), (s, s)]
    energy = _energy(spectrum)
    return (sum(energy[i, j] for i, j in hits) / energy.sum()).item()


@metric
def fve_signed(readout_spectra: Mapping[int, Float[Tensor, "p p 2"]], freq: int,
               term: Literal["sin", "cos"], task: Literal["add", "sub"]) -> float:
    """:func:`fve` with the signs of the task's identity: the share of the same variance along the
    unit direction of ``sin/cos(w_k(a +- b))`` over the p x p grid (for ``sin(w_k(a+b))``,
    ``(F_sin (x) F_cos + F_cos (x) F_sin) / sqrt(2)``). With ``S`` as in :func:`fve`, ``+-`` the
    task's sign (``+`` add, ``-`` sub) and ``-+`` its opposite:

    * sin: ``(S[2k-1, 2k] +- S[2k, 2k-1])^2 / 2 / sum(S^2)``  (sin(a +- b) = sin a cos b +- cos a sin b)
    * cos: ``(S[2k, 2k] -+ S[2k-1, 2k-1])^2 / 2 / sum(S^2)``  (cos(a +- b) = cos a cos b -+ sin a sin b)

    Never above :func:`fve` (``(x +- y)^2 / 2 <= x^2 + y^2``). At an even p's Nyquist ``k = p/2``
    it is :func:`fve` (``cos(pi(a +- b)) = cos(pi a) cos(pi b)``: ``S[p-1, p-1]^2 / sum(S^2)``;
    sin not defined).

    >>> from interp.fourier import fft2d
    >>> a, b = torch.arange(5.0)[:, None], torch.arange(5.0)[None, :]
    >>> spectra = {1: fft2d(torch.stack([torch.sin(0.4 * math.pi * (a - b))] * 2, -1))}
    >>> round(fve_signed(spectra, 1, "sin", "sub"), 6), round(fve_signed(spectra, 1, "sin", "add"), 6)
    (1.0, 0.0)
    """
    if 2 * freq == readout_spectra[freq].shape[0]:
        return fve(readout_spectra, freq, term)
    s, c, sign = 2 * freq - 1, 2 * freq, 1 if task == "add" else -1
    S = readout_spectra[freq][..., 0 if term == "sin" else 1].to(torch.float64)
    along = S[s, c] + sign * S[c, s] if term == "sin" else S[c, c] - sign * S[s, s]
    return (along.pow(2) / 2 / S.pow(2).sum()).item()


def linear_share(terms: TermSpectrum) -> float:
    """Share of a 2D energy (summed over columns) in row 0 or column 0 (terms depending on a alone
    or b alone). ``terms`` holds just those terms and the total (:class:`TermSpectrum`)."""
    return (terms.linear_energy().sum() / terms.total.sum()).item()


@metric
def pre_relu_linear_fraction(pre_terms: TermSpectrum) -> float:
    """Share of the centered pre-ReLU activations' 2D Fourier energy (summed over neurons) in the
    linear terms: ``sum_{i=0 or j=0} E[i, j] / sum E`` with ``E = sum_n fft2d(pre - mean)^2``."""
    return linear_share(pre_terms)


def _key_row_share(spectrum: Float[Tensor, "p d"], key_freqs: list[int]) -> float:
    energy = _energy(spectrum).sum(-1)
    return (energy[_rows(key_freqs, spectrum.shape[0])].sum() / energy.sum()).item()


@metric
def wneur_key_share(wneur_fourier: Float[Tensor, "p d_mlp"], key_freqs: list[int]) -> float:
    """Share of ``||F @ W_neur||^2`` (``W_neur = W_E @ W_in``, the token-to-neuron map) in the key
    frequencies' sin and cos rows: ``sum_{r in rows(K)} ||row r||^2 / ||F @ W_neur||^2``. Only for
    a model with such a map (the MLP)."""
    return _key_row_share(wneur_fourier, key_freqs)


@metric
def embedding_key_share(embedding_fourier: Float[Tensor, "p d_model"], key_freqs: list[int]) -> float:
    """Share of ``||F @ W_E||^2`` (the number tokens' embedding) in the key frequencies' sin and
    cos rows: ``sum_{r in rows(K)} ||row r||^2 / ||F @ W_E||^2`` (Nanda et al. 2023, Fig. 2)."""
    return _key_row_share(embedding_fourier, key_freqs)


# -- beyond the seed: logits, neurons, the algorithm, causal evidence -----------------------------
def _quadratic_key_share(terms: TermSpectrum, key_freqs: list[int], of_quadratic: bool) -> float:
    total = terms.total.sum()
    total = total - terms.linear_energy().sum() if of_quadratic else total
    return (terms.product_energy(key_freqs).sum() / total).item()


@metric
def logits_linear_share(logit_terms: TermSpectrum) -> float:
    """Share of the centered logits' 2D Fourier energy (summed over classes) in the linear terms
    (row 0 or column 0): ``sum_{i=0 or j=0} E[i, j] / sum E``. The clock needs none of them."""
    return linear_share(logit_terms)


@metric
def logits_key_quadratic_share(logit_terms: TermSpectrum, key_freqs: list[int]) -> float:
    """Share of the centered logits' 2D Fourier energy in the key frequencies' products:
    ``sum_{k in K} sum_{i, j in {2k-1, 2k}} E[i, j] / sum E``."""
    return _quadratic_key_share(logit_terms, key_freqs, of_quadratic=False)


@metric
def post_relu_key_quadratic_share(post_terms: TermSpectrum, key_freqs: list[int]) -> float:
    """Share of the centered post-ReLU activations' non-linear 2D Fourier energy (summed over
    neurons) that sits in the key frequencies' products:
    ``sum_{k in K} sum_{i, j in {2k-1, 2k}} E[i, j] / sum_{i, j >= 1} E[i, j]``."""
    return _quadratic_key_share(post_terms, key_freqs, of_quadratic=True)


@metric
def neuron_concentration_quantile(neuron_freq_shares: Float[Tensor, "d_mlp k"], quantile: float) -> float:
    """The ``quantile`` of the neurons' best single-frequency share: with ``s_n = max_k share[n, k]``
    (share of neuron n's centered energy in frequency k's 9 terms, 4 at an even p's Nyquist),
    ``quantile_n(s_n, q)``."""
    return torch.quantile(neuron_freq_shares.max(-1).values, quantile).item()


@metric
def neuron_cluster_fraction(neuron_freq_shares: Float[Tensor, "d_mlp k"], cut: float = 0.85) -> float:
    """Fraction of neurons whose best frequency's 9 terms hold at least ``cut`` of their centered
    energy: ``mean_n [max_k share[n, k] >= cut]`` (Nanda et al. 2023 use 0.85)."""
    return (neuron_freq_shares.max(-1).values >= cut).double().mean().item()


@metric
def key_freq_fraction(key_freqs: list[int], p: int) -> float:
    """The share of the frequencies that come out key: ``|K| / (p // 2)``, with ``K`` the run's
    key frequencies (:mod:`interp.keyfreqs`: the largest ratio gap in the readout's spectrum, or
    those given) among the ``p // 2`` frequencies ``k = 1 .. p // 2``. Few, as the papers find
    (the notebook 13 of 56, Nanda et al. 5, Zhong et al. 3 or 4), is near 0; a spectrum is
    **spread** (issue 20) above 0.5, where a restricted loss or a norm ratio over the key
    frequencies keeps nearly everything and so passes whatever the model does. It reads the cut,
    not the spectrum: a spectrum with no gap at all (every frequency alike) comes out with one key
    frequency.

    >>> key_freq_fraction([1, 3, 17, 19, 21, 23, 28, 29, 33, 35, 37, 42, 44], 113)  # the notebook's 13
    0.23214285714285715
    >>> key_freq_fraction(list(range(1, 48)), 97)  # 47 of 48: a full-data MLP's
    0.9791666666666666
    """
    return len(key_freqs) / (p // 2)


@metric
def key_freq_agreement(readout_fourier: Float[Tensor, "d_mlp p"], token_map_fourier: Float[Tensor, "p d"],
                       post_terms: TermSpectrum, logit_terms: TermSpectrum) -> float:
    """Agreement of the key-frequency sets found independently (by :mod:`interp.keyfreqs`' largest
    ratio-gap rule) from the readout, the token lookup (``W_E @ W_in``; ``W_E`` for a
    transformer), the neurons' and the logits' 2D energies: ``|intersection| / |union|`` of the
    four sets (1.0 when they are identical). For the 2D energies a frequency's energy is that of
    its block ``{0, 2k-1, 2k}^2`` per non-constant term: 8 terms, 3 at an even p's Nyquist
    (``{0, p-1}^2``), as the rule counts the Nyquist's one row per row."""
    from interp.keyfreqs import frequency_rows, key_frequencies, largest_gap_cut

    sets = [set(key_frequencies(readout_fourier.T)), set(key_frequencies(token_map_fourier))]
    for terms in (post_terms, logit_terms):
        rows = frequency_rows(terms.a_terms.shape[0])
        per_freq = terms.block_energy().sum(-1) / (rows * (rows + 2))  # per non-constant term of {0, 2k-1, 2k}^2
        sets.append(set(largest_gap_cut(per_freq / per_freq.sum())))
    return len(set.intersection(*sets)) / len(set.union(*sets))


@metric
def distance_irrelevance(correct_logits: Float[Tensor, " pair"], task: Literal["add", "sub"]) -> float:
    """Zhong et al. 2023's distance irrelevance: with ``L[y, d]`` the correct-class logit at the
    answer ``y`` and the other combination ``d`` (``y = a+b``, ``d = a-b`` for ``add``; swapped for
    ``sub``), all mod p, ``mean_d std_y L[y, d] / std L`` (population standard deviations, so a
    logit that depends on ``y`` alone scores exactly 1). Near 1: the correct logit ignores ``d``
    (clock); near 0: it depends on it (pizza). NaN when the correct logit is constant.

    Over the cells that exist. For odd p, ``(a, b) -> (y, d)`` is one-to-one, every cell is one
    pair's logit and the formula is the one above. For even p, ``y`` and ``d`` have the same
    parity (they differ by ``2b``), so only the ``p^2 / 2`` cells with ``y = d (mod 2)`` exist, each
    hit by two pairs, ``(a, b)`` and ``(a + p/2, b + p/2)``; ``L[y, d]`` is their mean, column
    ``d``'s std is over its ``p/2`` cells ``y = d (mod 2)``, and ``std L`` is over all existing
    cells: ``mean_d std_{y : y = d mod 2} L[y, d] / std_{y = d mod 2} L[y, d]``. There ``y`` and
    ``d`` share their parity, so a logit's parity part (``(-1)^y = (-1)^d``, the Nyquist term) is
    constant down each column and counts as depending on ``d``: a logit of ``y`` alone scores
    exactly 1 when its values at even and at odd ``y`` have the same mean and spread (as
    ``cos(w_k y)`` does for ``4k != 0 mod p``), and ``(-1)^y`` scores 0.

    >>> a, b = torch.arange(5).repeat_interleave(5), torch.arange(5).repeat(5)
    >>> by_sum, by_distance = torch.cos((a + b) % 5 * 1.0), (a - b) % 5 * 1.0
    >>> round(distance_irrelevance(by_sum, "add"), 6), distance_irrelevance(by_distance, "add")
    (1.0, 0.0)
    """
    p = math.isqrt(len(correct_logits))
    a, b = torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)
    answer, other = ((a + b) % p, (a - b) % p) if task == "add" else ((a - b) % p, (a + b) % p)
    cell = answer * p + other
    count = torch.zeros(p * p, dtype=torch.float64).index_add_(0, cell, torch.ones(p * p, dtype=torch.float64))
    total = torch.zeros(p * p, dtype=torch.float64).index_add_(0, cell, correct_logits.to(torch.float64))
    exists = (count > 0).reshape(p, p)
    table = (total / count.clamp_min(1)).reshape(p, p)
    if exists.all():  # odd p: every cell is one pair's logit
        return (table.std(0, correction=0).mean() / table.std(correction=0)).item()
    per_column = exists.sum(0)
    column_mean = torch.where(exists, table, 0).sum(0) / per_column
    column_var = torch.where(exists, (table - column_mean).pow(2), 0).sum(0) / per_column
    return (column_var.sqrt().mean() / table[exists].std(correction=0)).item()


@metric
def distance_irrelevance_wrong_logit(largest_wrong_logits: Float[Tensor, " pair"],
                                     task: Literal["add", "sub"]) -> float:
    """:func:`distance_irrelevance` of the largest *wrong* logit per pair instead of the correct one:
    the number Zhong et al.'s training script logs and their published tables hold
    (``train-main.py``: the correct logit is set to ``-inf``, the top one read). Kept to place a
    model in their published distribution, like with like; the claim reads the correct logit, as
    their paper defines it.

    >>> a, b = torch.arange(5).repeat_interleave(5), torch.arange(5).repeat(5)
    >>> round(distance_irrelevance_wrong_logit(torch.cos((a + b) % 5 * 1.0), "add"), 6)
    1.0
    """
    return distance_irrelevance(largest_wrong_logits, task)


class _Triples(Sequence):
    """``itertools.product(range(p), repeat=3)`` as a sequence, without building its ``p**3``
    tuples (1.4 million at p = 113, a second to build): ``random.sample`` draws the same ones."""

    def __init__(self, p: int) -> None:
        self.p = p

    def __len__(self) -> int:
        return self.p ** 3

    def __getitem__(self, j: int) -> tuple[int, int, int]:
        if not 0 <= j < len(self):
            raise IndexError(j)
        return j // self.p ** 2, j // self.p % self.p, j % self.p


@cache
def zhong_triples(p: int, n: int = 100, seed: int = 42) -> Int[Tensor, "triple 3"]:
    """The ``(a, b, c)`` triples Zhong et al.'s gradient symmetricity averages over:
    ``random.Random(seed).sample(list(itertools.product(range(p), repeat=3)), n)`` (their
    ``Random(42)``, 100 triples, ``c`` any class), as a tensor.

    >>> zhong_triples(59)[:2].tolist()
    [[48, 9, 2], [8, 22, 38]]
    """
    import random

    return torch.tensor(random.Random(seed).sample(_Triples(p), min(n, p ** 3)))


@metric
def gradient_symmetricity(model: Model, n_triples: int = 100) -> float:
    """Zhong et al. 2023's gradient symmetricity, as their code computes it: for each triple
    ``(a, b, c)`` of :func:`zhong_triples` (``c`` any class, not only the answer), the cosine
    similarity between the gradients of logit ``c`` with respect to the two input vectors the model
    reads for ``a`` and for ``b`` (the looked-up embeddings, before any positional embedding),
    signed, and the plain mean over the triples:
    ``mean_(a,b,c) <g_a, g_b> / (|g_a| |g_b|)``, ``g_x = d logit_c(a, b) / d x_x``. A triple
    whose gradient is zero gives NaN there, as in their code, and the claim fails.

    Near 1 for a pizza, lower for a clock (their Model A 0.99, Model B 0.33); 1 by construction
    for a model that reads ``x_a + x_b`` (this project's MLP).
    """
    triples = zhong_triples(model.p, n_triples)
    x_a, x_b = (x.detach().clone().requires_grad_(True) for x in model.inputs(triples[:, :2]))
    with torch.enable_grad():
        logits = model.hooks(x_a, x_b)["logits"]
        logits.gather(-1, triples[:, 2:]).sum().backward()
    g_a, g_b = x_a.grad.double(), x_b.grad.double()
    cosine = (g_a * g_b).sum(-1) / g_a.norm(dim=-1) / g_b.norm(dim=-1)
    return cosine.mean().item()

