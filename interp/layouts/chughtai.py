"""Chughtai et al.'s representation-theory code (``rep_theory/utils/models.py``, ``groups.py``):
each run's directory holds ``model.pt`` and ``cfg.json`` (``group``, ``group_parameter``, ``seed``,
``frac_train``).

* Transformers: TransformerLens ``HookedTransformer`` state dicts, with or without ``x_embed`` and
  ``y_embed`` aliasing ``embed.W_E`` (issue 15 found them in the saved files; the versions of
  ``rep_theory/utils/models.py`` read, 1e4a7d7 and df7d699, set neither: docs/formats.md). They
  are accepted only when equal to it, then dropped.
* ``OneLayerMLP``: ``W_x``, ``W_y [n, d_embed]``, ``W [2 d_embed, d_hidden]``, ``W_U [d_hidden, n]``:
  ``relu(hstack(W_x[a], W_y[b]) @ W) @ W_U``, no biases.

Only ``group: "CyclicGroup"`` is modular addition (``n = group_parameter``, prime or not, e.g.
118); the same code publishes dihedral, alternating and symmetric group models in these layouts,
refused by :func:`check_group`. Their split: ``torch.manual_seed(seed)``, ``randperm(n^2)`` (see
:mod:`interp.splits`).
"""

from __future__ import annotations

import torch

from interp.arch.common import check_shapes, checked_tensors
from interp.arch.mlp import MLP
from interp.arch.transformer import Transformer
from interp.errors import CheckpointError
from interp.facts import SHAPES, Facts
from interp.layouts import transformerlens as tl

NAME = "chughtai"
CODE_BASE = "Chughtai et al.'s representation-theory code (rep_theory/utils/models.py)"
DESCRIPTION = "Chughtai et al.'s model.pt (a HookedTransformer with x_embed/y_embed; OneLayerMLP W_x, W_y, W, W_U)"
ALIASES = ("x_embed", "y_embed")
MLP_KEYS = ("W_x", "W_y", "W", "W_U")


def recognises(state: dict, facts: Facts) -> bool:
    keys = {str(k) for k in state}
    return bool(keys & set(ALIASES)) or {"W_x", "W_y"} <= keys or facts.get("layout") == NAME


def check_group(facts: Facts, where: str) -> None:
    """Refuse a group other than the cyclic one, naming it."""
    group = facts.get("group")
    if group is not None and group != "CyclicGroup":
        raise CheckpointError(where, f"group {group!r} (cfg.json): only CyclicGroup, modular addition, is "
                              "supported until groups are")


def read(state: dict, where: str, facts: Facts) -> Transformer | MLP:
    check_group(facts, where)
    keys = {str(k) for k in state}
    if {"W_x", "W_y"} <= keys or not keys & {"embed.W_E"}:
        return read_mlp(state, where, facts)
    state = dict(state)
    base = state.get("embed.W_E")
    for alias in ALIASES:
        if alias in state:
            value = state.pop(alias)
            if not (isinstance(value, torch.Tensor) and isinstance(base, torch.Tensor)):
                raise CheckpointError(where, f"{alias} is a {type(value).__name__}; it should alias embed.W_E")
            if value.shape != base.shape:
                raise CheckpointError(where, f"{alias} differs from embed.W_E, which it should alias: shape "
                                      f"{list(value.shape)} against {list(base.shape)}")
            if not torch.equal(value, base):
                raise CheckpointError(where, f"{alias} differs from embed.W_E, which it should alias: same shape "
                                      f"{list(value.shape)}, other values")
    return tl.read(state, where, facts)


def read_mlp(state: dict, where: str, facts: Facts) -> MLP:
    """``OneLayerMLP``: ``relu(hstack(W_x[a], W_y[b]) @ W) @ W_U``."""
    t = checked_tensors(state, where, required={k: (k, 2) for k in MLP_KEYS},
                        understood="OneLayerMLP: exactly W_x, W_y, W, W_U")
    n, d_embed = t["W_x"].shape
    d_hidden = t["W"].shape[1]
    check_shapes(t, {"W_x": (n, d_embed), "W_y": (n, d_embed), "W": (2 * d_embed, d_hidden), "W_U": (d_hidden, n)},
                 where, reading={"n, d_embed": "W_x", "d_hidden": "W columns"})
    if n < 3:
        raise CheckpointError(where, f"n={n} is too small (need n >= 3)")
    facts.offer("p", n, SHAPES, "W_x rows")
    return MLP(W_E=t["W_x"], W_E_b=t["W_y"], W_in=t["W"][:d_embed], W_in_b=t["W"][d_embed:], W_U=t["W_U"])
