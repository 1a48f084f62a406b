"""Nanda et al.'s grokking transformer (progress-measures code, ``transformers.py``) and Zhong et
al.'s variant of it (Clock and Pizza, ``code/train-main.py``), as those code bases define them.

Both store ``embed.W_E [d_model, d_vocab]``, ``pos_embed.W_pos [n_ctx, d_model]``,
``blocks.{i}.attn.W_{K,Q,V} [n_heads, d_head, d_model]``, ``blocks.{i}.attn.W_O
[d_model, n_heads * d_head]`` (heads flattened head-major), ``blocks.{i}.attn.mask`` (a ``tril``
buffer), ``blocks.{i}.mlp.W_in [d_mlp, d_model]``, ``b_in``, ``W_out [d_model, d_mlp]``, ``b_out``
and ``unembed.W_U [d_model, d_vocab]``. The differences:

* Nanda: input ``[a, b, =]`` (``=`` is token ``p``), causal mask, ordinary attention.
* Zhong: input ``[a, b]``, or ``[a, b, =]`` with ``eqn_sign`` (``=`` the last token of the
  vocabulary); with ``diff_vocab`` the token of ``b`` is ``b + p`` (vocabulary ``2p``, ``+1``
  with ``eqn_sign``); no causal mask (the buffer is stored but unused); attention
  ``c * softmax(q.k / sqrt(d_head)) + (1 - c)``; 1 to 4 layers; ReLU or GeLU.

The answer is read at the last position, over every column of ``W_U``.
"""

from __future__ import annotations

import json
from pathlib import Path

import einops
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_head: int, n_ctx: int, attn_coeff: float,
                 causal: bool) -> None:
        super().__init__()
        scale = 1 / np.sqrt(d_model)
        self.W_K = nn.Parameter(torch.randn(n_heads, d_head, d_model) * scale)
        self.W_Q = nn.Parameter(torch.randn(n_heads, d_head, d_model) * scale)
        self.W_V = nn.Parameter(torch.randn(n_heads, d_head, d_model) * scale)
        self.W_O = nn.Parameter(torch.randn(d_model, d_head * n_heads) * scale)
        self.register_buffer("mask", torch.tril(torch.ones((n_ctx, n_ctx))))
        self.d_head, self.attn_coeff, self.causal = d_head, attn_coeff, causal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # einsum('ihd,bpd->biph', W, x), written as one matrix product per weight
        k, q, v = (einops.rearrange(F.linear(x, einops.rearrange(w, "i h d -> (i h) d")),
                                    "b p (i h) -> b i p h", i=w.shape[0]) for w in (self.W_K, self.W_Q, self.W_V))
        scores = torch.einsum("biph,biqh->biqp", k, q)
        if self.causal:  # Nanda et al.: tril, then a large negative number above the diagonal
            n = x.shape[-2]
            scores = torch.tril(scores) - 1e10 * (1 - self.mask[:n, :n])
        pattern = F.softmax(scores / np.sqrt(self.d_head), dim=-1)
        pattern = pattern * self.attn_coeff + (1 - self.attn_coeff)
        z = torch.einsum("biph,biqp->biqh", v, pattern)
        return F.linear(einops.rearrange(z, "b i q h -> b q (i h)"), self.W_O)  # einsum('df,bqf->bqd')


class MLP(nn.Module):
    def __init__(self, d_model: int, d_mlp: int, act_fn: str) -> None:
        super().__init__()
        self.W_in = nn.Parameter(torch.randn(d_mlp, d_model) / np.sqrt(d_mlp))
        self.b_in = nn.Parameter(torch.zeros(d_mlp))
        self.W_out = nn.Parameter(torch.randn(d_model, d_mlp) / np.sqrt(d_model))
        self.b_out = nn.Parameter(torch.zeros(d_model))
        self.act_fn = act_fn
        self.cache: dict[str, torch.Tensor] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = F.linear(x, self.W_in, self.b_in)  # einsum('md,bpd->bpm', W_in, x) + b_in
        post = F.relu(pre) if self.act_fn == "ReLU" else F.gelu(pre)
        self.cache = {"hook_pre": pre, "hook_post": post}
        return F.linear(post, self.W_out, self.b_out)  # einsum('dm,bpm->bpd', W_out, post) + b_out


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_head: int, d_mlp: int, n_ctx: int, act_fn: str,
                 attn_coeff: float, causal: bool) -> None:
        super().__init__()
        self.attn = Attention(d_model, n_heads, d_head, n_ctx, attn_coeff, causal)
        self.mlp = MLP(d_model, d_mlp, act_fn)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class Embed(nn.Module):
    def __init__(self, d_vocab: int, d_model: int) -> None:
        super().__init__()
        self.W_E = nn.Parameter(torch.randn(d_model, d_vocab) / np.sqrt(d_model))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return torch.einsum("dbp->bpd", self.W_E[:, tokens])


