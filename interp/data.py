"""The data set: every pair ``(a, b)``, its label for the task, and the train/test split."""

from __future__ import annotations

from typing import Literal

import torch
from jaxtyping import Int
from torch import Tensor

from interp.names import TASKS

TRAIN_FRACTION = 0.3
DATA_SEED = 0
Task = Literal["add", "sub"]


def all_pairs(p: int) -> Int[Tensor, "pair 2"]:
    """Every pair ``(a, b)`` in row-major order: row ``i`` is ``(i // p, i % p)``.

    >>> all_pairs(3)[:4].tolist()
    [[0, 0], [0, 1], [0, 2], [1, 0]]
    """
    idx = torch.arange(p * p)
    return torch.stack([idx // p, idx % p], dim=-1)


def labels(pairs: Int[Tensor, "pair 2"], p: int, task: Task = "add") -> Int[Tensor, " pair"]:
    """The answer for each pair: ``(a + b) mod p`` (``add``) or ``(a - b) mod p`` (``sub``).

    >>> labels(torch.tensor([[2, 4]]), 5).tolist(), labels(torch.tensor([[2, 4]]), 5, "sub").tolist()
    ([1], [3])
    """
    if task == "add":
        return (pairs[:, 0] + pairs[:, 1]) % p
    if task == "sub":
        return (pairs[:, 0] - pairs[:, 1]) % p
    raise ValueError(f"unknown task {task!r}; known: {', '.join(TASKS)}")


def split_indices(
    p: int, train_fraction: float = TRAIN_FRACTION, seed: int = DATA_SEED
) -> tuple[Int[Tensor, " train"], Int[Tensor, " test"]]:
    """Indices into :func:`all_pairs` of the train and test pairs (the same for every task).

    ``torch.manual_seed(seed)``, then ``randperm(p*p)``: the first ``int(train_fraction * p*p)``
    are train, the rest test. The global RNG state is restored afterwards.

    >>> train, test = split_indices(113)
    >>> len(train), len(test), all_pairs(113)[train[0]].tolist()
    (3830, 8939, [37, 1])
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        perm = torch.randperm(p * p)
    cutoff = int(train_fraction * p * p)
    return perm[:cutoff], perm[cutoff:]
