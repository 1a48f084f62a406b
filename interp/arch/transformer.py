"""The transformer computation: a residual stream of attention and MLP blocks, read at the last
position, in TransformerLens's weight shapes. Every transformer layout maps onto it
(:mod:`interp.layouts`: TransformerLens, Nanda et al., Zhong et al., Chughtai et al.).

The input for a pair is ``[a, b, =]`` (``=`` is the last token of the vocabulary) or ``[a, b]``;
with ``b_offset`` the token of ``b`` is ``b + b_offset`` (Zhong et al.'s two vocabularies). Per
block, with ``x`` the residual stream (``W_E[tokens] + W_pos``) and per head ``h``::

    q, k, v   = x W_{Q,K,V}[h] + b_{Q,K,V}[h]
    pattern   = c * softmax(q . k / sqrt(d_head)) + (1 - c)      (causal mask if ``causal``)
    x         = x + sum_h pattern v W_O[h] + b_O
    hook_pre  = x W_in + b_in,   hook_post = act(hook_pre)
    x         = x + hook_post W_out + b_out
    logits    = x W_U + b_U      (the p answer columns)

``c`` is ``attn_coeff`` (1: ordinary attention; 0: every weight 1). The claims read the last
block's MLP (``hook_pre``, ``hook_post``) and the logits at the last position; a deeper model's
lower blocks (``lower``) run over every position first. The neurons' readout is
``W_logit = W_out W_U`` (Nanda et al. 2023), the direct path of the last block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.arch.common import ACTIVATIONS, ByConstruction, SharedShapes

NAME = "transformer"
# The canonical form's state dict is TransformerLens's (interp.layouts.transformerlens reads it)
EMBEDS = {"embed.W_E": ("W_E", 2), "pos_embed.W_pos": ("W_pos", 2), "unembed.W_U": ("W_U", 2)}
ATTN = {"attn.W_Q": ("W_Q", 3), "attn.W_K": ("W_K", 3), "attn.W_V": ("W_V", 3), "attn.W_O": ("W_O", 3)}
MLP_W = {"mlp.W_in": ("W_in", 2), "mlp.W_out": ("W_out", 2)}
BLOCK_BIASES = {"attn.b_Q": ("b_Q", 2), "attn.b_K": ("b_K", 2), "attn.b_V": ("b_V", 2), "attn.b_O": ("b_O", 1),
                "mlp.b_in": ("b_in", 1), "mlp.b_out": ("b_out", 1)}
BUFFER_NAMES = ("attn.mask", "attn.IGNORE")
LAYER_NORMS = ("ln1", "ln2", "ln_final")


def block_keys(i: int, table: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int]]:
    return {f"blocks.{i}.{key}": value for key, value in table.items()}


# the 1-layer key sets (tests and the writer use them)
WEIGHTS = {**{k: v for k, v in EMBEDS.items() if k != "unembed.W_U"}, **block_keys(0, ATTN),
           **block_keys(0, MLP_W), "unembed.W_U": EMBEDS["unembed.W_U"]}
BIASES = {**block_keys(0, BLOCK_BIASES), "unembed.b_U": ("b_U", 1)}
BUFFERS = tuple(f"blocks.0.{b}" for b in BUFFER_NAMES)


BLOCK_FIELDS = ("W_Q", "W_K", "W_V", "W_O", "b_Q", "b_K", "b_V", "b_O", "W_in", "b_in", "W_out", "b_out")


def shapes(p: int, d_model: int, n_heads: int, d_head: int, d_mlp: int, vocab: int | None = None,
           n_ctx: int = 3) -> dict[str, tuple[int, ...]]:
    """Every field's shape (``vocab`` defaults to ``p + 1``: the numbers and ``=``)."""
    qkv, d = (n_heads, d_model, d_head), (d_model,)
    return {"W_E": (vocab or p + 1, d_model), "W_pos": (n_ctx, d_model), "W_Q": qkv, "W_K": qkv, "W_V": qkv,
            "W_O": (n_heads, d_head, d_model), "W_in": (d_model, d_mlp), "W_out": (d_mlp, d_model),
            "W_U": (d_model, p), "b_Q": (n_heads, d_head), "b_K": (n_heads, d_head), "b_V": (n_heads, d_head),
            "b_O": d, "b_in": (d_mlp,), "b_out": d, "b_U": (p,)}