class PosEmbed(nn.Module):
    def __init__(self, n_ctx: int, d_model: int) -> None:
        super().__init__()
        self.W_pos = nn.Parameter(torch.randn(n_ctx, d_model) / np.sqrt(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.W_pos[: x.shape[-2]]


class Unembed(nn.Module):
    def __init__(self, d_vocab: int, d_model: int) -> None:
        super().__init__()
        self.W_U = nn.Parameter(torch.randn(d_model, d_vocab) / np.sqrt(d_vocab))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W_U


class Transformer(nn.Module):
    """Zhong et al.'s transformer (``nanda()`` gives Nanda et al.'s). ``forward(tokens)`` returns
    the logits at every position; ``self.blocks[-1].mlp.cache`` holds the last layer's
    ``hook_pre`` / ``hook_post`` of the latest forward.

    Parameters
    ----------
    p: the modulus (``C`` in Zhong et al.'s config).
    diff_vocab, eqn_sign: Zhong et al.'s input options; attn_coeff: their ``c``.
    causal: Nanda et al.'s causal mask (Zhong et al. store the buffer but never apply it).
    """

    def __init__(self, p: int, d_model: int = 128, n_heads: int = 4, n_layers: int = 1,
                 attn_coeff: float = 1.0, diff_vocab: bool = False, eqn_sign: bool = False,
                 act_fn: str = "ReLU", causal: bool = False, d_mlp: int | None = None) -> None:
        super().__init__()
        self.p, self.diff_vocab, self.eqn_sign = p, diff_vocab, eqn_sign
        self.d_vocab = p * (2 if diff_vocab else 1) + (1 if eqn_sign else 0)
        self.n_ctx = 3 if eqn_sign else 2
        d_head = d_model // n_heads
        self.embed = Embed(self.d_vocab, d_model)
        self.pos_embed = PosEmbed(self.n_ctx, d_model)
        self.blocks = nn.ModuleList([
            Block(d_model, n_heads, d_head, d_mlp or 4 * d_model, self.n_ctx, act_fn, attn_coeff, causal)
            for _ in range(n_layers)])
        self.unembed = Unembed(self.d_vocab, d_model)

    @classmethod
    def nanda(cls, p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512,
              act_fn: str = "ReLU") -> Transformer:
        """Nanda et al.'s model: ``[a, b, =]`` with ``=`` token ``p`` (vocabulary ``p + 1``), causal."""
        return cls(p, d_model, n_heads, 1, 1.0, diff_vocab=False, eqn_sign=True, act_fn=act_fn,
                   causal=True, d_mlp=d_mlp)

    def tokens(self, pairs: torch.Tensor) -> torch.Tensor:
        """The token sequences of the pairs ``[[a, b], ...]`` as this code base builds them."""
        a, b = pairs[:, 0], pairs[:, 1] + (self.p if self.diff_vocab else 0)
        columns = [a, b] + ([torch.full_like(a, self.d_vocab - 1)] if self.eqn_sign else [])
        return torch.stack(columns, dim=-1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.pos_embed(self.embed(tokens))
        for block in self.blocks:
            x = block(x)
        return self.unembed(x)

    def answer(self, pairs: torch.Tensor, last_only: bool = False) -> dict[str, torch.Tensor]:
        """Logits (every column) and the last MLP layer's hooks at the last position.

        ``last_only``: run the last block's MLP and the unembedding at the last position alone
        (nothing else reads the other positions there, so the numbers are the same; training is
        about twice as fast)."""
        if not last_only:
            logits = self(self.tokens(pairs))[:, -1]
        else:
            x = self.pos_embed(self.embed(self.tokens(pairs)))
            for block in self.blocks[:-1]:
                x = block(x)
            last = self.blocks[-1]
            x = (x + last.attn(x))[:, -1:]
            logits = self.unembed(x + last.mlp(x))[:, -1]
        cache = self.blocks[-1].mlp.cache
        return {"logits": logits, "hook_pre": cache["hook_pre"][:, -1], "hook_post": cache["hook_post"][:, -1]}


def zhong_config(model: Transformer, runid: str, task: str = "add", **extra) -> dict:
    """The ``config_<runid>.json`` that Zhong et al.'s training script writes for ``model``."""
    op = "+" if task == "add" else "-"
    return {"name": f"modadd_{model.p}", "funcs": f"lambda x: (x[0]{op}x[1])%{model.p}", "C": model.p,
            "n_heads": model.blocks[0].attn.W_K.shape[0], "d_model": model.embed.W_E.shape[0],
            "n_layers": len(model.blocks), "attention_dir": "casual",
            "act_fn": model.blocks[0].mlp.act_fn, "epoch": 20000, "batch_size": model.p * model.p,
            "lr": 0.001, "weight_decay": 2.0, "frac": 0.8, "attn_coeff": model.blocks[0].attn.attn_coeff,
            "runid": runid, "diff_vocab": int(model.diff_vocab), "eqn_sign": int(model.eqn_sign),
            "func": None, **extra}


def save_zhong(model: Transformer, directory: Path, runid: str, task: str = "add", **extra) -> Path:
    """Write ``model_<runid>.pt`` (``torch.save(model.state_dict())``) and ``config_<runid>.json``
    as Zhong et al.'s script does; returns the model file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"model_{runid}.pt"
    torch.save(model.state_dict(), path)
    (directory / f"config_{runid}.json").write_text(json.dumps(zhong_config(model, runid, task, **extra)))
    return path
