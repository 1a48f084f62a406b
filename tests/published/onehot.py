"""The feature-learning study's one-hot MLP (``EmbedMLP``) and its run directories, written from the
facts of issue 15 (no code of that study was available to read).

* Keys: ``mlp.W_in [d_mlp, p]``, ``mlp.W_out [p, d_mlp]`` and a ``basis`` buffer.
  ``logits = W_out @ act(W_in @ (onehot(a) + onehot(b)))``: ``hook_pre = W_in[:, a] + W_in[:, b]``
  (``2 W_in[:, a]`` when ``a == b``), ``act`` is ``ReLU`` or ``Quad`` (``x ** 2``), no biases.
* The ``basis`` buffer here is the identity ``[p, p]`` (the study's content is unknown): only its
  presence matters; it takes no part in the forward.
* The activation is named only in the run directory's name, ``p_<p>_dmlp_<d_mlp>_<act>_...``; this
  module writes ``p_23_dmlp_512_ReLU_frac_0.3_seed_0``-style names.
* A run directory holds ``<epoch>.pth`` files, each ``{"model", "epoch", "test_accuracy",
  "train_accuracy", "test_loss", "train_loss"}`` (Python floats, computed by :meth:`EmbedMLP.answer`
  on the split: argmax over the ``p`` logits, cross-entropy in float64), ``final.pth`` ``{"model",
  "epoch", "train_losses", "test_losses", "train_accuracies", "test_accuracies", "optimizer"}`` (the
  lists hold one value per epoch trained; ``optimizer`` is AdamW's ``state_dict()``), and
  ``train_data.pth`` / ``test_data.pth``, the split. Representation (``data_form``): ``"list"``
  (default), a Python list of ``(a, b)`` tuples of ints; or ``"tensor"``, a LongTensor ``[k, 2]``.
* The split comes from :func:`onehot_split` (a ``torch.randperm`` of the pairs in row order seeded
  with ``seed``; the files, not this rule, are what a reader must use).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tests.published.train import adamw, all_pairs, evaluate, train

ACTS = ("ReLU", "Quad")
CURVES = {"train_losses": "train_loss", "test_losses": "test_loss", "train_accuracies": "train_accuracy",
          "test_accuracies": "test_accuracy"}


class _MLP(nn.Module):
    def __init__(self, p: int, d_mlp: int) -> None:
        super().__init__()
        self.W_in = nn.Parameter(torch.randn(d_mlp, p) / p**0.5)
        self.W_out = nn.Parameter(torch.randn(p, d_mlp) / d_mlp**0.5)


class EmbedMLP(nn.Module):
    """The one-hot MLP; ``answer(pairs)`` gives ``logits [k, p]``, ``hook_pre`` and ``hook_post [k, d_mlp]``."""

    def __init__(self, p: int, d_mlp: int = 512, act: str = "ReLU", seed: int = 0) -> None:
        super().__init__()
        if act not in ACTS:
            raise ValueError(f"act {act!r} not in {ACTS}")
        self.p, self.d_mlp, self.act = p, d_mlp, act
        self.register_buffer("basis", torch.eye(p))
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            self.mlp = _MLP(p, d_mlp)

    def answer(self, pairs: torch.Tensor) -> dict[str, torch.Tensor]:
        x = F.one_hot(pairs[:, 0], self.p).float() + F.one_hot(pairs[:, 1], self.p).float()
        pre = x @ self.mlp.W_in.t()
        post = F.relu(pre) if self.act == "ReLU" else pre**2
        return {"logits": post @ self.mlp.W_out.t(), "hook_pre": pre, "hook_post": post}

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.answer(pairs)["logits"]


def onehot_split(p: int, frac_train: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(train, test)``, each ``[k, 2]``: a seeded ``randperm`` of the pairs, the first ``int(frac * p * p)``."""
    perm = torch.randperm(p * p, generator=torch.Generator().manual_seed(seed))
    pairs, div = all_pairs(p)[perm], int(frac_train * p * p)
    return pairs[:div], pairs[div:]


def run_name(model: EmbedMLP, frac_train: float, seed: int) -> str:
    return f"p_{model.p}_dmlp_{model.d_mlp}_{model.act}_frac_{frac_train}_seed_{seed}"


def _data(pairs: torch.Tensor, data_form: str) -> list | torch.Tensor:
    return [(int(a), int(b)) for a, b in pairs.tolist()] if data_form == "list" else pairs.clone()


def save_onehot_run(parent: Path, model: EmbedMLP, epochs: list[int], frac_train: float = 0.3, seed: int = 0,
                    lr: float = 1e-3, weight_decay: float = 1.0, data_form: str = "list",
                    name: str | None = None) -> Path:
    """Train ``model`` in place (full-batch AdamW on ``(a + b) mod p``) and write its run directory
    under ``parent``: ``<e>.pth`` for each ``e`` in ``epochs`` (sorted, after ``e`` steps; ``0`` is
    the initial weights), ``final.pth`` after ``max(epochs)`` steps, and the two data files.
    Returns the directory."""
    directory = parent / (name or run_name(model, frac_train, seed))
    directory.mkdir(parents=True, exist_ok=True)
    train_pairs, test_pairs = onehot_split(model.p, frac_train, seed)
    torch.save(_data(train_pairs, data_form), directory / "train_data.pth")
    torch.save(_data(test_pairs, data_form), directory / "test_data.pth")
    optimizer = adamw(model, lr, weight_decay)
    curves: dict[str, list[float]] = {key: [] for key in CURVES}

    def measure() -> dict:
        (train_loss, train_acc), (test_loss, test_acc) = (evaluate(model, pairs, model.p)
                                                          for pairs in (train_pairs, test_pairs))
        return {"test_accuracy": test_acc, "train_accuracy": train_acc, "test_loss": test_loss,
                "train_loss": train_loss}

    def step(_epoch: int, _loss: float) -> None:
        m = measure()
        for key, name in CURVES.items():
            curves[key].append(m[name])

    done = 0
    for epoch in sorted(epochs):
        train(model, model.p, train_pairs, epoch - done, optimizer=optimizer, callback=step)
        done = epoch
        torch.save({"model": model.state_dict(), "epoch": epoch, **measure()}, directory / f"{epoch}.pth")
    torch.save({"model": model.state_dict(), "epoch": done, **curves, "optimizer": optimizer.state_dict()},
               directory / "final.pth")
    return directory
