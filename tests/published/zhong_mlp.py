"""Zhong et al.'s MLPs (Clock and Pizza, ``code/train-linear.py``), as that script defines them.

Five classes, chosen by the config's ``model_type`` (the forward depends on it, not on the keys).
With ``E = embed.weight``, ``U = unembed.weight`` (an ``nn.Embedding`` used as an unembedding) and
``l1``, ``l2`` ``nn.Linear(d_hidden, d_hidden)`` with biases:

====  ==========================================================  =====================================
type  forward (logits)                                            keys
====  ==========================================================  =====================================
A     ``relu(l1(E[a] + E[b])) @ U.T``                             embed, l1, unembed
B     ``relu(l2(relu(l1(E[a] + E[b])))) @ U.T``                   embed, l1, l2, unembed
C     ``relu(l2(relu(l1(E[a]) + l1(E[b])))) @ U.T`` (``b1`` twice)  embed, l1, l2, unembed (as B)
D     ``relu(l1(cat(E[a], E[b]))) @ U.T``, ``E`` ``[C, d/2]``       embed, l1, unembed
X     ``relu(l1(E1[a] + E2[b])) @ U.T``                           embed1, embed2, l1, unembed
====  ==========================================================  =====================================

Shapes: ``embed.weight [C, d_hidden]`` (``[C, d_hidden // 2]`` for D), ``embed1.weight``,
``embed2.weight [C, d_hidden]``, ``l{1,2}.weight [d_hidden, d_hidden]``, ``l{1,2}.bias [d_hidden]``,
``unembed.weight [C, d_hidden]``. The script's constants: ``C = 59``, ``d_hidden = 256``; its loop
draws ``model_type`` from ``'X'`` only (the other letters are earlier runs).

Quirks: ``embed`` (and ``embed1``/``embed2``) are ``N(0, 1) / sqrt(d_hidden // 2)``, ``unembed`` is
``N(0, 1) / sqrt(d_hidden)``, the linears have PyTorch's default init. The task is always
``(a + b) mod C`` (the config has no ``funcs``). The split is ``torch.utils.data.random_split`` of
the ``C * C`` pairs (80 %) with the unseeded global generator: no file records it.
The sidecar is ``config_<runid>.json``: the script's ``config`` dict plus ``func: None``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

MODEL_TYPES = ("A", "B", "C", "D", "X")


class ZhongMLP(nn.Module):
    """One of ``train-linear.py``'s ``MyModel{A,B,C,D,X}``; ``answer(pairs)`` gives the logits and the
    last hidden layer's ``hook_pre`` (before its ReLU) and ``hook_post``."""

    def __init__(self, model_type: str, C: int = 59, d_hidden: int = 256, seed: int = 0) -> None:
        super().__init__()
        if model_type not in MODEL_TYPES:
            raise ValueError(f"model_type {model_type!r} not in {MODEL_TYPES}")
        self.model_type, self.C, self.d_hidden = model_type, C, d_hidden
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            d_embed = d_hidden // 2 if model_type == "D" else d_hidden
            if model_type == "X":
                self.embed1 = nn.Embedding(C, d_hidden)
                self.embed2 = nn.Embedding(C, d_hidden)
            else:
                self.embed = nn.Embedding(C, d_embed)
            self.unembed = nn.Embedding(C, d_hidden)
            self.l1 = nn.Linear(d_hidden, d_hidden, bias=True)
            if model_type in ("B", "C"):
                self.l2 = nn.Linear(d_hidden, d_hidden, bias=True)
            for name in ("embed", "embed1", "embed2"):
                if hasattr(self, name):
                    getattr(self, name).weight.data /= (d_hidden // 2) ** 0.5
            self.unembed.weight.data /= d_hidden**0.5

    def hidden(self, pairs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(pre, post)`` of the last hidden layer."""
        a, b = pairs[:, 0], pairs[:, 1]
        t = self.model_type
        if t == "X":
            pre = self.l1(self.embed1(a) + self.embed2(b))
        elif t == "D":
            pre = self.l1(torch.cat([self.embed(a), self.embed(b)], dim=1))
        elif t == "C":
            pre = self.l1(self.embed(a)) + self.l1(self.embed(b))
        else:
            pre = self.l1(self.embed(a) + self.embed(b))
        if t in ("B", "C"):
            pre = self.l2(F.relu(pre))
        return pre, F.relu(pre)

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.hidden(pairs)[1] @ self.unembed.weight.t()

    def answer(self, pairs: torch.Tensor) -> dict[str, torch.Tensor]:
        pre, post = self.hidden(pairs)
        return {"logits": post @ self.unembed.weight.t(), "hook_pre": pre, "hook_post": post}


def zhong_mlp_config(model: ZhongMLP, runid: str, **extra) -> dict:
    """``train-linear.py``'s ``config`` with ``func: None``, as it dumps it (no ``funcs``)."""
    return {"C": model.C, "model_type": model.model_type, "n_vocab": model.C, "d_model": model.d_hidden,
            "d_hidden": model.d_hidden, "epoch": 20000, "lr": 1e-3, "weight_decay": 2.0, "frac": 0.8,
            "runid": runid, "func": None, **extra}


def save_zhong_mlp(model: ZhongMLP, directory: Path, runid: str, config: bool = True, **extra) -> Path:
    """Write ``model_<runid>.pt`` (``torch.save(model.state_dict())``) and, unless ``config=False``,
    ``config_<runid>.json``; returns the model file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"model_{runid}.pt"
    torch.save(model.state_dict(), path)
    if config:
        (directory / f"config_{runid}.json").write_text(json.dumps(zhong_mlp_config(model, runid, **extra)))
    return path
