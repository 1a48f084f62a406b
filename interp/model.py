"""The one-hidden-layer MLP, its weights, and a forward pass that exposes its hooks.

For inputs ``(a, b)``::

    hook_embed = W_E[a] + W_E[b]
    hook_pre   = hook_embed @ W_in
    hook_post  = relu(hook_pre)
    logits     = hook_post @ W_U

``p``, ``d_model`` and ``d_mlp`` are read from the weight shapes; nothing here knows a modulus.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float, Int
from torch import Tensor

WEIGHT_NAMES = ("W_E", "W_in", "W_U")
HOOK_NAMES = ("hook_embed", "hook_pre", "hook_post", "logits")


@dataclass(frozen=True)
class Weights:
    """The three weight matrices of the model (no biases).

    >>> w = Weights.random(p=7, d_model=4, d_mlp=5, seed=0)
    >>> (w.p, w.d_model, w.d_mlp)
    (7, 4, 5)

    Parameters
    ----------
    W_E: ``[p, d_model]`` embedding, shared by both inputs.
    W_in: ``[d_model, d_mlp]`` hidden layer.
    W_U: ``[d_mlp, p]`` unembedding.
    """

    W_E: Float[Tensor, "p d_model"]
    W_in: Float[Tensor, "d_model d_mlp"]
    W_U: Float[Tensor, "d_mlp p"]

    @property
    def p(self) -> int:
        return self.W_E.shape[0]

    @property
    def d_model(self) -> int:
        return self.W_E.shape[1]

    @property
    def d_mlp(self) -> int:
        return self.W_in.shape[1]

    @property
    def W_neur(self) -> Float[Tensor, "p d_mlp"]:
        """``W_E @ W_in``: the map from a token to its share of the pre-ReLU activations."""
        return self.W_E @ self.W_in

    def state_dict(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in WEIGHT_NAMES}

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Weights:
        return Weights(*(getattr(self, n).to(device=device, dtype=dtype) for n in WEIGHT_NAMES))

    @classmethod
    def random(cls, p: int, d_model: int, d_mlp: int, seed: int = 0) -> Weights:
        """The training recipe's initialisation: ``manual_seed(seed)``, then ``W_E``, ``W_in``,
        ``W_U`` in that order, each ``randn / sqrt(fan_in)`` (``d_model`` for ``W_E`` and
        ``W_in``, ``d_mlp`` for ``W_U``, as in the original notebook)."""
        gen = torch.Generator().manual_seed(seed)
        return cls(
            torch.randn(p, d_model, generator=gen) / d_model**0.5,
            torch.randn(d_model, d_mlp, generator=gen) / d_model**0.5,
            torch.randn(d_mlp, p, generator=gen) / d_mlp**0.5,
        )


def forward(
    weights: Weights, pairs: Int[Tensor, "pair 2"]
) -> dict[str, Float[Tensor, "pair ..."]]:
    """Run the model on ``pairs`` and return every hook: ``hook_embed``, ``hook_pre``,
    ``hook_post`` and ``logits``.

    >>> w = Weights.random(p=5, d_model=3, d_mlp=4)
    >>> acts = forward(w, torch.tensor([[1, 2], [4, 4]]))
    >>> {k: tuple(v.shape) for k, v in acts.items()}
    {'hook_embed': (2, 3), 'hook_pre': (2, 4), 'hook_post': (2, 4), 'logits': (2, 5)}
    """
    embed = weights.W_E[pairs[:, 0]] + weights.W_E[pairs[:, 1]]
    pre = embed @ weights.W_in
    post = torch.relu(pre)
    return {"hook_embed": embed, "hook_pre": pre, "hook_post": post, "logits": post @ weights.W_U}


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
