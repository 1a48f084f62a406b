"""Chughtai et al.'s representation-theory code (``rep_theory/utils/models.py``, ``groups.py``,
``train.py``): its ``OneLayerMLP``, its TransformerLens transformer as saved, its split, and its run
directories (``<dir>/model.pt`` + ``<dir>/cfg.json``).

* ``OneLayerMLP``: ``W_x``, ``W_y [n, embed_dim]``, ``W [2 embed_dim, hidden_dim]``,
  ``W_U [hidden_dim, n]``; ``relu(hstack(W_x[a], W_y[b]) @ W) @ W_U``, no biases. Its forward also
  sets ``x_embed = W_x @ W[:embed_dim]`` (plain tensors, not in the state dict).
* ``Transformer``: a ``HookedTransformer`` (1 layer, ``d_model`` 128, 4 heads of 32, ``d_mlp`` 512,
  ReLU, no LayerNorm, ``d_vocab = n + 1``, ``d_vocab_out = n``, ``n_ctx = 3``) fed ``[a, b, n]`` and
  read at the last position. Issue 15 says its forward does ``self.x_embed = self.W_E; self.y_embed =
  self.W_E`` (not found in the versions of ``rep_theory/utils/models.py`` read, 1e4a7d7 and
  df7d699, whose metrics nevertheless read ``model.x_embed``; this writer keeps both forms):
  assigning the ``nn.Parameter`` ``embed.W_E`` registers it again, so the state dict has two more
  keys, ``x_embed`` and ``y_embed``, which are **the same tensor** as ``embed.W_E`` (all
  ``[n + 1, d_model]``, the ``=`` row included; after ``torch.load`` the three share one storage).
  Being the root module's own parameters they come first in the state dict. The biases exist but
  are frozen (``requires_grad = False``) at TransformerLens's zero init.
* The split (``generate_train_test_data`` / ``Group.get_all_data``): the pairs in row order,
  ``if seed: torch.manual_seed(seed); perm = torch.randperm(n * n)`` (CPU), the first
  ``int(frac_train * n * n)`` of the permuted pairs are the training set. Quirk: ``seed = 0`` is
  falsy, so seed 0 does not shuffle at all (the published runs use seeds 1 to 4).
* ``cfg.json``: ``lr``, ``weight_decay``, ``betas``, ``layers`` (``embed_dim``, ``hidden_dim``),
  ``model`` (``"Transformer"`` or ``"OneLayerMLP"``), ``group`` (``"CyclicGroup"``,
  ``"DihedralGroup"``, ``"SymmetricGroup"``, ``"AlternatingGroup"``), ``group_parameter`` (the
  group's index: ``n`` for ``CyclicGroup``, order ``2 * index`` for ``DihedralGroup``),
  ``frac_train``, ``seed``, ``num_epochs``. Moduli need not be prime (``n = 118``).

The transformer's weights come from :meth:`interp.arch.transformer.Transformer.random` (its key set is
TransformerLens's); :func:`tl_answer` is an independent TransformerLens forward over the state dict.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from interp.arch.transformer import Transformer as TLWeights


class OneLayerMLP(nn.Module):
    """``OneLayerMLP(layers, n, seed)`` with weights drawn under ``torch.manual_seed(seed)`` (the global
    generator's state is restored afterwards)."""

    def __init__(self, n: int, embed_dim: int = 256, hidden_dim: int = 128, seed: int = 1) -> None:
        super().__init__()
        self.n, self.embed_dim = n, embed_dim
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.W_x = nn.Parameter(torch.randn(n, embed_dim) / math.sqrt(embed_dim))
            self.W_y = nn.Parameter(torch.randn(n, embed_dim) / math.sqrt(embed_dim))
            self.W = nn.Parameter(torch.randn(2 * embed_dim, hidden_dim) / math.sqrt(2 * embed_dim))
            self.W_U = nn.Parameter(torch.randn(hidden_dim, n) / math.sqrt(hidden_dim))

    def answer(self, pairs: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits ``[k, n]`` and ``hook_pre`` (``hstack @ W``) / ``hook_post`` (its ReLU)."""
        pre = torch.hstack((self.W_x[pairs[:, 0]], self.W_y[pairs[:, 1]])) @ self.W
        post = F.relu(pre)
        return {"logits": post @ self.W_U, "hook_pre": pre, "hook_post": post}

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.answer(pairs)["logits"]


def transformer_state(n: int, seed: int = 1, d_model: int = 128, n_heads: int = 4, d_head: int = 32,
                      d_mlp: int = 512, aliases: bool = True, bias_scale: float = 0.0) -> dict[str, torch.Tensor]:
    """The state dict of Chughtai et al.'s transformer for ``n``: TransformerLens's keys (``mask`` and
    ``IGNORE`` included) and, with ``aliases``, ``x_embed`` and ``y_embed`` first, both the very
    tensor ``embed.W_E``. ``bias_scale > 0`` draws the (published: zero) biases ``N(0, bias_scale^2)``,
    for forward tests."""
    state = TLWeights.random(p=n, d_model=d_model, n_heads=n_heads, d_head=d_head, d_mlp=d_mlp, seed=seed).state_dict()
    if bias_scale:
        gen = torch.Generator().manual_seed(seed + 1)
        for key in [k for k in state if k.split(".")[-1].startswith("b_")]:
            state[key] = torch.randn(state[key].shape, generator=gen) * bias_scale
    if aliases:
        state = {"x_embed": state["embed.W_E"], "y_embed": state["embed.W_E"], **state}
    return state


def tl_answer(state: dict[str, torch.Tensor], pairs: torch.Tensor) -> dict[str, torch.Tensor]:
    """TransformerLens's forward (1 layer, ``normalization_type=None``, ReLU, causal attention scaled
    by ``sqrt(d_head)``) on ``[a, b, n]`` with ``n = W_U`` columns, at the last position."""
    s = {k.removeprefix("blocks.0."): v for k, v in state.items()}
    n, d_head = s["unembed.W_U"].shape[1], s["attn.W_Q"].shape[2]
    tokens = torch.cat([pairs, torch.full_like(pairs[:, :1], n)], dim=1)
    x = s["embed.W_E"][tokens] + s["pos_embed.W_pos"][:3]
    q, k, v = (torch.einsum("bpd,hde->bphe", x, s[f"attn.W_{c}"]) + s[f"attn.b_{c}"] for c in "QKV")
    scores = torch.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(d_head)
    scores = scores.masked_fill(~torch.ones(3, 3, dtype=torch.bool).tril(), -torch.inf)
    z = torch.einsum("bhqk,bkhe->bqhe", scores.softmax(-1), v)
    mid = x + torch.einsum("bqhe,hed->bqd", z, s["attn.W_O"]) + s["attn.b_O"]
    pre = mid[:, -1] @ s["mlp.W_in"] + s["mlp.b_in"]
    post = F.relu(pre)
    logits = (mid[:, -1] + post @ s["mlp.W_out"] + s["mlp.b_out"]) @ s["unembed.W_U"] + s["unembed.b_U"]
    return {"logits": logits, "hook_pre": pre, "hook_post": post}


def chughtai_split(n: int, seed: int = 1, frac_train: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, test)``, each ``[k, 2]`` pairs in the permuted order (seed 0: row order, see above)."""
    pairs = torch.stack(torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij"), -1).reshape(-1, 2)
    if seed:
        pairs = pairs[torch.randperm(n * n, generator=torch.Generator().manual_seed(seed))]
    div = int(frac_train * n * n)
    return pairs[:div], pairs[div:]


def chughtai_cfg(model: str, group_parameter: int, group: str = "CyclicGroup", seed: int = 1,
                 frac_train: float = 0.3, embed_dim: int = 256, hidden_dim: int = 128, **extra) -> dict:
    """A ``cfg.json`` as in their ``batch_experiments`` (``model``: ``"Transformer"`` or ``"OneLayerMLP"``)."""
    return {"lr": 0.001, "weight_decay": 1, "betas": [0.9, 0.98],
            "layers": {"embed_dim": embed_dim, "hidden_dim": hidden_dim}, "model": model, "group": group,
            "group_parameter": group_parameter, "frac_train": frac_train, "seed": seed,
            "num_epochs": 50000 if model == "Transformer" else 250000, **extra}


def save_chughtai_run(directory: Path, state: dict[str, torch.Tensor] | nn.Module, cfg: dict | None) -> Path:
    """Write ``<directory>/model.pt`` (``torch.save(state_dict)``) and, unless ``cfg`` is None,
    ``<directory>/cfg.json``; returns the model file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "model.pt"
    torch.save(state.state_dict() if isinstance(state, nn.Module) else state, path)
    if cfg is not None:
        (directory / "cfg.json").write_text(json.dumps(cfg))
    return path
