"""Nanda et al.'s grokking transformer (the progress-measures paper's ``transformers.py``, and
forks of it such as Grok-Grok), as its ``state_dict()`` stores it.

Keys as TransformerLens names them, shapes not: ``embed.W_E [d_model, d_vocab]`` (transposed),
``blocks.{i}.attn.W_{K,Q,V} [n_heads, d_head, d_model]``, ``blocks.{i}.attn.W_O
[d_model, n_heads * d_head]`` (heads flattened head-major, ``(i h)``), ``blocks.{i}.mlp.W_in
[d_mlp, d_model]``, ``W_out [d_model, d_mlp]``, ``unembed.W_U [d_model, d_vocab]``; a ``mask``
buffer; no attention biases. ``d_vocab = p + 1`` (``=`` last); the claims read the ``p`` answer
columns (training reads all ``p + 1``). Causal attention; ReLU, or GeLU where the config's
``act_type`` says so. The input form follows ``W_pos``'s rows unless a fact says otherwise:
Grok-Grok saves 3 rows but trains on ``[a, b]`` (``--input-form a,b``).
"""

from __future__ import annotations

import einops
from torch import Tensor

from interp.arch.common import checked_tensors
from interp.arch.transformer import Transformer
from interp.facts import DEFAULT, Facts
from interp.layouts import transformerlens as tl

NAME = "nanda"
CODE_BASE = "Nanda et al.'s grokking code (progress-measures transformers.py; forks such as Grok-Grok)"
DESCRIPTION = "Nanda et al.'s transformer (embed.W_E [d_model, d_vocab], blocks.0.attn.W_O [d_model, heads*d_head])"
RANKS = {"attn.W_Q": 3, "attn.W_K": 3, "attn.W_V": 3, "attn.W_O": 2, "mlp.W_in": 2, "mlp.W_out": 2,
         "attn.b_Q": 2, "attn.b_K": 2, "attn.b_V": 2, "attn.b_O": 1, "mlp.b_in": 1, "mlp.b_out": 1}
OPTIONAL = ("attn.b_Q", "attn.b_K", "attn.b_V", "attn.b_O", "mlp.b_in", "mlp.b_out")


def recognises(state: dict, facts: Facts) -> bool:
    """``embed.W_E`` with a rank-2 ``blocks.0.attn.W_O`` (TransformerLens's is rank 3)."""
    w_o = state.get("blocks.0.attn.W_O")
    return "embed.W_E" in state and getattr(w_o, "ndim", 0) == 2


def converted(state: dict, where: str) -> tuple[dict[str, Tensor], int]:
    """The tensors in TransformerLens's shapes and names, and the number of blocks."""
    tl.refuse_layer_norm(state, where)
    keys = {str(k) for k in state}
    layers = max(1, tl.n_blocks(keys))
    required = {**tl.EMBEDS, **{f"blocks.{i}.{k}": (k, r) for i in range(layers) for k, r in RANKS.items()
                                if k not in OPTIONAL}}
    optional = {"unembed.b_U": ("b_U", 1),
                **{f"blocks.{i}.{k}": (k, RANKS[k]) for i in range(layers) for k in OPTIONAL}}
    ignored = tuple(f"blocks.{i}.{b}" for i in range(layers) for b in tl.BUFFER_NAMES)
    t = checked_tensors(state, where, required=required, optional=optional, ignored=ignored, understood=DESCRIPTION)
    out = {"embed.W_E": t["embed.W_E"].T, "pos_embed.W_pos": t["pos_embed.W_pos"], "unembed.W_U": t["unembed.W_U"]}
    if "unembed.b_U" in t:
        out["unembed.b_U"] = t["unembed.b_U"]
    for i in range(layers):
        k = f"blocks.{i}."
        for name in ("attn.W_Q", "attn.W_K", "attn.W_V"):
            out[k + name] = t[k + name].transpose(1, 2)
        n_heads = t[k + "attn.W_Q"].shape[0]
        out[k + "attn.W_O"] = einops.rearrange(t[k + "attn.W_O"], "d (h e) -> h e d", h=n_heads)
        out[k + "mlp.W_in"], out[k + "mlp.W_out"] = t[k + "mlp.W_in"].T, t[k + "mlp.W_out"].T
        for name in OPTIONAL:
            if k + name in t:
                out[k + name] = t[k + name]
    return out, layers


def read(state: dict, where: str, facts: Facts) -> Transformer:
    """Convert to TransformerLens's shapes, then build as :func:`interp.layouts.transformerlens.build`."""
    facts.offer("causal", True, DEFAULT, "Nanda et al.'s causal mask")
    t, layers = converted(state, where)
    return tl.build(t, where, facts, layers, name_of=lambda i, key: f"blocks.{i}.{key}")
