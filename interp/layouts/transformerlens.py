"""TransformerLens ``HookedTransformer`` state dicts (``torch.save(model.state_dict(), path)``),
as Nanda et al.'s published models are used with TransformerLens and as ``interp.train`` saves its
transformers.

Quirks: biases may be absent (read as zeros); the ``mask`` and ``IGNORE`` buffers carry no weights
and are ignored; LayerNorm weights are refused (only ``normalization_type=None`` is computed);
``W_U`` may have more columns than the modulus (``=`` among them): the claims read the first
``p`` (the answers), ``p`` taken from the facts, else ``W_U``'s columns (``W_E`` rows minus one
when the vocabulary has ``=``). Any number of blocks (``blocks.{i}.``); causal attention, input
``[a, b, =]`` (``W_pos`` has 3 rows) or ``[a, b]`` (2 rows).
"""

from __future__ import annotations

import torch
from torch import Tensor

from interp.arch.common import activation_name, check_shapes, checked_tensors
from interp.arch.transformer import (
    ATTN,
    BLOCK_BIASES,
    BLOCK_FIELDS,
    BUFFER_NAMES,
    EMBEDS,
    LAYER_NORMS,
    MLP_W,
    Block,
    Transformer,
    block_keys,
    shapes,
)
from interp.errors import CheckpointError
from interp.facts import SHAPES, Facts

NAME = "transformerlens"
CODE_BASE = "TransformerLens HookedTransformer state dict (Nanda et al.'s model; interp.train --arch transformer)"
DESCRIPTION = "TransformerLens HookedTransformer (embed.W_E, pos_embed.W_pos, blocks.0.attn.W_Q, ...)"


