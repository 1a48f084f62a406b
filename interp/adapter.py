"""A lab's own model class, gated through the ``pytest_interp_model`` hook.

The plugin declares the hook; a ``conftest.py`` (or any plugin) implements it. It receives the
checkpoint's path, the loaded state dict (tensors and plain containers only) and the facts known
so far (:class:`interp.facts.Facts`: options such as ``--task``, and the files' facts), and returns
a model, or None to leave the file to the built-in layouts. :class:`Adapted` turns any module
that exposes the three hooks and its readout into such a model::

    # conftest.py
    import torch
    from interp.adapter import Adapted
    from mylab.models import MyNet

    def pytest_interp_model(path, state, options):
        if "trunk.weight" not in state:
            return None                                   # not ours: the built-in layouts try it
        net = MyNet(p=state["head.weight"].shape[0])
        net.load_state_dict(state)
        return Adapted(
            p=net.p,
            inputs=lambda pairs: (net.embed(pairs[:, 0]), net.embed(pairs[:, 1])),
            hooks=lambda x_a, x_b: net.hooks(x_a, x_b),   # {"hook_pre", "hook_post", "logits"}
            readout=net.head.weight.T,                    # [d_mlp, p]: what each neuron adds to each logit
            embedding=net.embed.weight,                   # [p, d], optional
        )

Claims that read what the model does not give (``W_neur``; the embedding, when not given) are
reported as not evaluated. ``architecture`` (default ``"adapted"``) decides which claims gate the
model: the calibration population has no models of a lab's own class, so only the claims gated
on every architecture (``test-accuracy``) gate it and the others are reported NOT-GATED
(docs/claims.md), unless the adapter says the class is one the population has, ``"mlp"`` (one
hidden layer reading ``f(a) + g(b)``) or ``"transformer"`` (one block).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from interp.arch.common import ACTIVATIONS, ByConstruction


@dataclass(frozen=True)
class Adapted:
    """A model from its two input embeddings, its hooks and its readout.

    >>> emb, w, u = torch.randn(5, 3), torch.randn(3, 8), torch.randn(8, 5)
    >>> m = Adapted(p=5, inputs=lambda pr: (emb[pr[:, 0]], emb[pr[:, 1]]),
    ...             hooks=lambda a, b: {"hook_pre": (a + b) @ w, "hook_post": torch.relu((a + b) @ w),
    ...                                 "logits": torch.relu((a + b) @ w) @ u}, readout=u)
    >>> m.d_mlp, tuple(m.hooks(*m.inputs(torch.tensor([[1, 2]])))["logits"].shape)
    (8, (1, 5))

    Parameters
    ----------
    p: the modulus.
    inputs: ``pairs [n, 2] -> (x_a, x_b)``, the float tensors the model reads for ``a`` and ``b``
    (gradient symmetricity differentiates through them).
    hooks: ``(x_a, x_b) -> {"hook_pre", "hook_post", "logits"}``: the neurons the claims read,
    before and after the activation, and the ``p`` answer logits.
    readout: ``[d_mlp, p]``; embedding: ``[p, d]`` or None; act: the activation's name.
    architecture: the ``gated_on`` name the claims gate it as (see above).
    logit_parts: optional ``({hook: W}, offset)`` where ``logits = sum hooks[hook] @ W + offset``
    for every pair (e.g. ``({"hook_post": net.head.weight.T}, net.head.bias)``): the one pass then
    derives the logits' Fourier terms from those hooks', a saving at large p; it checks the identity
    on its first block and projects the logits themselves where it does not hold.
    """

    p: int
    inputs: Callable[[Tensor], tuple[Tensor, Tensor]]
    hooks: Callable[[Tensor, Tensor], dict[str, Tensor]]
    readout: Tensor
    embedding: Tensor | None = None
    act: str = "relu"
    architecture: str = "adapted"
    by_construction: dict[str, ByConstruction] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    logit_parts: tuple[dict[str, Tensor], Tensor] | None = None

    @property
    def d_mlp(self) -> int:
        return self.readout.shape[0]

    @property
    def W_neur(self) -> None:
        return None

    @property
    def token_map(self) -> Tensor | None:
        return self.embedding

    @property
    def undefined(self) -> dict[str, str]:
        out = {"W_neur": "an adapted model gives no token-to-neuron matrix"}
        if self.embedding is None:
            out["embedding"] = "the adapter gives no embedding"
        return out

    def dims(self) -> dict[str, int]:
        return {"p": self.p, "d_model": 0 if self.embedding is None else self.embedding.shape[1], "d_mlp": self.d_mlp}

    def activation(self, pre: Tensor) -> Tensor:
        return ACTIVATIONS[self.act](pre)

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Adapted:
        """The same model: an adapter runs where its module lives (``--device`` moves nothing)."""
        return self
