"""What a checkpoint file holds around its weights, by code base: one model or a whole run.

* a bare state dict (``torch.save(model.state_dict())``: this project, TransformerLens, forks);
* a training checkpoint ``{"model": state_dict, ...}``: Nanda et al.'s ``saved_runs/*.pth``
  (``config``, ``epoch``, ``optimizer``, loss lists), the one-hot study's ``<epoch>.pth`` (``epoch``,
  ``test_accuracy``, ...) and ``final.pth``; its ``config`` gives facts (:func:`interp.sidecars.config_facts`);
* a full-run file ``{"state_dicts": [...], "epochs": [...], ...}`` (Nanda et al.'s
  ``full_run_data.pth``, and Grok-Grok's, which adds the final ``model`` and its ``config``):
  a sweep, one entry per snapshot named by its epoch, plus the final ``model`` where it differs
  from the last snapshot. Snapshots saved without cloning (one tensor in memory for several
  epochs) are read as saved, with a one-line note.

Only tensors and plain containers are ever unpickled (:mod:`interp.checkpoint` loads with
``weights_only=True``); nothing else in a file is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from interp.errors import CheckpointError
from interp.facts import FILE, Facts
from interp.sidecars import config_facts

STORED = ("test_accuracy", "train_accuracy", "test_loss", "train_loss")


@dataclass
class Entry:
    """One model in a file: ``key`` names it within the file (None: the file holds one model)."""

    key: str | None
    state: dict
    facts: Facts
    epoch: int | None = None
    stored: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()


def is_state_dict(obj: object) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _keys(obj: dict) -> str:
    keys = sorted(map(str, obj))
    return ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")


def _epoch(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def entries(obj: object, where: str, facts: Facts) -> list[Entry]:
    """The models a loaded file holds, each with the facts its container adds to ``facts``."""
    if is_state_dict(obj) or not isinstance(obj, dict):
        return [Entry(None, obj, facts.copy())]
    if "state_dicts" in obj:
        return _full_run(obj, where, facts)
    if is_state_dict(obj.get("model")):
        own = facts.copy()
        config_facts(obj.get("config"), where, own)
        stored = {k: float(obj[k]) for k in STORED
                  if isinstance(obj.get(k), (int, float)) and not isinstance(obj.get(k), bool)}
        epoch = _epoch(obj.get("epoch"))
        own.offer("epoch", epoch, FILE, "the file's epoch")
        return [Entry(None, obj["model"], own, epoch, stored)]
    raise CheckpointError(where, f"not a format this tool reads (keys {_keys(obj)}): neither a state dict, nor a "
                          "training checkpoint with its weights under 'model', nor a full-run file with 'state_dicts'")


def _full_run(obj: dict, where: str, facts: Facts) -> list[Entry]:
    states, epochs = obj.get("state_dicts"), obj.get("epochs")
    if not isinstance(states, list) or not all(is_state_dict(s) for s in states):
        raise CheckpointError(where, "state_dicts is not a list of state dicts")
    if not isinstance(epochs, list) or len(epochs) != len(states) or any(_epoch(e) is None for e in epochs):
        raise CheckpointError(where, f"epochs must list one integer per state dict ({len(states)})")
    own = facts.copy()
    config_facts(obj.get("config"), where, own)
    notes = ()
    storages = [s[next(iter(s))].untyped_storage().data_ptr() for s in states]
    if len(set(storages)) < len(storages):
        shared = len(storages) - len(set(storages)) + 1
        notes = (f"{where}: {shared} of its {len(states)} state dicts are one tensor in memory (saved without "
                 "cloning): those snapshots all hold the same weights",)
    out = [Entry(f"epoch{e:06d}", s, own.copy(), e, {}, notes) for e, s in zip(epochs, states, strict=True)]
    final = obj.get("model")
    if is_state_dict(final) and not (states and _same(final, states[-1])):
        out.append(Entry("final", final, own.copy(), None, {}, notes))
    if not out:
        raise CheckpointError(where, "state_dicts is empty and there is no final model")
    return out


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and torch.equal(a[k], b[k]) for k in a)
