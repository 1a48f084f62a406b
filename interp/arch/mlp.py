"""The one-hidden-layer MLP of the seed notebook: three matrices, no biases.

For inputs ``(a, b)``::

    hook_pre  = (W_E[a] + W_E[b]) @ W_in
    hook_post = relu(hook_pre)
    logits    = hook_post @ W_U

``p``, ``d_model`` and ``d_mlp`` are read from the weight shapes; nothing here knows a modulus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.arch.common import ByConstruction, SharedShapes, check_shapes, checked_tensors
from interp.errors import CheckpointError

NAME = "mlp"
DESCRIPTION = "this project's MLP (exactly W_E, W_in, W_U)"
WEIGHT_NAMES = ("W_E", "W_in", "W_U")


def recognises(keys: set[str]) -> bool:
    """This project's MLP: any of its three key names."""
    return bool(keys & set(WEIGHT_NAMES))


@dataclass(frozen=True)
class MLP(SharedShapes):
    """The three weight matrices of the model.

    >>> w = MLP.random(p=7, d_model=4, d_mlp=5, seed=0)
    >>> (w.p, w.d_model, w.d_mlp)
    (7, 4, 5)
    >>> {k: tuple(v.shape) for k, v in w.hooks(*w.inputs(torch.tensor([[1, 2]]))).items()}
    {'hook_pre': (1, 5), 'hook_post': (1, 5), 'logits': (1, 7)}

    Parameters
    ----------
    W_E: ``[p, d_model]`` embedding, shared by both inputs.
    W_in: ``[d_model, d_mlp]`` hidden layer.
    W_U: ``[d_mlp, p]`` unembedding.
    """

    architecture: ClassVar[str] = NAME
    W_E: Float[Tensor, "p d_model"]
    W_in: Float[Tensor, "d_model d_mlp"]
    W_U: Float[Tensor, "d_mlp p"]

    @property
    def p(self) -> int:
        return self.W_E.shape[0]

    def dims(self) -> dict[str, int]:
        return {"p": self.p, "d_model": self.d_model, "d_mlp": self.d_mlp}

    # -- what the claims read ----------------------------------------------------------------------
    @property
    def readout(self) -> Float[Tensor, "d_mlp p"]:
        """``W_U``: what each neuron adds to each logit."""
        return self.W_U

    @property
    def embedding(self) -> Float[Tensor, "p d_model"]:
        """``W_E``: the number tokens' embedding."""
        return self.W_E

    @property
    def W_neur(self) -> Float[Tensor, "p d_mlp"]:
        """``W_E @ W_in``: the map from a token to its share of the pre-ReLU activations."""
        return self.W_E @ self.W_in

    @property
    def token_map(self) -> Float[Tensor, "p d_mlp"]:
        """Where the model looks a number up before the neurons mix it: ``W_neur``."""
        return self.W_neur

    by_construction: ClassVar[dict[str, ByConstruction]] = {
        "pre_relu_linear_fraction": ByConstruction(1.0, (
            "pre = W_E[a] @ W_in + W_E[b] @ W_in is a function of a plus a function of b for every "
            "checkpoint of the MLP, trained or not")),
        "gradient_symmetricity": ByConstruction(1.0, (
            "the MLP's output depends on W_E[a] + W_E[b] only, so both gradients are the gradient with "
            "respect to the sum: cosine similarity 1 for every checkpoint")),
    }

    undefined: ClassVar[dict[str, str]] = {}

    def inputs(self, pairs: Int[Tensor, "pair 2"]) -> tuple[Float[Tensor, "pair d"], Float[Tensor, "pair d"]]:
        """What the model reads for ``a`` and for ``b``: ``W_E[a]``, ``W_E[b]``."""
        return self.W_E[pairs[:, 0]], self.W_E[pairs[:, 1]]

    def hooks(self, x_a: Float[Tensor, "pair d_model"], x_b: Float[Tensor, "pair d_model"]
              ) -> dict[str, Float[Tensor, "pair _"]]:
        """``hook_pre``, ``hook_post`` and ``logits`` from the two inputs."""
        pre = (x_a + x_b) @ self.W_in
        post = torch.relu(pre)
        return {"hook_pre": pre, "hook_post": post, "logits": post @ self.W_U}

    # -- state dicts -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        return {name: getattr(self, name) for name in WEIGHT_NAMES}

    def tensors(self) -> dict[str, Tensor]:
        """The fields by name (for training)."""
        return self.state_dict()

    @classmethod
    def from_state_dict(cls, state: dict, where: str) -> MLP:
        """Exactly ``W_E``, ``W_in``, ``W_U``, each a finite 2-D float tensor, with agreeing shapes.

        >>> MLP.from_state_dict({"W_E": torch.zeros(5, 3)}, "x.pt")
        Traceback (most recent call last):
        interp.errors.CheckpointError: x.pt: missing key(s) W_U, W_in; expected exactly W_E, W_in, W_U
        """
        t = checked_tensors(state, where, {n: (n, 2) for n in WEIGHT_NAMES},
                            understood=f"exactly {', '.join(WEIGHT_NAMES)}")
        p, d_model, d_mlp = t["W_E"].shape[0], t["W_E"].shape[1], t["W_in"].shape[1]
        for dim, (n1, i1), (n2, i2) in (("p", ("W_E", 0), ("W_U", 1)), ("d_model", ("W_E", 1), ("W_in", 0)),
                                        ("d_mlp", ("W_in", 1), ("W_U", 0))):
            if t[n1].shape[i1] != t[n2].shape[i2]:
                raise CheckpointError(where, f"{n1} and {n2} disagree on {dim}: {n1}.shape={list(t[n1].shape)}, "
                                      f"{n2}.shape={list(t[n2].shape)}")
        if p < 3:
            raise CheckpointError(where, f"p={p} is too small (need p >= 3)")
        check_shapes(t, {"W_E": (p, d_model), "W_in": (d_model, d_mlp), "W_U": (d_mlp, p)}, where,
                     reading={"p, d_model": "W_E", "d_mlp": "W_in"})
        return cls(t["W_E"], t["W_in"], t["W_U"])

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> MLP:
        return MLP(*(getattr(self, n).to(device=device, dtype=dtype) for n in WEIGHT_NAMES))

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


MODEL = MLP
