"""A 1-layer TransformerLens ``HookedTransformer`` (no LayerNorm, ReLU), read at the last position.

The input for a pair is the token sequence ``[a, b, =]`` with ``=`` the token ``p``. Per head ``h``,
with ``x = W_E[tokens] + W_pos``::

    q, k, v   = x W_{Q,K,V}[h] + b_{Q,K,V}[h]
    pattern   = softmax(q . k / sqrt(d_head))      (causal mask)
    attn_out  = sum_h pattern v W_O[h] + b_O
    resid_mid = x + attn_out
    hook_pre  = resid_mid W_in + b_in,   hook_post = relu(hook_pre)
    logits    = (resid_mid + hook_post W_out + b_out) W_U + b_U

Only the last position (``=``) feeds the answer, and in one layer nothing else feeds it: its query
reads ``W_E[=] + W_pos[2]``, the same for every pair, and its keys and values read the three
positions. So the hooks are computed for that position alone, which is TransformerLens's
computation restricted to it (``normalization_type=None``, ``act_fn="relu"``, the attention scale
``sqrt(d_head)``). The neurons' readout is ``W_logit = W_out W_U`` (Nanda et al. 2023).

The state dict uses TransformerLens's names (SPEC, "1-layer transformers"); biases may be absent
(then zero), and the ``mask`` / ``IGNORE`` buffers carry no weights and are ignored. ``p``,
``d_model``, ``d_mlp``, ``n_heads`` and ``d_head`` come from the shapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import ClassVar

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp.arch.common import ByConstruction, SharedShapes, check_shapes, checked_tensors
from interp.errors import CheckpointError

NAME = "transformer"
DESCRIPTION = "1-layer TransformerLens HookedTransformer (embed.W_E, pos_embed.W_pos, blocks.0.attn.W_Q, ...)"
# state-dict key -> (field, expected rank); biases are optional
WEIGHTS = {
    "embed.W_E": ("W_E", 2), "pos_embed.W_pos": ("W_pos", 2),
    "blocks.0.attn.W_Q": ("W_Q", 3), "blocks.0.attn.W_K": ("W_K", 3), "blocks.0.attn.W_V": ("W_V", 3),
    "blocks.0.attn.W_O": ("W_O", 3),
    "blocks.0.mlp.W_in": ("W_in", 2), "blocks.0.mlp.W_out": ("W_out", 2), "unembed.W_U": ("W_U", 2),
}
BIASES = {
    "blocks.0.attn.b_Q": ("b_Q", 2), "blocks.0.attn.b_K": ("b_K", 2), "blocks.0.attn.b_V": ("b_V", 2),
    "blocks.0.attn.b_O": ("b_O", 1), "blocks.0.mlp.b_in": ("b_in", 1), "blocks.0.mlp.b_out": ("b_out", 1),
    "unembed.b_U": ("b_U", 1),
}
BUFFERS = ("blocks.0.attn.mask", "blocks.0.attn.IGNORE")
LAYER_NORMS = ("ln1", "ln2", "ln_final")
N_CTX = 3


def _shapes(p: int, d_model: int, n_heads: int, d_head: int, d_mlp: int) -> dict[str, tuple[int, ...]]:
    """Every field's shape."""
    qkv, d = (n_heads, d_model, d_head), (d_model,)
    return {"W_E": (p + 1, d_model), "W_pos": (N_CTX, d_model), "W_Q": qkv, "W_K": qkv, "W_V": qkv,
            "W_O": (n_heads, d_head, d_model), "W_in": (d_model, d_mlp), "W_out": (d_mlp, d_model),
            "W_U": (d_model, p), "b_Q": (n_heads, d_head), "b_K": (n_heads, d_head), "b_V": (n_heads, d_head),
            "b_O": d,
            "b_in": (d_mlp,), "b_out": d, "b_U": (p,)}


def recognises(keys: set[str]) -> bool:
    """A TransformerLens state dict: it has ``embed.W_E``."""
    return "embed.W_E" in keys