def n_blocks(keys: set[str]) -> int:
    """The number of ``blocks.{i}.`` prefixes (blocks 0 .. n-1)."""
    found = {int(k.split(".")[1]) for k in keys if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    return max(found) + 1 if found else 0


def recognises(state: dict, facts: Facts) -> bool:
    """TransformerLens names: ``embed.W_E`` (the ranks are checked when read)."""
    return "embed.W_E" in state


def refuse_layer_norm(state: dict, where: str) -> None:
    layer_norm = sorted(k for k in map(str, state) if any(f".{ln}." in f".{k}" for ln in LAYER_NORMS))
    if layer_norm:
        raise CheckpointError(where, f"has LayerNorm weights ({', '.join(layer_norm[:3])}): only "
                              "normalization_type=None transformers are supported (Nanda et al.'s model)")


def answer_count(facts: Facts, vocab: int, unembed_cols: int, n_pos: int, where: str, key: str) -> int:
    """``p``: the facts' value, else the unembedding's columns, less the ``=`` column when the
    vocabulary has one (3 positions and as many columns as tokens). Records it."""
    p = facts.get("p")
    if p is None:
        with_eq = unembed_cols == vocab and n_pos == 3
        p = unembed_cols - 1 if with_eq else unembed_cols
        facts.offer("p", p, SHAPES, f"{key} columns" + (" less '='" if with_eq else ""))
    if not 3 <= p <= unembed_cols:
        raise CheckpointError(where, f"p={p} does not fit {key} with {unembed_cols} columns (need 3 <= p <= columns)")
    return p


def read(state: dict, where: str, facts: Facts) -> Transformer:
    """Check a TransformerLens state dict strictly and build the transformer."""
    refuse_layer_norm(state, where)
    keys = {str(k) for k in state}
    layers = max(1, n_blocks(keys))
    required = dict(EMBEDS)
    optional = {"unembed.b_U": ("b_U", 1)}
    for i in range(layers):
        required |= block_keys(i, ATTN) | block_keys(i, MLP_W)
        optional |= block_keys(i, BLOCK_BIASES)
    ignored = tuple(f"blocks.{i}.{b}" for i in range(layers) for b in BUFFER_NAMES)
    t = checked_tensors(state, where, required=required, optional=optional, ignored=ignored, understood=DESCRIPTION)
    return build(t, where, facts, layers, name_of=lambda i, key: f"blocks.{i}.{key}")


def build(t: dict[str, Tensor], where: str, facts: Facts, layers: int, name_of) -> Transformer:
    """The transformer from TransformerLens-shaped tensors keyed as TransformerLens names them
    (``name_of(i, "attn.W_Q")`` gives block ``i``'s key; readers of other layouts convert first)."""
    W_E, W_U, W_pos = t["embed.W_E"], t["unembed.W_U"], t["pos_embed.W_pos"]
    if W_pos.shape[0] not in (2, 3):
        raise CheckpointError(where, f"pos_embed.W_pos has {W_pos.shape[0]} rows: the input is [a, b] (2) or "
                              "[a, b, =] (3)")
    facts.offer("input_form", "a,b,=" if W_pos.shape[0] == 3 else "a,b", SHAPES, "pos_embed.W_pos rows")
    n_ctx = 3 if facts.get("input_form") == "a,b,=" else 2
    if n_ctx > W_pos.shape[0]:
        raise CheckpointError(where, f"input form [a, b, =] needs 3 rows of pos_embed.W_pos, it has {W_pos.shape[0]}")
    b_offset = int(facts.get("b_offset", 0))
    p = answer_count(facts, W_E.shape[0], W_U.shape[1], W_pos.shape[0], where, "unembed.W_U")
    d_model, n_heads, d_head = W_E.shape[1], t[name_of(0, "attn.W_Q")].shape[0], t[name_of(0, "attn.W_Q")].shape[2]
    d_mlp = t[name_of(layers - 1, "mlp.W_in")].shape[1]
    vocab = W_E.shape[0]
    need = max(p, b_offset + p) + (1 if n_ctx == 3 else 0)
    if vocab < need:
        raise CheckpointError(where, f"embed.W_E has {vocab} rows; p={p} with this input form needs {need}")
    shape = shapes(p, d_model, n_heads, d_head, d_mlp, vocab=vocab, n_ctx=W_pos.shape[0])
    shape["W_U"] = (d_model, W_U.shape[1])
    dtype = W_E.dtype
    blocks = []
    for i in range(layers):
        named = {}
        for table in (ATTN, MLP_W, BLOCK_BIASES):
            for key, (field_name, _) in table.items():
                named[field_name] = t.get(name_of(i, key))
        if i < layers - 1:  # a lower block's MLP may have another width
            shape_i = {**shape, "W_in": (d_model, named["W_in"].shape[1]), "W_out": (named["W_in"].shape[1], d_model),
                       "b_in": (named["W_in"].shape[1],)}
        else:
            shape_i = shape
        present = {k: v for k, v in named.items() if v is not None}
        check_shapes(present, shape_i, where, reading={"d_model": "embed.W_E columns", "n_heads, d_head":
                     name_of(0, "attn.W_Q"), "d_mlp": name_of(i, "mlp.W_in")},
                     keys={f: name_of(i, k) for tab in (ATTN, MLP_W, BLOCK_BIASES) for k, (f, _) in tab.items()})
        blocks.append({f: v if v is not None else torch.zeros(shape_i[f], dtype=dtype) for f, v in named.items()})
    check_shapes({"W_E": W_E, "W_pos": W_pos, "W_U": W_U}, shape, where, reading={"d_model": "embed.W_E columns"},
                 keys={"W_E": "embed.W_E", "W_pos": "pos_embed.W_pos", "W_U": "unembed.W_U"})
    b_U = t.get("unembed.b_U")
    b_U = torch.zeros(p, dtype=dtype) if b_U is None else b_U[:p]
    last = blocks[-1]
    return Transformer(W_E=W_E, W_pos=W_pos, W_U=W_U[:, :p], b_U=b_U, **last, input_form=facts.get("input_form"),
                       lower=tuple(Block(**{f: b[f] for f in BLOCK_FIELDS}) for b in blocks[:-1]),
                       attn_coeff=float(facts.get("attn_coeff", 1.0)), causal=bool(facts.get("causal", True)),
                       b_offset=b_offset, act=activation_name(facts.get("act", "relu"), where))