@dataclass(frozen=True)
class Block:
    """A lower block of a deeper transformer (the fields of :data:`BLOCK_FIELDS`, TransformerLens shapes)."""

    W_Q: Tensor
    W_K: Tensor
    W_V: Tensor
    W_O: Tensor
    b_Q: Tensor
    b_K: Tensor
    b_V: Tensor
    b_O: Tensor
    W_in: Tensor
    b_in: Tensor
    W_out: Tensor
    b_out: Tensor

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Block:
        return Block(*(getattr(self, f).to(device=device, dtype=dtype) for f in BLOCK_FIELDS))


def attend(block, x: Float[Tensor, "n pos d"], queries: Float[Tensor, "n q d"], attn_coeff: float,
           causal: bool) -> Float[Tensor, "n q d"]:
    """The attention output at the query positions (all of ``x``'s, or its last one)."""
    d_head = block.W_Q.shape[2]
    q = torch.einsum("nqd,hde->nhqe", queries, block.W_Q) + block.b_Q[:, None]
    k = torch.einsum("ntd,hde->nhte", x, block.W_K) + block.b_K[:, None]
    v = torch.einsum("ntd,hde->nhte", x, block.W_V) + block.b_V[:, None]
    scores = torch.einsum("nhqe,nhte->nhqt", q, k) / math.sqrt(d_head)
    n_q, n_t = queries.shape[1], x.shape[1]
    if causal and n_q > 1:  # a query sees its own position and those before it
        later = torch.ones(n_q, n_t, dtype=torch.bool, device=x.device).triu(1 + n_t - n_q)
        scores = scores.masked_fill(later, -torch.inf)
    pattern = scores.softmax(-1)
    if attn_coeff != 1.0:
        pattern = attn_coeff * pattern + (1 - attn_coeff)
    z = torch.einsum("nhqt,nhte->nhqe", pattern, v)
    return torch.einsum("nhqe,hed->nqd", z, block.W_O) + block.b_O


