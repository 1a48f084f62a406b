"""The causal metrics: what the logits' key-frequency components do to the loss when they are kept
alone (restricted loss) or removed (excluded loss). Registered in :data:`interp.registry.METRICS`
like every metric (the function name is the ``metric`` in ``claims.yaml``), with the same rules:
parameters named like :class:`interp.run.Run` attributes are filled from the run, the others are
claim parameters; each docstring states the formula.

Two definitions, each with its own claims:

* **Nanda et al. 2023's**, as their code computes them (progress-measures repository:
  ``helpers.py`` ``get_component_cos_xpy``, ``get_component_sin_xpy``, ``test_logits``;
  ``transformers.py`` ``calculate_trig_loss``, ``calculate_excluded_loss``): the logits ``L``
  (``[p*p, p]``) are projected, column by column, onto the unit vectors ``u_k = cos(w_k y)/||.||``
  and ``v_k = sin(w_k y)/||.||`` over the ``p*p`` pairs, ``y`` the task's answer (``a + b``; ``a - b``
  for ``sub``): ``C_k = u_k (u_k^T L) + v_k (v_k^T L)``, one coefficient per class, ``2p`` numbers
  per key frequency (:attr:`interp.run.Run.trig_components`). Claims ``restricted-loss``,
  ``excluded-loss``, ``excluded-loss-at-most-uniform``.
* **the clock form**: the projection onto ``cos/sin(w_k(y - c))`` over pairs and classes, two
  numbers per key frequency and no constant (:attr:`interp.run.Run.clock_projection`), so the
  restricted logits are a function of ``y - c`` alone. It asks more of the logits than Nanda's:
  that each frequency's components are one rotation read out the same way for every class.
  Claims ``clock-restricted-loss``, ``clock-excluded-loss``, ``clock-excluded-loss-at-most-uniform``.

Both read tables ``[y, c]`` (the components depend on a pair only through its answer), so no
``[p*p, p]`` tensor is held: the restricted losses need no logits at all. The excluded losses need
the logits of the split itself, and read the ones the run's one forward pass kept
(:meth:`interp.views.logits.SplitLogits.chunks`), in chunks; no pair goes through the model twice.

Why keep the split's logits (``4 n p`` bytes, 1.2 GB for the 30% training split at p = 1009) rather
than accumulate the excluded loss during the pass, as the restricted losses' tables are: a pair's
loss is ``logsumexp_c(L[c] - T[y, c]) - (L[y] - T[y, y])``, and the table ``T`` (the key
frequencies' components) is a function of every pair's logits, known only when the pass ends.
The second term is a sum over pairs, so it would decompose into per-answer sums, but
``logsumexp`` of a difference does not: no fixed-size summary of a pair's logits gives
``logsumexp(L - t)`` for a ``t`` chosen later, except the logits themselves. Re-deriving them from
what the pass keeps (``hook_pre``) would be a second pass through the model's last layers (the
logits GEMM, most of the pass's time at p = 1009), and the transformer's logits read its residual
stream, which the pass does not keep. So the pass keeps them, exactly as the model computed them
(float32), and the memory estimate counts them (:func:`interp.memory.estimate_run_bytes`). A split
other than the kept one (a claims file asking ``split: test``) is a forward pass over its pairs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.registry import metric

Split = Literal["train", "test", "all"]


def _split_loss(logits: Float[Tensor, "n p"], answers: Int[Tensor, " n"]) -> float:
    """Mean cross-entropy of the answers, in float64."""
    return -logits.double().log_softmax(-1).gather(-1, answers[:, None]).mean().item()


def _table_loss(table: Float[Tensor, "y c"], labels: Int[Tensor, " pair"], idx: Int[Tensor, " n"]) -> float:
    """Mean cross-entropy over the pairs ``idx`` of logits that are a table of the answer: each
    pair's logits are ``table[y]`` (``y`` its answer), so its loss is ``-log_softmax(table[y])[y]``."""
    per_answer = -table.double().log_softmax(-1).diagonal()
    return per_answer[labels[idx]].mean().item()


