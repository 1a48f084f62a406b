"""The feature-learning study's ``EmbedMLP`` (Y-Agent/modular-addition-feature-learning,
``src/model_base.py`` and ``src/nnTrainer.py``), as its ``Trainer`` saves it.

Keys: ``mlp.W_in [d_mlp, d_model]``, ``mlp.W_out [d_vocab, d_mlp]`` and ``mlp.basis``, the
study's Fourier basis (a buffer its ``MLP`` registers; no part of the forward: it is checked for
its shape, ``[p, p]``, or ``[p + 2, p]`` for an even ``p``, and dropped). With
``embed_type='one_hot'`` (the default) ``d_model = d_vocab = p`` and there is no embedding weight;
with ``'learned'`` there is ``embed.W_E [d_model, d_vocab]``. ``hook_pre = W_in @ (x_a + x_b)``
(one-hot codes, or ``W_E``'s columns), ``logits = W_out @ act(hook_pre)``; no biases.

The activation (``ReLU``, ``GeLU`` = exact ``F.gelu``, ``Quad`` = ``x**2``; ``Id`` is refused) is
named only in the run directory's name (``p_23_dmlp_512_ReLU_random_scale_0.1_decay_2.0_08180102``):
:mod:`interp.sidecars` reads it from there; elsewhere it is ReLU by default (``--act`` sets it). A run directory holds
``<epoch>.pth`` (``model`` with ``epoch``, ``test_accuracy``, ``train_accuracy``, the losses and
norms), ``final.pth`` (``model`` with the curves, ``optimizer`` and ``scheduler``) and the split
as ``train_data.pth`` / ``test_data.pth`` (:mod:`interp.containers`, :mod:`interp.splits`). Its
quirk: ``<epoch>.pth`` holds the weights one optimizer step after the numbers stored beside them
(docs/formats.md).
"""

from __future__ import annotations

import torch

from interp.arch.common import activation_name, check_shapes, checked_tensors
from interp.arch.mlp import MLP
from interp.errors import CheckpointError
from interp.facts import DEFAULT, SHAPES, Facts

NAME = "onehot"
CODE_BASE = ("the feature-learning study's EmbedMLP (Y-Agent/modular-addition-feature-learning, src/model_base.py; "
             "run directories p_<p>_dmlp_<d>_<act>_...)")
DESCRIPTION = "the feature-learning study's EmbedMLP (mlp.W_in [d_mlp, p], mlp.W_out [p, d_mlp], mlp.basis [p, p])"
REQUIRED = {"mlp.W_in": ("W_in", 2), "mlp.W_out": ("W_out", 2), "mlp.basis": ("basis", 2)}
OPTIONAL = {"embed.W_E": ("W_E", 2)}


def recognises(state: dict, facts: Facts) -> bool:
    return "mlp.W_in" in state and "mlp.W_out" in state


def basis_shape(p: int) -> tuple[int, int]:
    """The shape of the study's ``get_fourier_basis(p)``: ``[p, p]``, or ``[p + 2, p]`` for an even
    ``p`` (its loop makes ``cos p/2`` and a zero ``sin p/2``, then appends ``cos p/2`` again).

    >>> basis_shape(23), basis_shape(8)
    ((23, 23), (10, 8))
    """
    return (p, p) if p % 2 else (p + 2, p)


def read(state: dict, where: str, facts: Facts) -> MLP:
    t = checked_tensors(state, where, required=REQUIRED, optional=OPTIONAL, understood=DESCRIPTION)
    d_mlp, d_model = t["mlp.W_in"].shape
    p = t["mlp.W_out"].shape[0]
    shapes = {"mlp.W_in": (d_mlp, d_model), "mlp.W_out": (p, d_mlp), "mlp.basis": basis_shape(p),
              "embed.W_E": (d_model, p)}
    if "embed.W_E" not in t:
        shapes["mlp.W_in"] = (d_mlp, p)  # one-hot inputs: d_model is d_vocab
    check_shapes(t, shapes, where, reading={"d_mlp, d_model": "mlp.W_in", "p": "mlp.W_out rows"})
    if p < 3:
        raise CheckpointError(where, f"p={p} is too small (need p >= 3)")
    facts.offer("p", p, SHAPES, "mlp.W_out rows")
    facts.offer("act", "relu", DEFAULT, "the activation is named only in the run directory's name")
    act = activation_name(facts.get("act"), where)
    if "embed.W_E" in t:
        return MLP(W_E=t["embed.W_E"].T, W_in=t["mlp.W_in"].T, W_U=t["mlp.W_out"].T, act=act)
    eye = torch.eye(p, dtype=t["mlp.W_in"].dtype)
    return MLP(W_E=eye, W_in=t["mlp.W_in"].T, W_U=t["mlp.W_out"].T, act=act, one_hot=True)
