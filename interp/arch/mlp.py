"""The MLP computation: the neurons' pre-activations are a function of ``a`` plus a function of
``b`` plus a bias; the claims read the last hidden layer. Every MLP layout maps onto it
(:mod:`interp.layouts`: this project's, Zhong et al.'s, Chughtai et al.'s, the one-hot study's).

For inputs ``(a, b)``, with ``x_a = W_E[a]`` and ``x_b = W_E_b[b]`` (``W_E_b`` defaults to ``W_E``,
the shared embedding; an identity for one-hot inputs)::

    h_1       = act(x_a @ W_in + x_b @ W_in_b + b_in)      (W_in_b defaults to W_in)
    h_{i+1}   = act(h_i @ W_i + b_i)                        (the ``hidden`` layers, if any)
    hook_pre  = the last layer's pre-activation,  hook_post = act(hook_pre)
    logits    = hook_post @ W_U + b_U

The seed notebook's MLP is the simplest case: a shared embedding, no biases, one hidden layer,
ReLU. ``p``, ``d_model`` and ``d_mlp`` are read from the weight shapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.arch.common import ACTIVATIONS, ByConstruction

NAME = "mlp"
WEIGHT_NAMES = ("W_E", "W_in", "W_U")  # this project's layout (interp.layouts.interp_mlp)


@dataclass(frozen=True)
class MLP:
    """An MLP's weights and how it is run.

    >>> w = MLP.random(p=7, d_model=4, d_mlp=5, seed=0)
    >>> (w.p, w.d_model, w.d_mlp)
    (7, 4, 5)
    >>> {k: tuple(v.shape) for k, v in w.hooks(*w.inputs(torch.tensor([[1, 2]]))).items()}
    {'hook_pre': (1, 5), 'hook_post': (1, 5), 'logits': (1, 7)}

    Parameters
    ----------
    W_E: ``[p, d_model]`` embedding of ``a`` (and of ``b`` unless ``W_E_b`` is given).
    W_in: ``[d_model, d_1]`` first layer, applied to ``a``'s embedding (and ``b``'s unless ``W_in_b``).
    W_U: ``[d_mlp, p]`` unembedding (``d_mlp``: the last hidden layer's width).
    W_E_b, W_in_b: ``b``'s own embedding and first-layer weights, where the model has them.
    b_in: ``[d_1]`` first-layer bias; hidden: further layers ``(W [d_i, d_{i+1}], b [d_{i+1}])``;
    b_U: ``[p]``; act: the activation (:data:`interp.arch.common.ACTIVATIONS`);
    one_hot: the embedding is the identity (no learned embedding).
    """

    architecture: ClassVar[str] = NAME
    W_E: Float[Tensor, "p d_model"]
    W_in: Float[Tensor, "d_model d_1"]
    W_U: Float[Tensor, "d_mlp p"]
    W_E_b: Float[Tensor, "p d_model"] | None = None
    W_in_b: Float[Tensor, "d_model d_1"] | None = None
    b_in: Float[Tensor, " d_1"] | None = None
    hidden: tuple[tuple[Tensor, Tensor | None], ...] = field(default=())
    b_U: Float[Tensor, " p"] | None = None
    act: str = "relu"
    one_hot: bool = False

    @property
    def p(self) -> int:
        return self.W_E.shape[0]

    @property
    def d_model(self) -> int:
        return self.W_E.shape[1]

    @property
    def d_mlp(self) -> int:
        """The width of the last hidden layer (the one the claims read)."""
        return self.W_U.shape[0]

    @property
    def n_layers(self) -> int:
        return 1 + len(self.hidden)

    @property
    def shared(self) -> bool:
        """Both inputs go through the same embedding and first-layer weights."""
        return self.W_E_b is None and self.W_in_b is None

    def dims(self) -> dict[str, int]:
        return {"p": self.p, "d_model": self.d_model, "d_mlp": self.d_mlp}

    def activation(self, pre: Tensor) -> Tensor:
        return ACTIVATIONS[self.act](pre)

    # -- what the claims read ----------------------------------------------------------------------
    @property
    def readout(self) -> Float[Tensor, "d_mlp p"]:
        """``W_U``: what each neuron of the last layer adds to each logit."""
        return self.W_U

    @property
    def logit_parts(self) -> tuple[dict[str, Float[Tensor, "d p"]], Float[Tensor, " p"]]:
        """``logits = hook_post @ W_U + b_U``: the hooks the logits are linear in, with their maps,
        and the offset (the one pass derives the logits' Fourier terms from them: :mod:`interp.terms`)."""
        return {"hook_post": self.W_U}, torch.zeros_like(self.W_U[0]) if self.b_U is None else self.b_U

    @property
    def embedding(self) -> Float[Tensor, "p d"] | None:
        """The number tokens' embedding (``a``'s, beside it ``b``'s when they differ); None for
        one-hot inputs, which have none."""
        if self.one_hot:
            return None
        return self.W_E if self.W_E_b is None else torch.cat([self.W_E, self.W_E_b], dim=1)

    @property
    def W_neur(self) -> Float[Tensor, "p d_mlp"] | None:
        """``W_E @ W_in``: the map from a token to its share of the pre-activations (``a``'s, beside
        it ``b``'s when they differ); None when the claims read a later layer than the one it feeds."""
        if self.hidden:
            return None
        w_a = self.W_E @ self.W_in
        if self.shared:
            return w_a
        W_E_b = self.W_E if self.W_E_b is None else self.W_E_b
        W_in_b = self.W_in if self.W_in_b is None else self.W_in_b
        return torch.cat([w_a, W_E_b @ W_in_b], dim=1)

    @property
    def token_map(self) -> Float[Tensor, "p d"]:
        """Where the model looks a number up before the neurons mix it: ``W_neur`` (a deeper
        model's first layer, ``W_E @ W_in``, all the same)."""
        w_neur = self.W_neur
        return w_neur if w_neur is not None else self.W_E @ self.W_in

    @property
    def by_construction(self) -> dict[str, ByConstruction]:
        """Metrics the architecture fixes (one hidden layer: linear pre-activations; shared
        weights: gradient symmetricity 1)."""
        out = {}
        if not self.hidden:
            out["pre_relu_linear_fraction"] = ByConstruction(1.0, (
                "pre = f(a) + g(b) + b_in (here W_E[a] @ W_in + W_E[b] @ W_in for the shared MLP) is a function "
                "of a plus a function of b for every checkpoint of the MLP, trained or not"))
        if self.shared:
            out["gradient_symmetricity"] = ByConstruction(1.0, (
                "the MLP's output depends on W_E[a] + W_E[b] only, so both gradients are the gradient with "
                "respect to the sum: cosine similarity 1 for every checkpoint"))
        return out

    @property
    def undefined(self) -> dict[str, str]:
        out = {}
        if self.hidden:
            out["W_neur"] = "the claims read the last hidden layer; W_E @ W_in feeds the first"
        if self.one_hot:
            out["embedding"] = "one-hot inputs: no learned embedding"
        return out

    def inputs(self, pairs: Int[Tensor, "pair 2"]) -> tuple[Float[Tensor, "pair d"], Float[Tensor, "pair d"]]:
        """What the model reads for ``a`` and for ``b``: ``W_E[a]``, ``W_E_b[b]``."""
        return self.W_E[pairs[:, 0]], (self.W_E if self.W_E_b is None else self.W_E_b)[pairs[:, 1]]

    def hooks(self, x_a: Float[Tensor, "pair d_model"], x_b: Float[Tensor, "pair d_model"]
              ) -> dict[str, Float[Tensor, "pair _"]]:
        """``hook_pre``, ``hook_post`` (the last hidden layer's) and ``logits`` from the two inputs."""
        pre = (x_a + x_b) @ self.W_in if self.W_in_b is None else x_a @ self.W_in + x_b @ self.W_in_b
        if self.b_in is not None:
            pre = pre + self.b_in
        for weight, bias in self.hidden:
            pre = self.activation(pre) @ weight + (0 if bias is None else bias)
        post = self.activation(pre)
        logits = post @ self.W_U
        return {"hook_pre": pre, "hook_post": post, "logits": logits if self.b_U is None else logits + self.b_U}

    # -- state dicts, devices, training ------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """This project's layout (``W_E``, ``W_in``, ``W_U``), for the seed's architecture only."""
        return {name: getattr(self, name) for name in WEIGHT_NAMES}

    def tensors(self) -> dict[str, Tensor]:
        """The fields by name (for training)."""
        return self.state_dict()

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> MLP:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device=device, dtype=dtype)

        return replace(self, W_E=move(self.W_E), W_in=move(self.W_in), W_U=move(self.W_U), W_E_b=move(self.W_E_b),
                       W_in_b=move(self.W_in_b), b_in=move(self.b_in), b_U=move(self.b_U),
                       hidden=tuple((move(w), move(b)) for w, b in self.hidden))

    @classmethod
    def random(cls, p: int, d_model: int, d_mlp: int, seed: int = 0) -> MLP:
        """The training recipe's initialisation: ``manual_seed(seed)``, then ``W_E``, ``W_in``,
        ``W_U`` in that order, each ``randn / sqrt(fan_in)`` (``d_model`` for ``W_E`` and
        ``W_in``, ``d_mlp`` for ``W_U``, as in the original notebook)."""
        gen = torch.Generator().manual_seed(seed)
        return cls(
            torch.randn(p, d_model, generator=gen) / d_model**0.5,
            torch.randn(d_model, d_mlp, generator=gen) / d_model**0.5,
            torch.randn(d_mlp, p, generator=gen) / d_mlp**0.5,
        )
