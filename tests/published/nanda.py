"""Nanda et al.'s grokking code (progress-measures paper, ``transformers.py``) and the files saved
around its transformer: the paper's ``saved_runs/*.pth``, forks' bare state dicts, and the Grok-Grok
fork's full-run file (``train_grok.py``). The model itself is :meth:`tests.published.zhong.Transformer.nanda`.

Quirks of the code base, kept here:

* Its ``Trainer`` (:func:`save_trainer_run`, from ``transformers.py`` at 5bf4dad) writes
  ``init.pth``, ``<epoch>.pth`` and ``final.pth`` into a ``grok_<time>`` directory. The container of
  the paper's ``saved_runs/*.pth`` (:func:`save_saved_run`) is not in that source, and the files
  are binary in the index: it follows issue 15's description.

* The split (``gen_train_test``): the list of triples ``(a, b, p)`` in row order, ``random.seed(seed)``,
  ``random.shuffle``, the first ``int(frac_train * p * p)`` are the training set. Grok-Grok shuffles
  triples ``(a, b, answer)`` the same way; ``random.shuffle``'s permutation depends only on the
  length, so the split is the same.
* ``Config`` is a frozen dataclass whose ``d_vocab = p + 1`` and ``d_mlp = 4 * d_model`` defaults
  are evaluated once, at class definition (114 and 512), whatever ``p`` a run sets; the saved
  ``config`` is ``dataclasses.asdict(config)``, which also holds a ``torch.device``. The config
  written here is that dict with ``d_vocab`` consistent with ``p`` and **without** ``device``, so that
  the file loads with ``torch.load(..., weights_only=True)``.
* Training reads all ``p + 1`` logits (the ``=`` column included) at the last of ``[a, b, =]``.
* Grok-Grok saves ``config: {..., n_ctx: 3, d_vocab: p + 1}`` with neither ``p`` nor the task, and
  a 3-row ``W_pos``, but trains on ``[a, b]`` (``data[:, :-1]`` of ``(a, b, answer)`` triples) read
  at position 1 (:func:`answer_two_tokens`). Its snapshots are taken after the step of every epoch
  ``e`` with ``e % 100 == 0 and e != 0`` (``copy.deepcopy(model.state_dict())``); ``model`` is the
  final state dict. With ``clone=False`` the snapshots are ``model.state_dict()`` as a buggy script
  appends them: views of the live parameters, so every snapshot holds the final weights, and after
  ``torch.load`` all snapshots (and ``model``) share one storage per key (same
  ``untyped_storage().data_ptr()``; they are distinct tensor objects).
"""

from __future__ import annotations

import copy
import random
from pathlib import Path

import torch

from tests.published.train import adamw, evaluate, labels
from tests.published.zhong import Transformer

FN_NAMES = {"add": "add", "sub": "subtract", "subtract": "subtract"}


def nanda(p: int, d_model: int = 128, n_heads: int = 4, d_mlp: int = 512, act_type: str = "ReLU",
          seed: int = 0) -> Transformer:
    """Nanda et al.'s transformer with weights drawn under ``torch.manual_seed(seed)`` (the global
    generator's state is restored afterwards)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return Transformer.nanda(p, d_model=d_model, n_heads=n_heads, d_mlp=d_mlp, act_fn=act_type)


def answer_two_tokens(model: Transformer, pairs: torch.Tensor) -> dict[str, torch.Tensor]:
    """Grok-Grok's input form: ``[a, b]`` (no ``=``), read at position 1; every logit column."""
    logits = model(model.tokens(pairs)[:, :2])[:, -1]
    cache = model.blocks[-1].mlp.cache
    return {"logits": logits, "hook_pre": cache["hook_pre"][:, -1], "hook_post": cache["hook_post"][:, -1]}


def nanda_split(p: int, seed: int = 0, frac_train: float = 0.3) -> tuple[torch.Tensor, torch.Tensor]:
    """``gen_train_test``: ``(train, test)``, each ``[k, 2]`` pairs in the shuffled order."""
    triples = [(a, b, p) for a in range(p) for b in range(p)]
    random.seed(seed)
    random.shuffle(triples)
    div = int(frac_train * len(triples))
    pairs = torch.tensor([(a, b) for a, b, _ in triples], dtype=torch.long)
    return pairs[:div], pairs[div:]


def _dims(model: Transformer) -> dict:
    attn, mlp = model.blocks[0].attn, model.blocks[0].mlp
    return {"d_model": model.embed.W_E.shape[0], "num_heads": attn.W_K.shape[0], "d_head": attn.W_K.shape[1],
            "d_mlp": mlp.W_in.shape[0], "n_ctx": model.pos_embed.W_pos.shape[0], "num_layers": len(model.blocks),
            "act_type": mlp.act_fn}


def nanda_config(model: Transformer, fn_name: str = "add", seed: int = 0, frac_train: float = 0.3,
                 num_epochs: int = 50000, **extra) -> dict:
    """The paper's ``dataclasses.asdict(Config)`` for ``model`` (plain types; no ``device``, no
    ``d_head``, a property). ``fn_name``: ``"add"`` or ``"subtract"`` (``"sub"`` accepted)."""
    dims = _dims(model)
    return {"lr": 1e-3, "weight_decay": 1.0, "p": model.p, "d_model": dims["d_model"],
            "fn_name": FN_NAMES[fn_name], "frac_train": frac_train, "num_epochs": num_epochs,
            "save_models": False, "save_every": 100, "stopping_thresh": -1, "seed": seed,
            "num_layers": dims["num_layers"], "batch_style": "full", "d_vocab": model.p + 1,
            "n_ctx": dims["n_ctx"], "d_mlp": dims["d_mlp"], "num_heads": dims["num_heads"],
            "act_type": dims["act_type"], "use_ln": False, "take_metrics_every_n_epochs": 1000, **extra}


