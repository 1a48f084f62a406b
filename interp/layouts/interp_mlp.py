"""This project's MLP (the seed notebook's layout): exactly ``W_E [p, d_model]``,
``W_in [d_model, d_mlp]``, ``W_U [d_mlp, p]``, no biases, ReLU; written by ``interp.train``.
Its split is the seed notebook's (SPEC: ``manual_seed(0)``, ``randperm``, 30% train).
"""

from __future__ import annotations

import torch  # noqa: F401  (the doctest)

from interp.arch.common import check_shapes, checked_tensors
from interp.arch.mlp import MLP, WEIGHT_NAMES
from interp.errors import CheckpointError
from interp.facts import DEFAULT, SHAPES, Facts

NAME = "interp-mlp"
CODE_BASE = "this project's MLP (the seed notebook's; interp.train)"
DESCRIPTION = "this project's MLP (exactly W_E, W_in, W_U)"


def recognises(state: dict, facts: Facts) -> bool:
    """Any of its three key names (the rest is checked strictly when read)."""
    keys = {str(k) for k in state}
    return bool(keys & set(WEIGHT_NAMES)) and not keys & {"W_x", "W_y", "W"}


def read(state: dict, where: str, facts: Facts) -> MLP:
    """Exactly ``W_E``, ``W_in``, ``W_U``, each a finite 2-D float tensor, with agreeing shapes.

    >>> read({"W_E": torch.zeros(5, 3)}, "x.pt", Facts())
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
    facts.offer("p", p, SHAPES, "W_E rows")
    facts.offer("split", "project", DEFAULT, "the seed notebook's split")
    return MLP(t["W_E"], t["W_in"], t["W_U"])