def _ablated_loss(split_logits: Mapping[str, Float[Tensor, "n p"]], table: Float[Tensor, "y c"],
                  labels: Int[Tensor, " pair"], split: str) -> float:
    """Mean cross-entropy over the split of ``A = logits - table[y]`` (``y`` each pair's answer),
    chunk by chunk (the logits the one pass kept), each pair's loss in the logits' dtype and the sum
    in float64. With ``d_c = A_c - A_y`` and ``m = max(0, max_{c != y} d_c)``, a pair's loss is

        ``log sum_c exp(d_c) = m + log1p(expm1(-m) + sum_{c != y} exp(d_c - m))``,

    which keeps float32's *relative* precision when the loss is tiny (a memorised model's training
    pairs: 1.6e-5 nats a pair on the bundled epoch-800 MLP). ``-log_softmax`` in float32 subtracts
    two numbers near the logsumexp, so its error is absolute, about float32's spacing there (1e-6
    for logits near 10): 0.1% of that mean, and its third digit moved between machines. Where the
    answer leads (``m = 0``) the loss is ``log1p`` of the other classes' mass; where a class beats
    it, the loss is at least ``ln 2`` and the formula is the usual shifted logsumexp.

    >>> import torch, types
    >>> kept = types.SimpleNamespace(chunks=lambda split: [(torch.arange(2), torch.tensor([[20.0, 0.0], [0.0, 20.0]]))])
    >>> f"{_ablated_loss(kept, torch.zeros(2, 2), torch.tensor([0, 1]), 'all'):.6e}"  # log1p(e^-20)
    '2.061154e-09'
    """
    total, count, cast = 0.0, 0, {}
    for idx, logits in split_logits.chunks(split):  # [n, p] is 1.2 GB at p = 1009
        answers = labels[idx][:, None]
        if logits.dtype not in cast:  # float32 per pair (float64 took 3.8x as long), float64 sum
            cast[logits.dtype] = table.to(logits.dtype)
        d = torch.index_select(cast[logits.dtype], 0, answers[:, 0])
        torch.sub(logits, d, out=d)  # in place: one [n, p] buffer (20% faster)
        d.sub_(d.gather(-1, answers)).scatter_(-1, answers, -math.inf)  # d_c = A_c - A_y, the answer left out
        m = d.amax(-1, keepdim=True).clamp_(min=0)
        rest = d.sub_(m).exp_().sum(-1, keepdim=True)
        total += (m + torch.log1p(torch.expm1(-m) + rest)).double().sum().item()
        count += len(idx)
    return total / count


# -- Nanda et al. 2023's definitions ---------------------------------------------------------------
@metric
def restricted_loss(trig_components: Float[Tensor, "y c"], mean_logits: Float[Tensor, " c"],
                    labels: Int[Tensor, " pair"], splits: dict[str, Int[Tensor, " n"]], split: Split = "all") -> float:
    """Nanda et al. 2023's restricted loss (``calculate_trig_loss``): cross-entropy on the split
    (all pairs by default, their code's ``mode='all'``) of the logits kept only along the key
    frequencies, ``R = sum_k C_k`` with ``C_k = u_k (u_k^T L) + v_k (v_k^T L)``, ``u_k, v_k`` the
    unit ``cos(w_k y)``, ``sin(w_k y)`` over the ``p*p`` pairs (``y = a + b``; ``a - b`` for ``sub``),
    plus their bias correction, the mean over all pairs of what was removed, added to every pair:
    ``CE(R + mean_pairs(L - R), y)``. Each pair's logits are a row of the ``[y, c]`` table
    ``trig_components + mean_logits - mean_pairs(trig_components)`` (every ``y`` is ``p`` pairs, so
    the mean over pairs is the mean over ``y``).

    >>> import torch
    >>> table, mean = torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.zeros(2)
    >>> round(restricted_loss(table, mean, torch.tensor([0, 1, 1, 0]), {"all": torch.arange(4)}), 6)  # ln(1 + e^-2)
    0.126928
    """
    restricted = trig_components + (mean_logits - trig_components.mean(0))
    return _table_loss(restricted, labels, splits[split])


@metric
def excluded_loss_vs_uniform(split_logits: Mapping[str, Float[Tensor, "n p"]], trig_components: Float[Tensor, "y c"],
                             labels: Int[Tensor, " pair"], split: Split = "train") -> float:
    """Nanda et al. 2023's excluded loss (``calculate_excluded_loss``: ``test_logits`` with
    ``bias_correction=False``, ``mode='train'``) as a fraction of the uniform loss ``ln p``:
    cross-entropy on the split (the model's training pairs; every pair where its split is unknown,
    as ``splits['train']`` then is) of the logits with every key frequency's components removed,
    no correction: ``CE(L - sum_k C_k, y) / ln p`` (``C_k`` as in :func:`restricted_loss`). Their
    training loop logs one value per key frequency, that frequency alone removed; this removes
    them all at once (the components of different frequencies are orthogonal)."""
    return _ablated_loss(split_logits, trig_components, labels, split) / math.log(trig_components.shape[0])


# -- the clock form --------------------------------------------------------------------------------
@metric
def clock_restricted_loss(clock_projection: Float[Tensor, "y c"], labels: Int[Tensor, " pair"],
                          splits: dict[str, Int[Tensor, " n"]], split: Split = "test") -> float:
    """Cross-entropy on the split when the logits are replaced by their projection onto the key
    frequencies' ``cos/sin(w_k(y-c))`` directions over pairs and classes (``y`` the task's answer),
    two numbers per frequency: ``CE(P[y(a,b)], y)``. ``P`` depends on ``y - c`` alone, so every
    answer has the same loss and the split does not change it."""
    return _table_loss(clock_projection, labels, splits[split])


@metric
def clock_excluded_loss_vs_uniform(split_logits: Mapping[str, Float[Tensor, "n p"]],
                                   clock_projection: Float[Tensor, "y c"], labels: Int[Tensor, " pair"],
                                   split: Split = "train") -> float:
    """Cross-entropy on the split with the key frequencies' ``cos/sin(w_k(y-c))`` components
    removed from the logits (``y`` the task's answer), as a fraction of the uniform loss ``ln p``:
    ``CE(logits - P[y(a,b)], y) / ln p``."""
    return _ablated_loss(split_logits, clock_projection, labels, split) / math.log(clock_projection.shape[0])
