"""Test doubles: models given as tables, for metrics whose answers are worked out by hand.

:class:`TableModel` satisfies :class:`interp.model.Model` with activations read from a table, so a
test can hand the architecture-blind :class:`interp.run.Run` any ``hook_pre`` it likes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import ClassVar

import torch

from interp.checkpoint import Checkpoint


@dataclass(frozen=True)
class TableModel:
    """``hook_pre[a, b] = pre[a, b]``, ``hook_post = relu(hook_pre)``, logits ``= hook_post @ readout``.

    The inputs are one-hot codes of ``a`` and ``b``; the embedding is the identity.
    """

    architecture: ClassVar[str] = "table"
    by_construction: ClassVar[dict] = {}
    undefined: ClassVar[dict] = {"W_neur": "a table has no weights"}
    pre: torch.Tensor  # [p, p, d_mlp]
    readout: torch.Tensor  # [d_mlp, p]

    @property
    def p(self) -> int:
        return self.pre.shape[0]

    @property
    def d_mlp(self) -> int:
        return self.pre.shape[2]

    @property
    def embedding(self) -> torch.Tensor:
        return torch.eye(self.p, dtype=self.pre.dtype)

    W_neur = None

    def dims(self) -> dict[str, int]:
        return {"p": self.p, "d_model": self.p, "d_mlp": self.d_mlp}

    def activation(self, pre):
        return torch.relu(pre)

    def inputs(self, pairs):
        eye = self.embedding
        return eye[pairs[:, 0]], eye[pairs[:, 1]]

    def hooks(self, x_a, x_b):
        pre = self.pre[x_a.argmax(-1), x_b.argmax(-1)]
        post = torch.relu(pre)
        return {"hook_pre": pre, "hook_post": post, "logits": post @ self.readout}

    def state_dict(self):
        return {"pre": self.pre, "readout": self.readout}

    def to(self, device, dtype=None):
        return replace(self, pre=self.pre.to(device, dtype), readout=self.readout.to(device, dtype))


def table_checkpoint(pre: torch.Tensor, readout: torch.Tensor | None = None) -> Checkpoint:
    """A checkpoint of a :class:`TableModel` (readout: the identity, so logits = relu(pre))."""
    readout = torch.eye(pre.shape[2], pre.shape[0], dtype=pre.dtype) if readout is None else readout
    return Checkpoint(Path("table.pt"), "0" * 64, TableModel(pre, readout))
