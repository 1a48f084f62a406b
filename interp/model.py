"""The two computations a checkpoint may hold, and what is common to both.

Each computation is one module in :mod:`interp.arch` (``mlp``, ``transformer``); each published
layout is one module in :mod:`interp.layouts` that maps its files onto one of them. This module
names the computations, reads a state dict through the layouts, and runs any model over pairs.

>>> from interp.arch.mlp import MLP
>>> model = model_from_state_dict(MLP.random(5, 3, 4).state_dict(), "x.pt")
>>> model.architecture, {k: tuple(v.shape) for k, v in forward(model, torch.tensor([[1, 2]])).items()}
('mlp', {'hook_pre': (1, 4), 'hook_post': (1, 4), 'logits': (1, 5)})
"""

from __future__ import annotations

from typing import Protocol

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.arch import mlp, transformer
from interp.arch.common import ByConstruction
from interp.facts import Facts
from interp.layouts import read_model, understood

ARCHITECTURES = {module.NAME: module for module in (mlp, transformer)}
HOOK_NAMES = ("hook_pre", "hook_post", "logits")
__all__ = ["ARCHITECTURES", "HOOK_NAMES", "Model", "cross_entropy", "forward", "model_from_state_dict", "understood"]


class Model(Protocol):
    """What the claims read of a model (:class:`interp.arch.mlp.MLP`, :class:`interp.arch.transformer.Transformer`,
    or a lab's own class through the ``pytest_interp_model`` hook).

    Optional: ``logit_parts``, ``({hook: W}, offset)`` such that ``logits = sum hooks[hook] @ W +
    offset`` for every pair. Where a model has it (and its first block of pairs bears it out), the
    one pass derives the logits' Fourier terms from those hooks' (:meth:`interp.terms.TermAccumulator.through`)
    instead of projecting ``[p^2, p]`` logits (``tests/unit/test_logit_parts.py``)."""

    architecture: str

    @property
    def by_construction(self) -> dict[str, ByConstruction]: ...
    @property
    def p(self) -> int: ...
    @property
    def d_mlp(self) -> int: ...
    @property
    def readout(self) -> Float[Tensor, "d_mlp p"]: ...
    @property
    def embedding(self) -> Float[Tensor, "p d"] | None: ...
    @property
    def W_neur(self) -> Float[Tensor, "p d_mlp"] | None: ...
    @property
    def token_map(self) -> Float[Tensor, "p d"]: ...
    def dims(self) -> dict[str, int]: ...
    def activation(self, pre: Tensor) -> Tensor: ...
    def inputs(self, pairs: Int[Tensor, "pair 2"]) -> tuple[Tensor, Tensor]: ...
    def hooks(self, x_a: Tensor, x_b: Tensor) -> dict[str, Tensor]: ...
    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Model: ...


def model_from_state_dict(state: object, where: str, facts: Facts | None = None) -> Model:
    """The model a loaded state dict holds, read strictly by its layout (:mod:`interp.layouts`)."""
    return read_model(state, where, facts if facts is not None else Facts())


def forward(model: Model, pairs: Int[Tensor, "pair 2"]) -> dict[str, Float[Tensor, "pair _"]]:
    """``hook_pre``, ``hook_post`` and ``logits`` (at the answer position) for ``pairs``."""
    return model.hooks(*model.inputs(pairs))


def cross_entropy(
    logits: Float[Tensor, "pair p"], labels: Int[Tensor, " pair"]
) -> Float[Tensor, ""]:
    """Mean cross-entropy of the correct class, in float64:
    ``-mean_i log_softmax(logits_i)[label_i]``.

    >>> float(cross_entropy(torch.zeros(2, 4), torch.tensor([0, 3])))  # uniform: ln 4
    1.3862943611198906
    """
    log_probs = logits.to(torch.float64).log_softmax(dim=-1)
    return -log_probs.gather(-1, labels[:, None]).mean()