@dataclass(frozen=True)
class Transformer(SharedShapes):
    """The weights of a 1-layer transformer, in TransformerLens's shapes (biases always present:
    absent ones are read as zeros).

    >>> t = Transformer.random(p=7, d_model=8, n_heads=2, d_head=4, d_mlp=16, seed=0)
    >>> (t.p, t.d_model, t.n_heads, t.d_head, t.d_mlp)
    (7, 8, 2, 4, 16)
    >>> hooks = t.hooks(*t.inputs(torch.tensor([[1, 2], [6, 0]])))
    >>> {k: tuple(v.shape) for k, v in hooks.items()}
    {'hook_pre': (2, 16), 'hook_post': (2, 16), 'logits': (2, 7)}

    Parameters
    ----------
    W_E: ``[p+1, d_model]`` token embedding (token ``p`` is ``=``); W_pos: ``[3, d_model]``.
    W_Q, W_K, W_V: ``[n_heads, d_model, d_head]``; W_O: ``[n_heads, d_head, d_model]``.
    W_in: ``[d_model, d_mlp]``; W_out: ``[d_mlp, d_model]``; W_U: ``[d_model, p]``.
    b_Q, b_K, b_V: ``[n_heads, d_head]``; b_O, b_out: ``[d_model]``; b_in: ``[d_mlp]``; b_U: ``[p]``.
    """

    architecture: ClassVar[str] = NAME
    W_E: Float[Tensor, "vocab d_model"]
    W_pos: Float[Tensor, "3 d_model"]
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

    def dims(self) -> dict[str, int]:
        return {"p": self.p, "d_model": self.d_model, "d_mlp": self.d_mlp, "n_heads": self.n_heads,
                "d_head": self.d_head}

    # -- what the claims read ----------------------------------------------------------------------
    @property
    def readout(self) -> Float[Tensor, "d_mlp p"]:
        """``W_logit = W_out @ W_U``: what each neuron adds to each logit (the direct path)."""
        return self.W_out @ self.W_U

    @property
    def embedding(self) -> Float[Tensor, "p d_model"]:
        """``W_E`` over the number tokens ``0 .. p-1`` (the ``=`` row left out)."""
        return self.W_E[: self.p]

    @property
    def token_map(self) -> Float[Tensor, "p d_model"]:
        """Where the model looks a number up before attention mixes it: ``W_E`` over the numbers."""
        return self.embedding

    @property
    def W_neur(self) -> None:
        """None: no direct token-to-neuron path (attention sits between ``W_E`` and ``W_in``)."""
        return None

    by_construction: ClassVar[dict[str, ByConstruction]] = {}  # attention makes pre-ReLU non-linear in (a, b)
    undefined: ClassVar[dict[str, str]] = {
        "W_neur": "no token-to-neuron matrix: attention sits between W_E and W_in"}

    def inputs(self, pairs: Int[Tensor, "pair 2"]) -> tuple[Float[Tensor, "pair d"], Float[Tensor, "pair d"]]:
        """What the model reads for ``a`` and for ``b``: ``W_E[a] + W_pos[0]``, ``W_E[b] + W_pos[1]``."""
        return self.W_E[pairs[:, 0]] + self.W_pos[0], self.W_E[pairs[:, 1]] + self.W_pos[1]

    def hooks(self, x_a: Float[Tensor, "pair d_model"], x_b: Float[Tensor, "pair d_model"]
              ) -> dict[str, Float[Tensor, "pair _"]]:
        """``hook_pre``, ``hook_post`` and ``logits`` at the last position, from the two inputs.

        The query is the same for every pair, so each head's score for a position is the input
        there times ``W_K[h] q[h] / sqrt(d_head)``: a matrix product, not a per-pair key."""
        n, heads, d_head = x_a.shape[0], self.n_heads, self.d_head
        x_eq = self.W_E[self.p] + self.W_pos[2]  # the "=" position: the same for every pair
        q = torch.einsum("d,hde->he", x_eq, self.W_Q) + self.b_Q
        key_q = torch.einsum("hde,he->dh", self.W_K, q) / math.sqrt(d_head)  # [d_model, head]
        bias_q = (self.b_K * q).sum(-1) / math.sqrt(d_head)
        scores = torch.stack([x_a @ key_q, x_b @ key_q, (x_eq @ key_q).expand(n, heads)], dim=-1) + bias_q[:, None]
        pattern = scores.softmax(-1)  # [pair, head, position]; the last position sees all three
        W_V = self.W_V.permute(1, 0, 2).reshape(self.d_model, heads * d_head)
        b_V = self.b_V.reshape(-1)
        z = sum(pattern[..., i, None] * (x @ W_V + b_V).view(-1, heads, d_head)
                for i, x in enumerate((x_a, x_b, x_eq[None])))  # [pair, head, d_head]
        resid_mid = x_eq + z.reshape(n, heads * d_head) @ self.W_O.reshape(heads * d_head, -1) + self.b_O
        pre = resid_mid @ self.W_in + self.b_in
        post = torch.relu(pre)
        logits = (resid_mid + post @ self.W_out + self.b_out) @ self.W_U + self.b_U
        return {"hook_pre": pre, "hook_post": post, "logits": logits}

    # -- state dicts -------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Tensor]:
        """TransformerLens's state dict, ``mask`` and ``IGNORE`` included, so that
        ``HookedTransformer.load_state_dict(..., strict=True)`` accepts it."""
        out = {key: getattr(self, name) for key, (name, _) in {**WEIGHTS, **BIASES}.items()}
        out["blocks.0.attn.mask"] = torch.tril(torch.ones(N_CTX, N_CTX, dtype=torch.bool))
        out["blocks.0.attn.IGNORE"] = torch.tensor(-torch.inf)
        return out

    @classmethod
    def from_state_dict(cls, state: dict, where: str) -> Transformer:
        """Check a TransformerLens state dict strictly (see :func:`interp.arch.common.checked_tensors`)."""
        layer_norm = sorted(k for k in map(str, state) if any(f".{ln}." in f".{k}" for ln in LAYER_NORMS))
        if layer_norm:
            raise CheckpointError(where, f"has LayerNorm weights ({', '.join(layer_norm[:3])}): only "
                                  "normalization_type=None transformers are supported (Nanda et al.'s model)")
        tensors = checked_tensors(state, where, required=WEIGHTS, optional=BIASES, ignored=BUFFERS,
                                  understood=DESCRIPTION)
        named = {name: tensors.get(key) for key, (name, _) in {**WEIGHTS, **BIASES}.items()}
        t = {k: v for k, v in named.items() if v is not None}
        p, d_model = t["W_U"].shape[1], t["W_E"].shape[1]
        n_heads, d_head, d_mlp = t["W_Q"].shape[0], t["W_Q"].shape[2], t["W_in"].shape[1]
        shapes = _shapes(p, d_model, n_heads, d_head, d_mlp)
        check_shapes(t, shapes, where, reading={"p": "unembed.W_U columns", "d_model": "embed.W_E columns",
                                                "n_heads, d_head": "blocks.0.attn.W_Q", "d_mlp": "blocks.0.mlp.W_in"},
                     keys={name: key for key, (name, _) in {**WEIGHTS, **BIASES}.items()})
        if p < 3:
            raise CheckpointError(where, f"p={p} is too small (need p >= 3)")
        dtype = t["W_E"].dtype
        for name, shape in shapes.items():
            if named[name] is None:
                named[name] = torch.zeros(shape, dtype=dtype)
        return cls(**named)

    # -- training and devices ------------------------------------------------------------------------
    def to(self, device: str | torch.device, dtype: torch.dtype | None = None) -> Transformer:
        return replace(self, **{f.name: getattr(self, f.name).to(device=device, dtype=dtype) for f in fields(self)})

    def tensors(self) -> dict[str, Tensor]:
        """The fields by name (for training)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def random(cls, p: int, d_model: int = 128, n_heads: int = 4, d_head: int = 32, d_mlp: int = 512,
               seed: int = 0) -> Transformer:
        """TransformerLens's default initialisation scheme, as Nanda et al. used it: every weight
        matrix ``~ N(0, (0.8 / sqrt(d_model))^2)`` and zero biases. The draws come from a generator
        seeded with ``seed``, in the order of :data:`WEIGHTS` (not TransformerLens's order, so the
        same seed gives other numbers there)."""
        gen = torch.Generator().manual_seed(seed)
        std = 0.8 / math.sqrt(d_model)
        shapes = _shapes(p, d_model, n_heads, d_head, d_mlp)
        weights = {name: torch.randn(shapes[name], generator=gen) * std for name, _ in WEIGHTS.values()}
        biases = {name: torch.zeros(shapes[name]) for name, _ in BIASES.values()}
        return cls(**weights, **biases)


MODEL = Transformer
