"""Planted ground truth: weights that implement the clock algorithm exactly, built by hand.

For key frequencies ``K`` and ``n`` neurons per frequency, with phases ``phi_j = 2 pi j / n``:

* ``W_E[x] = [cos(w_k x), sin(w_k x) for k in K]`` (``d_model = 2 |K|``);
* neuron ``(k, j)`` reads ``cos(w_k a + phi_j) + cos(w_k b + phi_j)``;
* its ReLU output is written to the logits as ``cos(w_k c + 2 phi_j)``.

The neuron's input is ``2 cos(w_k(a-b)/2) cos(w_k(a+b)/2 + phi_j)``; its ReLU's second harmonic in
the phase holds ``cos(w_k(a+b) + 2 phi_j)``, and summing over evenly spaced phases against the
readout keeps that harmonic alone: the phase's constant, linear term and other harmonics cancel
(up to the aliased harmonics ``n +- 2, ...``). What does not cancel is the envelope: per frequency the logits
are proportional to ``|cos(w_k(a-b)/2)| cos(w_k(a+b-c))``, not the clock's ``cos(w_k(a+b-c))``. The
envelope's constant, ``2/pi``, is the clock term; its harmonics survive the readout:
``|cos(v/2)| = 2/pi + 4/(3 pi) cos v - ...``, so each readout's FVE is ``8/pi^2 = 0.81`` (19% lost;
``2 / (p sin(pi/2p))^2`` at finite p, tests/unit/test_planted_models.py), the second harmonic of
each input, ``cos(w_k(2a - c))`` and ``cos(w_k(2b - c))``, leaks into the logits' linear terms
(share ``16 / (9 pi^2) = 0.18`` as p grows), those harmonics put other frequencies in the logits, and the
correct logit depends on ``a - b`` (distance irrelevance near 0): docs/claims.md.
:data:`DEFECTS` names variants with one part broken, to show which claim catches each.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from interp.arch.mlp import MLP
from interp.arch.transformer import Transformer

DEFECTS = ("none", "readout_removed", "phases_collapsed", "embedding_noise")


def planted_clock(p: int, freqs: list[int], d_mlp: int, defect: str = "none", seed: int = 0) -> MLP:
    """Build a clock model; ``d_mlp`` is split evenly over the frequencies (at least 8 each).

    >>> w = planted_clock(p=13, freqs=[2, 5], d_mlp=32)
    >>> (w.p, w.d_model, w.d_mlp)
    (13, 4, 32)

    Parameters
    ----------
    p: the modulus.
    freqs: the key frequencies, distinct, in ``1 .. (p-1)//2``.
    d_mlp: number of neurons; a multiple of ``len(freqs)`` with at least 8 per frequency.
    defect: one of :data:`DEFECTS`: ``readout_removed`` zeroes the first frequency's W_U rows,
        ``phases_collapsed`` gives every neuron phase 0, ``embedding_noise`` adds dense noise of
        the embedding's own size to W_E.
    seed: seeds the noise of ``embedding_noise``.
    """
    n, rem = divmod(d_mlp, len(freqs))
    if rem or n < 8:
        raise ValueError(f"d_mlp={d_mlp} must be a multiple of len(freqs)={len(freqs)} with >= 8 neurons each")
    if defect not in DEFECTS:
        raise ValueError(f"unknown defect {defect!r}; known: {DEFECTS}")
    x = torch.arange(p, dtype=torch.float64)
    phases = torch.zeros(n, dtype=torch.float64) if defect == "phases_collapsed" else (
        2 * math.pi * torch.arange(n, dtype=torch.float64) / n)
    d_model = 2 * len(freqs)
    W_E = torch.zeros(p, d_model, dtype=torch.float64)
    W_in = torch.zeros(d_model, d_mlp, dtype=torch.float64)
    W_U = torch.zeros(d_mlp, p, dtype=torch.float64)
    for i, k in enumerate(freqs):
        w = 2 * math.pi * k / p
        W_E[:, 2 * i], W_E[:, 2 * i + 1] = torch.cos(w * x), torch.sin(w * x)
        cols = slice(i * n, (i + 1) * n)
        # cos(wx + phi) = cos(wx) cos(phi) - sin(wx) sin(phi)
        W_in[2 * i, cols], W_in[2 * i + 1, cols] = torch.cos(phases), -torch.sin(phases)
        W_U[cols] = torch.cos(w * x[None, :] + 2 * phases[:, None])
    if defect == "readout_removed":
        W_U[:n] = 0.0
    if defect == "embedding_noise":
        gen = torch.Generator().manual_seed(seed)
        W_E += torch.randn(p, d_model, generator=gen, dtype=torch.float64)
    return MLP(W_E.float(), W_in.float(), (W_U * 4.0).float())


def planted_transformer(p: int, freqs: list[int], d_mlp: int, defect: str = "none", seed: int = 0) -> Transformer:
    """The planted clock (:func:`planted_clock`) inside a 1-layer transformer with constant
    attention, so that the two models compute the same logits: Zhong et al.'s pizza-like
    transformer, whose output depends on ``W_E[a] + W_E[b]`` only.

    * ``W_Q = W_K = 0``: every position gets attention 1/3; one head, ``W_V W_O = 3 I`` on the
      embedding's ``2|K|`` dimensions, and ``W_E[=] = W_pos = 0``, so ``resid_mid = W_E[a] + W_E[b]``;
    * the MLP is the planted one; ``W_out`` writes the neurons' readout into ``p`` further
      dimensions, which ``W_U`` alone reads (``W_out W_U`` = the planted ``W_U``; the direct path
      from the embedding reads nothing).

    >>> t = planted_transformer(p=13, freqs=[2, 5], d_mlp=32)
    >>> from interp.data import all_pairs
    >>> from interp.model import forward
    >>> mlp, pairs = planted_clock(13, [2, 5], 32), all_pairs(13)
    >>> torch.allclose(forward(t, pairs)["logits"], forward(mlp, pairs)["logits"], atol=1e-5)
    True
    """
    mlp = planted_clock(p, freqs, d_mlp, defect, seed)
    k2 = mlp.d_model
    d_model = k2 + p
    eye = torch.eye(k2)
    W_E = torch.zeros(p + 1, d_model)
    W_E[:p, :k2] = mlp.W_E
    W_V = torch.zeros(1, d_model, k2)
    W_V[0, :k2] = eye
    W_O = torch.zeros(1, k2, d_model)
    W_O[0, :, :k2] = 3 * eye
    W_in = torch.zeros(d_model, d_mlp)
    W_in[:k2] = mlp.W_in
    W_out = torch.zeros(d_mlp, d_model)
    W_out[:, k2:] = mlp.W_U
    W_U = torch.zeros(d_model, p)
    W_U[k2:] = torch.eye(p)
    zeros = Transformer.random(p, d_model, 1, k2, d_mlp)
    return replace(zeros, W_E=W_E, W_pos=torch.zeros(3, d_model), W_Q=torch.zeros(1, d_model, k2),
                   W_K=torch.zeros(1, d_model, k2), W_V=W_V, W_O=W_O, W_in=W_in, W_out=W_out, W_U=W_U)