def save_saved_run(model: Transformer, path: Path, config: dict | None = None, train_losses: list | None = None,
                   test_losses: list | None = None, epoch: int | None = None,
                   optimizer: torch.optim.Optimizer | None = None, **extra) -> Path:
    """A ``saved_runs/*.pth`` file: ``{"model", "train_losses", "test_losses"}``, plus ``config``,
    ``epoch`` and ``optimizer`` (its ``state_dict()``) where given; ``config=None`` leaves it out."""
    out: dict = {"model": model.state_dict(), "train_losses": list(train_losses or [1.0]),
                 "test_losses": list(test_losses or [1.0])}
    if config is not None:
        out["config"] = config
    if epoch is not None:
        out["epoch"] = epoch
    if optimizer is not None:
        out["optimizer"] = optimizer.state_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({**out, **extra}, path)
    return path


TRAINER_EPOCH_KEYS = ("model", "train_loss", "test_loss", "epoch")
TRAINER_FINAL_KEYS = ("model", "train_loss", "test_loss", "train_losses", "test_losses", "epoch", "optimizer",
                      "scheduler")


def save_trainer_run(model: Transformer, directory: Path, epochs: list[int], num_epochs: int, seed: int = 0,
                     frac_train: float = 0.3) -> Path:
    """The run directory ``transformers.py``'s ``Trainer`` writes with ``save_models``, from its
    source (progress-measures-paper at 5bf4dad): ``init.pth`` ``{"model", "train_data",
    "test_data"}`` (the split's ``(a, b, p)`` triples), ``<epoch>.pth`` ``{"model", "train_loss",
    "test_loss", "epoch"}`` for each of ``epochs``, and ``final.pth`` with the loss lists, ``epoch =
    num_epochs``, ``optimizer`` and ``scheduler`` (AdamW, ``LambdaLR(min(step / 10, 1))``). The
    weights are ``model``'s in every file and the losses placeholders: only the containers matter."""
    directory.mkdir(parents=True, exist_ok=True)
    train, test = nanda_split(model.p, seed, frac_train)
    triples = [[(int(a), int(b), model.p) for a, b in split.tolist()] for split in (train, test)]
    torch.save({"model": model.state_dict(), "train_data": triples[0], "test_data": triples[1]}, directory / "init.pth")
    for epoch in epochs:
        torch.save({"model": model.state_dict(), "train_loss": 1.0, "test_loss": 2.0, "epoch": epoch},
                   directory / f"{epoch}.pth")
    optimizer = adamw(model)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(step / 10, 1))
    torch.save({"model": model.state_dict(), "train_loss": 1.0, "test_loss": 2.0, "train_losses": [1.0] * num_epochs,
                "test_losses": [2.0] * num_epochs, "epoch": num_epochs, "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict()}, directory / "final.pth")
    return directory


def save_bare(model: Transformer, path: Path) -> Path:
    """A fork's bare ``torch.save(model.state_dict(), path)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def grokgrok_config(model: Transformer, seed: int = 42, frac_train: float = 0.3, num_epochs: int = 50000) -> dict:
    """Grok-Grok's ``TrainingConfig.__dict__``: no ``p``, no task, ``n_ctx`` from ``W_pos`` (3)."""
    dims = _dims(model)
    return {"d_vocab": model.p + 1, "seed": seed, "lr": 1e-3, "weight_decay": 1, "frac_train": frac_train,
            "num_epochs": num_epochs, "stopping_thresh": 1e-9, "batch_size": 16384,
            "num_layers": dims["num_layers"], "d_model": dims["d_model"], "batch_style": "full",
            "n_ctx": dims["n_ctx"], "d_mlp": dims["d_mlp"], "num_heads": dims["num_heads"],
            "d_head": dims["d_head"], "act_type": dims["act_type"], "use_ln": False}


def record_full_run(model: Transformer, num_epochs: int, task: str = "add", seed: int = 42, frac_train: float = 0.3,
                    every: int = 100, clone: bool = True, lr: float = 1e-3, weight_decay: float = 1.0) -> dict:
    """Train ``model`` in place as Grok-Grok does (full batch, ``[a, b]`` input, split
    :func:`nanda_split` with ``seed``) and return the full-run dict ``{"train_losses",
    "test_losses", "epochs", "state_dicts", "model", "config"}``. ``clone=False``: the buggy,
    uncloned snapshots (see the module docstring). No learning-rate warm-up (Grok-Grok's
    ``LambdaLR(min(step / 10, 1))`` is left out)."""
    p = model.p
    train_pairs, test_pairs = nanda_split(p, seed, frac_train)
    y = labels(train_pairs, p, task)
    optimizer = adamw(model, lr, weight_decay)
    run: dict = {"train_losses": [], "test_losses": [], "epochs": [], "state_dicts": []}
    for epoch in range(num_epochs):
        logits = answer_two_tokens(model, train_pairs)["logits"]
        loss = torch.nn.functional.cross_entropy(logits.double(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if epoch % every == 0 and epoch != 0:
            test_loss, _ = evaluate(model, test_pairs, p, task, forward=lambda x: answer_two_tokens(model, x))
            run["train_losses"].append(loss.item())
            run["test_losses"].append(test_loss)
            run["epochs"].append(epoch)
            snapshot = model.state_dict()
            run["state_dicts"].append(copy.deepcopy(snapshot) if clone else snapshot)
    run["model"] = model.state_dict()
    run["config"] = grokgrok_config(model, seed, frac_train, num_epochs)
    return run


def save_full_run(run: dict, path: Path) -> Path:
    """``torch.save`` a dict from :func:`record_full_run` (Grok-Grok names it ``full_run_data.pth``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(run, path)
    return path
