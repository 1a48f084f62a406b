"""Zhong et al.'s Clock and Pizza code (``code/train-main.py``, ``code/train-linear.py``): each
``model_<runid>.pt`` beside its ``config_<runid>.json``.

Transformers (``train-main.py``): Nanda et al.'s layout (:mod:`interp.layouts.nanda`) with these
differences, all read from the sidecar: input ``[a, b]``, or ``[a, b, =]`` with ``eqn_sign`` (``=``
the vocabulary's last token); with ``diff_vocab`` the token of ``b`` is ``b + p`` (``W_E`` and
``W_U`` have ``2p`` columns, ``+1`` with ``eqn_sign``: their loss and argmax run over every column,
the claims read the ``p`` answer columns); no causal mask (stored, unused); attention
``c * softmax + (1 - c)`` with ``c = attn_coeff``; 1 to 4 layers; ``act_fn`` ReLU or GeLU.

MLPs (``train-linear.py``): ``embed.weight [C, d]`` (or ``embed1``/``embed2``), ``l1.*``, maybe
``l2.*``, ``unembed.weight [C, d]``. The forward depends on the config's ``model_type``, not on the
keys (types B and C share keys; C adds ``l1``'s bias twice), so a file with these keys and no
``model_type`` is refused. Task: ``(a + b) mod C``. Their split is an unseeded ``random_split``:
no file records it, so the split-reading claims read all pairs.
"""

from __future__ import annotations

from torch import Tensor

from interp.arch.common import checked_tensors
from interp.arch.mlp import MLP
from interp.arch.transformer import Transformer
from interp.errors import CheckpointError
from interp.facts import DEFAULT, SHAPES, Facts
from interp.layouts import nanda
from interp.layouts import transformerlens as tl

NAME = "zhong"
CODE_BASE = "Zhong et al.'s Clock and Pizza code (code/train-main.py, code/train-linear.py)"
DESCRIPTION = ("Zhong et al.'s model_<runid>.pt with config_<runid>.json (transformers; MLPs embed.weight, "
               "l1.weight, ...)")
MLP_KEYS = {"embed.weight", "embed1.weight", "embed2.weight", "l1.weight", "l1.bias", "l2.weight", "l2.bias",
            "unembed.weight"}
MODEL_TYPES = {"A": "relu(l1(E[a] + E[b]))", "B": "relu(l2(relu(l1(E[a] + E[b]))))",
               "C": "relu(l2(relu(l1(E[a]) + l1(E[b]))))", "D": "relu(l1(cat(E[a], E[b])))",
               "X": "relu(l1(E1[a] + E2[b]))"}


def is_mlp(keys: set[str]) -> bool:
    return "l1.weight" in keys and "unembed.weight" in keys


def recognises(state: dict, facts: Facts) -> bool:
    """Their MLP keys; or Nanda et al.'s layout with a Zhong sidecar (``attn_coeff``)."""
    keys = {str(k) for k in state}
    return is_mlp(keys) or (nanda.recognises(state, facts) and facts.get("layout") == NAME)


def read(state: dict, where: str, facts: Facts) -> Transformer | MLP:
    if is_mlp({str(k) for k in state}):
        return read_mlp(state, where, facts)
    facts.offer("causal", False, DEFAULT, "Zhong et al. apply no mask")
    t, layers = nanda.converted(state, where)
    return tl.build(t, where, facts, layers, name_of=lambda i, key: f"blocks.{i}.{key}")


def read_mlp(state: dict, where: str, facts: Facts) -> MLP:
    """One of ``train-linear.py``'s models, by the config's ``model_type``."""
    model_type = facts.get("model_type")
    if model_type is None:
        raise CheckpointError(where, "Zhong et al.'s MLP keys (embed.weight, l1.weight, unembed.weight) but no "
                              "model_type: their forward depends on it; put config_<runid>.json beside the file "
                              f"(model_type one of {', '.join(MODEL_TYPES)})")
    if model_type not in MODEL_TYPES:
        raise CheckpointError(where, f"model_type {model_type!r} is not one of train-linear.py's "
                              f"({', '.join(MODEL_TYPES)})")
    two = model_type == "X"
    embeds = {"embed1.weight": ("E1", 2), "embed2.weight": ("E2", 2)} if two else {"embed.weight": ("E", 2)}
    layer2 = {"l2.weight": ("W2", 2), "l2.bias": ("b2", 1)} if model_type in ("B", "C") else {}
    required = {**embeds, "l1.weight": ("W1", 2), "l1.bias": ("b1", 1), **layer2, "unembed.weight": ("U", 2)}
    t: dict[str, Tensor] = checked_tensors(state, where, required=required,
                                           understood=f"model_type {model_type}: {', '.join(required)}")
    U = t["unembed.weight"]
    facts.offer("p", U.shape[0], SHAPES, "unembed.weight rows")
    E = t["embed1.weight"] if two else t["embed.weight"]
    for key in embeds:
        _expect(t[key].shape[0] == U.shape[0] and t[key].shape == E.shape, where,
                f"{key} has shape {list(t[key].shape)}; unembed.weight has {U.shape[0]} rows")
    W1, b1 = t["l1.weight"], t["l1.bias"]
    if model_type == "D":
        half = E.shape[1]
        _expect(W1.shape[1] == 2 * half, where, f"l1.weight has {W1.shape[1]} columns; model_type D needs "
                f"2 x embed.weight's {half}")
        return MLP(W_E=E, W_in=W1[:, :half].T, W_in_b=W1[:, half:].T, b_in=b1, W_U=U.T)
    _expect(W1.shape[1] == E.shape[1], where, f"l1.weight has {W1.shape[1]} columns, the embedding {E.shape[1]}")
    hidden = ((t["l2.weight"].T, t["l2.bias"]),) if layer2 else ()
    b_in = 2 * b1 if model_type == "C" else b1  # C applies l1 to each input: its bias twice
    _expect(U.shape[1] == (hidden[0][0] if hidden else W1.T).shape[1], where, "unembed.weight's width differs "
            "from the last hidden layer's")
    return MLP(W_E=E, W_in=W1.T, b_in=b_in, W_E_b=t["embed2.weight"] if two else None, hidden=hidden, W_U=U.T)


def _expect(ok: bool, where: str, problem: str) -> None:
    if not ok:
        raise CheckpointError(where, problem)
