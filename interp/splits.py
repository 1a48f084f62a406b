"""Each code base's train/test split, rebuilt from what its files say (issue 15).

A split is named by the fact ``split`` (:mod:`interp.facts`), with ``split_seed`` and
``split_fraction``:

* ``project``: this project's and the seed notebook's: ``torch.manual_seed(seed)`` (0), then
  ``randperm(p^2)``; the first ``int(fraction * p^2)`` (30%) are train.
* ``nanda``: Nanda et al.'s: ``random.seed(seed)``, ``random.shuffle`` of the ``(a, b, p)`` triples
  in row order; the first ``int(fraction * p^2)`` are train.
* ``chughtai``: Chughtai et al.'s: ``torch.manual_seed(seed)``, ``randperm(n^2)`` over the pairs in
  row order (their code shuffles only when the seed is not 0), the first ``int(fraction * n^2)``.
* ``files``: the pairs listed in a run directory's ``train_data.pth`` / ``test_data.pth`` (a list of
  ``(a, b)``, or a tuple ``(pairs, labels)`` of tensors; for ``frac_train == 1`` both hold every pair).
* ``all``: no file says how the split was made: every pair is both train and test.

>>> train, test = split_pairs("nanda", 5, seed=0, fraction=0.3)
>>> len(train), len(test)
(7, 18)
"""

from __future__ import annotations

import random
from pathlib import Path

import torch
from jaxtyping import Int
from torch import Tensor

from interp.data import split_indices

KINDS = ("project", "nanda", "chughtai", "files", "all")
DEFAULTS = {"project": (0, 0.3), "nanda": (0, 0.3), "chughtai": (0, 0.3)}


def split_pairs(kind: str, p: int, seed: int | None = None, fraction: float | None = None,
                files: tuple[Tensor, Tensor] | None = None) -> tuple[Int[Tensor, " train"], Int[Tensor, " test"]]:
    """Indices into :func:`interp.data.all_pairs` of the train and test pairs of split ``kind``."""
    default_seed, default_fraction = DEFAULTS.get(kind, (0, 0.3))
    seed = default_seed if seed is None else int(seed)
    fraction = default_fraction if fraction is None else float(fraction)
    cutoff = int(fraction * p * p)
    if kind == "project":
        return split_indices(p, fraction, seed)
    if kind == "nanda":
        order = list(range(p * p))  # the triples (a, b, p) in row order; shuffling them shuffles their indices
        random.Random(seed).shuffle(order)
        perm = torch.tensor(order)
    elif kind == "chughtai":
        if seed:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                perm = torch.randperm(p * p)
        else:
            perm = torch.arange(p * p)
    elif kind == "files":
        train, test = files
        return train, test
    elif kind == "all":
        every = torch.arange(p * p)
        return every, every
    else:
        raise ValueError(f"unknown split {kind!r}; known: {', '.join(KINDS)}")
    return perm[:cutoff], perm[cutoff:]


def pair_indices(pairs: object, p: int, where: str, task: str | None = None) -> Int[Tensor, " n"]:
    """Indices ``a * p + b`` of a split file's pairs: a list of ``(a, b)``, a ``[n, 2]`` tensor, or
    the one-hot study's later form, a tuple ``(pairs [n, 2], labels [n])``, whose labels must be
    ``task``'s answers (``add``: ``(a + b) mod p``; ``sub``: ``(a - b) mod p``) when it is given."""
    from interp.errors import CheckpointError

    labels = None
    if isinstance(pairs, (tuple, list)) and len(pairs) == 2 and all(isinstance(x, Tensor) for x in pairs) \
            and pairs[0].ndim == 2:
        pairs, labels = pairs
    try:
        t = torch.as_tensor(pairs if isinstance(pairs, Tensor) else [list(x)[:2] for x in pairs], dtype=torch.long)
    except (TypeError, ValueError, RuntimeError):
        raise CheckpointError(where, "not a list of (a, b) pairs") from None
    if t.ndim != 2 or t.shape[1] < 2 or t.numel() == 0:
        raise CheckpointError(where, f"expected pairs [n, 2], got shape {list(t.shape)}")
    if (t[:, :2] < 0).any() or (t[:, :2] >= p).any():
        raise CheckpointError(where, f"holds numbers outside 0..{p - 1}")
    if labels is not None:
        answers = {name: (t[:, 0] + sign * t[:, 1]) % p for name, sign in (("add", 1), ("sub", -1))}
        if labels.shape != (len(t),) or labels.is_floating_point():
            raise CheckpointError(where, f"its labels have shape {list(labels.shape)}, expected [{len(t)}] integers")
        fits = [name for name, answer in answers.items() if torch.equal(labels.long(), answer)]
        if task is not None and task not in fits:
            found = (f"they are the answers of --task={fits[0]}" if fits
                     else "they are neither (a + b) nor (a - b) mod p")
            raise CheckpointError(where, f"its labels are not the answers of the task gated ({task}): {found}")
    return t[:, 0] * p + t[:, 1]


def resolve(facts, p: int, directory: Path | None = None) -> tuple[Int[Tensor, " train"], Int[Tensor, " test"]]:
    """The train and test indices a checkpoint's facts name (``split``, ``split_seed``,
    ``split_fraction``; for ``files``, the split files in ``directory``)."""
    kind = facts.get("split", "all")
    if kind == "files":
        from interp.checkpoint import SPLIT_FILES

        loaded = []
        for name in SPLIT_FILES:
            path = directory / name
            try:
                pairs = torch.load(path, map_location="cpu", weights_only=True)
            except Exception as exc:  # any failure to read it: one line naming the file
                from interp.errors import CheckpointError

                raise CheckpointError(path, f"not a readable split file ({str(exc).splitlines()[0][:120]})") from None
            loaded.append(pair_indices(pairs, p, str(path), facts.get("task")))
        return split_pairs("files", p, files=(loaded[0], loaded[1]))
    return split_pairs(kind, p, facts.get("split_seed"), facts.get("split_fraction"))
