"""One-hot MLPs of a feature-learning study (its ``EmbedMLP``): ``mlp.W_in [d_mlp, p]``,
``mlp.W_out [p, d_mlp]`` and a ``basis`` buffer (no weights of the model's; ignored):
``logits = W_out @ act(W_in @ (onehot(a) + onehot(b)))``.

The activation is named only in the run directory's name (``p_23_dmlp_512_ReLU_...``; others use
``Quad``, ``x**2``): :mod:`interp.sidecars` reads it from there; elsewhere it is ReLU by default
(``--act`` sets it). A run directory holds ``<epoch>.pth`` files, ``final.pth`` and the split as
``train_data.pth`` / ``test_data.pth`` (:mod:`interp.containers`).
"""

from __future__ import annotations

import torch

from interp.arch.common import activation_name, check_shapes, checked_tensors
from interp.arch.mlp import MLP
from interp.errors import CheckpointError
from interp.facts import DEFAULT, SHAPES, Facts

NAME = "onehot"
CODE_BASE = "a feature-learning study's one-hot EmbedMLP (run directories p_<p>_dmlp_<d>_<act>_...)"
DESCRIPTION = "one-hot EmbedMLP (mlp.W_in [d_mlp, p], mlp.W_out [p, d_mlp], basis)"


def recognises(state: dict, facts: Facts) -> bool:
    return "mlp.W_in" in state and "mlp.W_out" in state


def read(state: dict, where: str, facts: Facts) -> MLP:
    t = checked_tensors(state, where, required={"mlp.W_in": ("W_in", 2), "mlp.W_out": ("W_out", 2)},
                        ignored=("basis",), understood=DESCRIPTION)
    d_mlp, p = t["mlp.W_in"].shape
    check_shapes(t, {"mlp.W_in": (d_mlp, p), "mlp.W_out": (p, d_mlp)}, where, reading={"d_mlp, p": "mlp.W_in"})
    if p < 3:
        raise CheckpointError(where, f"p={p} is too small (need p >= 3)")
    facts.offer("p", p, SHAPES, "mlp.W_in columns")
    facts.offer("act", "relu", DEFAULT, "the activation is named only in the run directory's name")
    eye = torch.eye(p, dtype=t["mlp.W_in"].dtype)
    return MLP(W_E=eye, W_in=t["mlp.W_in"].T, W_U=t["mlp.W_out"].T, act=activation_name(facts.get("act"), where),
               one_hot=True)
