"""The architectures a checkpoint may hold, and what is common to all of them.

Each architecture is one module in :mod:`interp.arch` (``mlp``, ``transformer``); this module
lists them, picks the one a state dict holds, and runs any of them over pairs. A third
architecture is one new module added to :data:`ARCHITECTURES`.

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
from interp.errors import CheckpointError

ARCHITECTURES = {module.NAME: module for module in (mlp, transformer)}
HOOK_NAMES = ("hook_pre", "hook_post", "logits")


class Model(Protocol):
    """What the claims read of a model (``interp.arch.mlp.MLP``, ``interp.arch.transformer.Transformer``)."""

    architecture: str
    by_construction: dict[str, ByConstruction]

    @property
    def p(self) -> int: ...
    @property
    def d_mlp(self) -> int: ...
    @property
    def readout(self) -> Float[Tensor, "d_mlp p"]: ...
    @property
    def embedding(self) -> Float[Tensor, "p d"]: ...
    @property
    def W_neur(self) -> Float[Tensor, "p d_mlp"] | None: ...
    @property
    def token_map(self) -> Float[Tensor, "p d"]: ...
    def dims(self) -> dict[str, int]: ...
    def inputs(self, pairs: Int[Tensor, "pair 2"]) -> tuple[Tensor, Tensor]: ...
    def hooks(self, x_a: Tensor, x_b: Tensor) -> dict[str, Tensor]: ...
    def state_dict(self) -> dict[str, Tensor]: ...
    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Model: ...


def understood() -> str:
    """The formats understood, for messages."""
    return "; or ".join(m.DESCRIPTION for m in ARCHITECTURES.values())


def model_from_state_dict(state: object, where: str) -> Model:
    """The model a loaded state dict holds, checked strictly by its architecture's module."""
    if not isinstance(state, dict):
        raise CheckpointError(where, f"not a state dict: holds a {type(state).__name__}, expected a dict of "
                              f"tensors: {understood()}")
    keys = {str(k) for k in state}
    for module in ARCHITECTURES.values():
        if module.recognises(keys):
            return module.MODEL.from_state_dict(state, where)
    shown = ", ".join(sorted(keys)[:6]) + (", ..." if len(keys) > 6 else "")
    raise CheckpointError(where, f"not a format this tool reads (keys {shown or 'none'}); understood: {understood()}")


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
