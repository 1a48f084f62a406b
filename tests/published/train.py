"""A small full-batch trainer for the re-implemented published models (tests and population scripts).

Every model here has ``answer(pairs) -> {"logits", "hook_pre", "hook_post"}``; :func:`train` fits its
logits to ``(a + b) mod p`` (or ``(a - b) mod p``) with AdamW on the given training pairs, the loss
in float64 over **every** logit column, as the published code bases compute it (Nanda et al.'s
``=`` column and Zhong et al.'s ``diff_vocab`` columns included). No scheduler, no minibatches.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

Forward = Callable[[torch.Tensor], dict[str, torch.Tensor]]


def all_pairs(p: int) -> torch.Tensor:
    """Every pair ``[a, b]`` in row order (``a`` major): row ``a * p + b`` is ``[a, b]``. ``[p*p, 2]``."""
    a, b = torch.meshgrid(torch.arange(p), torch.arange(p), indexing="ij")
    return torch.stack([a.flatten(), b.flatten()], dim=-1)


def labels(pairs: torch.Tensor, p: int, task: str = "add") -> torch.Tensor:
    """``(a + b) mod p`` (``task="add"``) or ``(a - b) mod p`` (``"sub"``)."""
    sign = {"add": 1, "sub": -1}[task]
    return (pairs[:, 0] + sign * pairs[:, 1]) % p


def as_pairs(train: torch.Tensor, p: int) -> torch.Tensor:
    """Pairs ``[k, 2]`` given as pairs, or as indices ``[k]`` into :func:`all_pairs`."""
    train = torch.as_tensor(train, dtype=torch.long)
    return train if train.ndim == 2 else all_pairs(p)[train]


def adamw(model: nn.Module, lr: float = 1e-3, weight_decay: float = 1.0) -> torch.optim.AdamW:
    """AdamW with the field's usual betas ``(0.9, 0.98)``."""
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.98))


def evaluate(model: nn.Module, pairs: torch.Tensor, p: int, task: str = "add",
             forward: Forward | None = None) -> tuple[float, float]:
    """``(loss, accuracy)`` on ``pairs``; accuracy is the argmax over every logit column."""
    forward = forward or model.answer
    with torch.no_grad():
        logits = forward(pairs)["logits"]
        y = labels(pairs, p, task)
        loss = F.cross_entropy(logits.double(), y).item()
        return loss, (logits.argmax(-1) == y).double().mean().item()


def train(model: nn.Module, p: int, train_set: torch.Tensor, epochs: int, *, task: str = "add",
          lr: float = 1e-3, weight_decay: float = 1.0, optimizer: torch.optim.Optimizer | None = None,
          forward: Forward | None = None, callback: Callable[[int, float], None] | None = None) -> nn.Module:
    """Train ``model`` in place for ``epochs`` full-batch AdamW steps and return it.

    ``train_set``: indices into :func:`all_pairs` or pairs ``[k, 2]``. ``optimizer``: pass one (from
    :func:`adamw`) to keep its state for a writer. ``forward``: defaults to ``model.answer``.
    ``callback(epoch, train_loss)`` runs after each step, ``epoch`` counting from 0.
    """
    pairs = as_pairs(train_set, p)
    y = labels(pairs, p, task)
    forward = forward or model.answer
    optimizer = optimizer or adamw(model, lr, weight_decay)
    for epoch in range(epochs):
        loss = F.cross_entropy(forward(pairs)["logits"].double(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if callback is not None:
            callback(epoch, loss.item())
    return model