@dataclass(frozen=True)
class Transformer(SharedShapes):
    """A transformer's weights (TransformerLens's shapes; absent biases are zeros) and how it is run.
    The flat fields are the last block's, the one the claims read.

    >>> t = Transformer.random(p=7, d_model=8, n_heads=2, d_head=4, d_mlp=16, seed=0)
    >>> (t.p, t.d_model, t.n_heads, t.d_head, t.d_mlp, t.n_layers)
    (7, 8, 2, 4, 16, 1)
    >>> hooks = t.hooks(*t.inputs(torch.tensor([[1, 2], [6, 0]])))
    >>> {k: tuple(v.shape) for k, v in hooks.items()}
    {'hook_pre': (2, 16), 'hook_post': (2, 16), 'hook_resid_mid': (2, 8), 'logits': (2, 7)}

    Parameters
    ----------
    W_E: ``[vocab, d_model]`` token embedding; W_pos: ``[n_ctx, d_model]`` (3: ``[a, b, =]``; 2: ``[a, b]``).
    W_Q, W_K, W_V: ``[n_heads, d_model, d_head]``; W_O: ``[n_heads, d_head, d_model]``.
    W_in: ``[d_model, d_mlp]``; W_out: ``[d_mlp, d_model]``; W_U: ``[d_model, p]`` (the answer columns).
    b_Q, b_K, b_V: ``[n_heads, d_head]``; b_O, b_out: ``[d_model]``; b_in: ``[d_mlp]``; b_U: ``[p]``.
    lower: the blocks below the last one (a deeper model), in order.
    input_form: ``a,b,=`` (the answer read at ``=``) or ``a,b`` (read at ``b``).
    attn_coeff: Zhong et al.'s ``c``; causal: mask later positions; b_offset: token of ``b`` is
    ``b + b_offset``; act: the neurons' activation (:data:`interp.arch.common.ACTIVATIONS`).
    """

    architecture: ClassVar[str] = NAME
    W_E: Float[Tensor, "vocab d_model"]
    W_pos: Float[Tensor, "n_ctx d_model"]
    W_Q: Float[Tensor, "head d_model d_head"]
    W_K: Float[Tensor, "head d_model d_head"]
    W_V: Float[Tensor, "head d_model d_head"]
    W_O: Float[Tensor, "head d_head d_model"]
    W_in: Float[Tensor, "d_model d_mlp"]
    W_out: Float[Tensor, "d_mlp d_model"]
    W_U: Float[Tensor, "d_model p"]
    b_Q: Float[Tensor, "head d_head"]
    b_K: Float[Tensor, "head d_head"]
    b_V: Float[Tensor, "head d_head"]
    b_O: Float[Tensor, " d_model"]
    b_in: Float[Tensor, " d_mlp"]
    b_out: Float[Tensor, " d_model"]
    b_U: Float[Tensor, " p"]
    lower: tuple[Block, ...] = field(default=())
    input_form: str = "a,b,="
    attn_coeff: float = 1.0
    causal: bool = True
    b_offset: int = 0
    act: str = "relu"

    # -- shapes ------------------------------------------------------------------------------------
    @property
    def p(self) -> int:
        return self.W_U.shape[1]

    @property
    def n_heads(self) -> int:
        return self.W_Q.shape[0]

    @property
    def d_head(self) -> int:
        return self.W_Q.shape[2]

    @property
    def n_layers(self) -> int:
        return len(self.lower) + 1

    @property
    def n_ctx(self) -> int:
        """Positions a pair is read over: 3 for ``a,b,=``, 2 for ``a,b`` (``W_pos`` may have more rows)."""
        return 3 if self.input_form == "a,b,=" else 2

    def dims(self) -> dict[str, int]:
        return {"p": self.p, "d_model": self.d_model, "d_mlp": self.d_mlp, "n_heads": self.n_heads,
                "d_head": self.d_head}

    def activation(self, pre: Tensor) -> Tensor:
        return ACTIVATIONS[self.act](pre)

    # -- what the claims read ----------------------------------------------------------------------
    @property
    def readout(self) -> Float[Tensor, "d_mlp p"]:
        """``W_logit = W_out @ W_U``: what each neuron of the last block adds to each logit (the direct path)."""
        return self.W_out @ self.W_U

    @property
    def logit_parts(self) -> tuple[dict[str, Float[Tensor, "d p"]], Float[Tensor, " p"]]:
        """``logits = hook_post @ (W_out @ W_U) + hook_resid_mid @ W_U + (b_out @ W_U + b_U)``:
        the hooks the logits are linear in, with their maps, and the offset (:mod:`interp.terms`)."""
        return {"hook_post": self.readout, "hook_resid_mid": self.W_U}, self.b_out @ self.W_U + self.b_U

    @property
    def embedding(self) -> Float[Tensor, "p d"]:
        """``W_E`` over the number tokens (``a``'s; beside it ``b``'s where they differ)."""
        a = self.W_E[: self.p]
        return a if not self.b_offset else torch.cat([a, self.W_E[self.b_offset : self.b_offset + self.p]], 1)

    @property
    def token_map(self) -> Float[Tensor, "p d"]:
        """Where the model looks a number up before attention mixes it: :attr:`embedding`."""
        return self.embedding

    @property
    def W_neur(self) -> None:
        """None: no direct token-to-neuron path (attention sits between ``W_E`` and ``W_in``)."""
        return None

    @property
    def by_construction(self) -> dict[str, ByConstruction]:
        """With constant attention (``c = 0``) and one block, the MLP reads a constant plus
        ``f(a) + g(b)``: pre-activations are linear by construction; with ``=`` last, a and b
        also enter only as ``x_a + x_b``, so gradient symmetricity is 1."""
        if self.attn_coeff != 0.0 or self.lower:
            return {}
        out = {"pre_relu_linear_fraction": ByConstruction(1.0, (
            "with constant attention (attn_coeff 0) and one block, the MLP reads a constant plus a function "
            "of a plus a function of b, trained or not"))}
        if self.n_ctx == 3:
            out["gradient_symmetricity"] = ByConstruction(1.0, (
                "with constant attention and '=' last, a and b enter only through W_E[a] + W_E[b] summed "
                "by attention: both gradients are the same"))
        return out

    undefined: ClassVar[dict[str, str]] = {
        "W_neur": "no token-to-neuron matrix: attention sits between W_E and W_in"}

    def inputs(self, pairs: Int[Tensor, "pair 2"]) -> tuple[Float[Tensor, "pair d"], Float[Tensor, "pair d"]]:
        """What the model reads for ``a`` and for ``b``: ``W_E[a] + W_pos[0]``, ``W_E[b'] + W_pos[1]``."""
        return (self.W_E[pairs[:, 0]] + self.W_pos[0],
                self.W_E[pairs[:, 1] + self.b_offset] + self.W_pos[1])

    def hooks(self, x_a: Float[Tensor, "pair d_model"], x_b: Float[Tensor, "pair d_model"]
              ) -> dict[str, Float[Tensor, "pair _"]]:
        """``hook_pre``, ``hook_post`` (the last block's), ``hook_resid_mid`` (the residual stream
        that block's MLP reads) and ``logits`` at the last position."""
        seq = [x_a, x_b]
        if self.n_ctx == 3:
            seq.append((self.W_E[-1] + self.W_pos[2]).expand_as(x_a))
        x = torch.stack(seq, dim=1)
        for block in self.lower:
            x = x + attend(block, x, x, self.attn_coeff, self.causal)
            x = x + self.activation(x @ block.W_in + block.b_in) @ block.W_out + block.b_out
        resid = x[:, -1] + attend(self, x, x[:, -1:], self.attn_coeff, self.causal)[:, 0]
        pre = resid @ self.W_in + self.b_in
        post = self.activation(pre)
        logits = (resid + post @ self.W_out + self.b_out) @ self.W_U + self.b_U
        return {"hook_pre": pre, "hook_post": post, "hook_resid_mid": resid, "logits": logits}

    # -- state dicts, devices, training ------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """TransformerLens's state dict of a 1-layer model, ``mask`` and ``IGNORE`` included, so that
        ``HookedTransformer.load_state_dict(..., strict=True)`` accepts it."""
        out = {key: getattr(self, name) for key, (name, _) in {**WEIGHTS, **BIASES}.items()}
        rows = self.W_pos.shape[0]
        out["blocks.0.attn.mask"] = torch.tril(torch.ones(rows, rows, dtype=torch.bool))
        out["blocks.0.attn.IGNORE"] = torch.tensor(-torch.inf)
        return out

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Transformer:
        moved = {f: getattr(self, f).to(device=device, dtype=dtype) for f in self.tensors()}
        return replace(self, **moved, lower=tuple(b.to(device, dtype) for b in self.lower))

    def tensors(self) -> dict[str, Tensor]:
        """The tensor fields by name (for training; the last block's and the embeddings)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), Tensor)}

    @classmethod
    def random(cls, p: int, d_model: int = 128, n_heads: int = 4, d_head: int = 32, d_mlp: int = 512,
               seed: int = 0) -> Transformer:
        """TransformerLens's default initialisation scheme, as Nanda et al. used it: every weight
        matrix ``~ N(0, (0.8 / sqrt(d_model))^2)`` and zero biases. The draws come from a generator
        seeded with ``seed``, in the order W_E, W_pos, W_Q, W_K, W_V, W_O, W_in, W_out, W_U (not
        TransformerLens's order, so the same seed gives other numbers there)."""
        gen = torch.Generator().manual_seed(seed)
        std = 0.8 / math.sqrt(d_model)
        shape = shapes(p, d_model, n_heads, d_head, d_mlp)
        order = ("W_E", "W_pos", "W_Q", "W_K", "W_V", "W_O", "W_in", "W_out", "W_U")
        weights = {name: torch.randn(shape[name], generator=gen) * std for name in order}
        biases = {name: torch.zeros(shape[name]) for name in shape if name.startswith("b_")}
        return cls(**weights, **biases)
