"""One cached run of a checkpoint: the model is run once over all ``p*p`` pairs, and every
quantity derived from it is computed at most once, on first use.

Nothing here knows the architecture: the model (:mod:`interp.model`) gives the hooks at the
answer position for any pairs, its neurons' readout and its embedding. Treat a :class:`Run` as
read-only: metrics receive its tensors and must not modify them.

This module is the run's core: the model, the one forward pass and what it keeps, the labels and
splits. What is derived from them lives in :mod:`interp.views`, one module per group of the
metrics' inputs, each mixed into :class:`Run`; the memory bound and the streamed chunk size in
:mod:`interp.memory`.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp import memory, splits
from interp.checkpoint import Checkpoint
from interp.data import Task, all_pairs, labels
from interp.facts import DEFAULT
from interp.memory import block_rows
from interp.model import Model, forward
from interp.terms import TermAccumulator, TermSpectrum
from interp.views.logits import LogitViews
from interp.views.spectra import Spectra
from interp.views.weights import WeightViews

FORWARD_CALLS = {"count": 0}  # incremented by the one forward pass, so tests can prove the model runs once


@dataclass
class Run(WeightViews, LogitViews, Spectra):
    """A checkpoint, its task, its key frequencies and lazily computed activations and spectra.

    Memory stays near one ``[p*p, d_mlp]`` float32 tensor, ``hook_pre`` (2 GB at p = 1009); the
    post-ReLU activations and the logits exist one block of rows ``a`` at a time, and the claims
    read Fourier terms that cost ``O(p^2 (d_mlp + p))`` (:class:`interp.fourier.TermSpectrum`),
    not full spectra (docs/performance.md). The full maps (:attr:`post_spectra`,
    :attr:`pre_energy`, :attr:`post_energy`, :attr:`logit_energy`) stay available, computed on
    first use.

    >>> from interp.arch.mlp import MLP
    >>> from pathlib import Path
    >>> run = Run(Checkpoint(Path("toy.pt"), "0" * 64, MLP.random(7, 4, 8)))
    >>> tuple(run.hook_post.shape), tuple(run.logits.shape), run.architecture, run.task
    ((49, 8), (49, 7), 'mlp', 'add')
    """

    checkpoint: Checkpoint
    given_key_freqs: list[int] | None = None
    device: str = "cpu"
    task: Task | None = None  # None: the checkpoint's (its facts': an option, its files, else add)
    # each metric's value on this run, by (metric, parameters): computed once (interp.claims.verdicts.evaluate)
    metric_values: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.task is None:
            self.task = self.checkpoint.facts.get("task", "add")

    # -- the model -------------------------------------------------------------------------------
    @property
    def model(self) -> Model:
        return self.checkpoint.model

    @property
    def architecture(self) -> str:
        return self.model.architecture

    @cached_property
    def _m(self) -> Model:
        """The model on the compute device."""
        return self.model.to(self.device)

    @property
    def p(self) -> int:
        return self.model.p

    def _a_chunks(self) -> Iterator[tuple[int, slice]]:
        """Blocks of whole rows ``a`` (all ``b``): ``(a0, slice of their pairs)``."""
        p, step = self.p, block_rows(self.p, self.model.d_mlp)
        for a0 in range(0, p, step):
            yield a0, slice(a0 * p, min(p, a0 + step) * p)

    def forward(self, idx: Int[Tensor, " n"]) -> dict[str, Tensor]:
        """Every hook for the pairs ``idx`` (on the compute device)."""
        with torch.no_grad():
            return forward(self._m, all_pairs(self.p)[idx].to(self.device))

    @cached_property
    def _pass(self) -> dict:
        """The one forward pass, over blocks of rows ``a``: ``hook_pre`` is kept; per block, the
        Fourier terms of pre-ReLU, post-ReLU and logits (:class:`interp.fourier.TermSpectrum`),
        argmax, correct-class and largest wrong logit per pair, and the logits summed over the
        pairs of each answer ``y`` (float64). Post-ReLU activations and logits exist one block at a
        time, except the logits of the training pairs (:attr:`kept_pairs`), which are kept as the
        model computes them, for the excluded losses: nothing reads the logits of a pair twice
        through the model (``tests/integration/test_one_pass.py``)."""
        FORWARD_CALLS["count"] += 1
        p, d_mlp = self.p, self.model.d_mlp
        labels_ = self.labels.to(self.device)
        pre_all = None
        pre_acc = TermAccumulator(p, d_mlp, self.device, products=False)
        post_acc = TermAccumulator(p, d_mlp, self.device)
        # logits linear in some hooks (interp.model.Model): their terms come from those hooks', where
        # the hooks besides hook_post (projected anyway) are narrower than the logits (a transformer's
        # residual stream, d_model wide, at p > d_model)
        parts, offset = getattr(self._m, "logit_parts", None) or ({}, None)
        if sum(w.shape[0] for hook, w in parts.items() if hook != "hook_post") >= p:
            parts = {}
        part_accs = {hook: post_acc if hook == "hook_post" else TermAccumulator(p, w.shape[0], self.device)
                     for hook, w in parts.items()}
        logit_acc = None
        predictions = torch.empty(p * p, dtype=torch.long)
        correct = torch.empty(p * p, dtype=torch.float64)
        wrong = torch.empty(p * p, dtype=torch.float64)
        keep = torch.zeros(p * p, dtype=torch.bool)
        keep[self.splits["train"]] = True
        kept_pairs, kept, filled = keep.nonzero()[:, 0], None, 0
        pairs = all_pairs(p)
        with torch.no_grad(), memory.freed_blocks_reused():
            for a0, rows in self._a_chunks():
                hooks = forward(self._m, pairs[rows].to(self.device))
                pre, post, logits = hooks["hook_pre"], hooks["hook_post"], hooks["logits"].contiguous()
                if pre_all is None:
                    pre_all = torch.empty(p * p, d_mlp, dtype=pre.dtype, device=self.device)
                    kept = torch.empty(len(kept_pairs), p, dtype=logits.dtype)
                pre_all[rows] = pre
                if logit_acc is None:  # the first block: derive the logits' terms where it bears the parts out
                    parts = parts if _logits_are(logits, hooks, parts, offset) else {}
                    part_accs = {hook: acc for hook, acc in part_accs.items() if hook in parts}
                    logit_acc = TermAccumulator(p, p, self.device, sums=not parts)
                pre_acc.add(a0, pre.reshape(-1, p, d_mlp))
                post_acc.add(a0, post.reshape(-1, p, d_mlp))
                for hook, acc in part_accs.items():
                    if acc is not post_acc:
                        acc.add(a0, hooks[hook].reshape(-1, p, acc.rows.shape[1]))
                answers = labels_[rows, None]
                predictions[rows] = logits.max(-1).indices.cpu()  # the first maximum, as argmax; 4x faster here
                right = logits.gather(-1, answers)
                correct[rows] = right[:, 0].double().cpu()
                logits.scatter_(-1, answers, -math.inf)  # in place, then put back: no copy of the block
                wrong[rows] = logits.amax(-1).double().cpu()
                logits.scatter_(-1, answers, right)
                mine = keep[rows]
                count = int(mine.sum())
                torch.index_select(logits.cpu(), 0, mine.nonzero()[:, 0], out=kept[filled : filled + count])
                filled += count
                logit_acc.add(a0, logits.reshape(-1, p, p))
                del hooks, pre, post, logits  # free this block before the next one is made
        if parts:
            logit_acc.through([(part_accs[hook], w) for hook, w in parts.items()], offset)
        by_answer = {"add": logit_acc.by_sum, "sub": logit_acc.by_diff}[self.task]
        return {"hook_pre": pre_all, "predictions": predictions, "correct": correct, "largest_wrong": wrong,
                "by_answer": by_answer.cpu(), "post_mean": (post_acc.cols.sum(0) / (p * p)).to(pre_all.dtype),
                "pre_terms": _to_cpu(pre_acc.finish()), "post_terms": _to_cpu(post_acc.finish()),
                "logit_terms": _to_cpu(logit_acc.finish()), "kept_pairs": kept_pairs, "kept_logits": kept}

    @property
    def kept_pairs(self) -> Int[Tensor, " n"]:
        """The pairs whose logits the one pass keeps, in increasing order: the training split's
        (what the excluded losses read; :attr:`interp.views.logits.LogitViews.split_logits`)."""
        return self._pass["kept_pairs"]

    @property
    def hook_pre(self) -> Float[Tensor, "pair d_mlp"]:
        """The MLP's pre-ReLU activations (at the answer position) over all pairs, from the one
        forward pass."""
        return self._pass["hook_pre"]

    @property
    def hook_post(self) -> Float[Tensor, "pair d_mlp"]:
        """``act(hook_pre)``, the model's activation (ReLU for most; computed on each access;
        metrics use the streamed summaries)."""
        return self.model.activation(self.hook_pre)

    @property
    def pre_terms(self) -> TermSpectrum:
        """The linear terms and total of ``fft2d(pre - mean(pre))`` per neuron (no products)."""
        return self._pass["pre_terms"]

    @property
    def post_terms(self) -> TermSpectrum:
        """The linear terms, same-frequency products and total of ``fft2d(post - mean(post))``
        per neuron: what :attr:`post_energy` holds for the claims, in ``O(p^2 d_mlp)``."""
        return self._pass["post_terms"]

    @property
    def logit_terms(self) -> TermSpectrum:
        """The same terms of ``fft2d(logits - mean(logits))`` per class."""
        return self._pass["logit_terms"]

    # -- data ------------------------------------------------------------------------------------
    @cached_property
    def labels(self) -> Int[Tensor, " pair"]:
        """The task's answer per pair: ``(a + b) mod p`` or ``(a - b) mod p``."""
        return labels(all_pairs(self.p), self.p, self.task)

    @cached_property
    def splits(self) -> dict[str, Int[Tensor, " n"]]:
        """Pair indices of ``train``, ``test`` and ``all``: the model's own split, as its facts
        name it (:mod:`interp.splits`; every pair for both when no file says how it was made). A
        checkpoint built by hand, with no facts, is this project's: the seed notebook's split."""
        facts = self.checkpoint.facts
        if not facts.has("split"):
            facts = facts.copy()
            facts.offer("split", "project", DEFAULT, "a checkpoint built by hand: this project's")
        train, test = splits.resolve(facts, self.p, self.checkpoint.path.parent)
        return {"train": train, "test": test, "all": torch.arange(self.p * self.p)}

    @property
    def post_mean(self) -> Float[Tensor, " d_mlp"]:
        """Mean post-ReLU activation of each neuron over all pairs (on the compute device)."""
        return self._pass["post_mean"]


def _logits_are(logits: Float[Tensor, "n p"], hooks: dict[str, Tensor], parts: dict[str, Tensor],
                offset: Tensor | None) -> bool:
    """Whether ``logits = sum hooks[h] @ parts[h] + offset`` on the block's first 256 pairs, to
    float32 rounding (``1e-4`` of the logits' largest magnitude, in float64): a model's
    ``logit_parts`` checked on the pass's first block before the pass relies on it (False where
    a part names a hook the model does not give)."""
    if not parts or any(hook not in hooks for hook in parts):
        return False
    few = slice(0, 256)  # enough pairs to catch a wrong map; all of them would cost a float64 product
    with torch.no_grad():
        parts_sum = sum(hooks[h][few].double() @ w.double() for h, w in parts.items())
        rest = logits[few].double() - offset.double() - parts_sum
    return bool(rest.abs().max() <= 1e-4 * logits[few].abs().max().clamp_min(1e-30))


def _to_cpu(terms: TermSpectrum) -> TermSpectrum:
    return TermSpectrum(*(None if t is None else t.cpu() for t in
                          (terms.a_terms, terms.b_terms, terms.products, terms.total)))

