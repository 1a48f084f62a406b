"""What every architecture module shares: strict state-dict checks and the by-construction record.

An architecture module (``interp/arch/<name>.py``) defines ``NAME``, ``DESCRIPTION``,
``recognises(keys)`` and a frozen dataclass with ``from_state_dict``, ``state_dict``, ``to``,
``inputs(pairs)`` and ``hooks(x_a, x_b)`` (``hook_pre``, ``hook_post``, ``logits`` at the answer
position), ``readout`` (``[d_mlp, p]``: what each neuron adds to each logit), ``embedding``
(``[p, d]``: the number tokens' embedding), ``W_neur`` (the token-to-neuron map, or None) and
``by_construction`` (metrics whose value is fixed by the architecture). :mod:`interp.model` lists
the modules; nothing outside them branches on the architecture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from interp.errors import CheckpointError

COMPUTE_DTYPES = (torch.float32, torch.float64)


class SharedShapes:
    """``d_model`` and ``d_mlp``, read the same way in every architecture: ``W_E``'s columns and
    ``W_in``'s columns (each architecture reads ``p`` where its format puts it)."""

    @property
    def d_model(self) -> int:
        return self.W_E.shape[1]

    @property
    def d_mlp(self) -> int:
        return self.W_in.shape[1]


def _gelu_new(x: Tensor) -> Tensor:
    return F.gelu(x, approximate="tanh")


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "relu": torch.relu, "gelu": F.gelu, "gelu_new": _gelu_new, "quad": torch.square}
"""The neurons' activation functions by name: ``relu``; ``gelu`` (exact, ``torch.nn.functional.gelu``,
as Nanda et al. and Zhong et al. use it); ``gelu_new`` (the tanh approximation, TransformerLens's
``gelu_new``); ``quad`` (``x**2``, the one-hot MLP study's ``Quad``)."""


def activation_name(text: str, where: str) -> str:
    """The canonical name of an activation as code bases write it (``ReLU``, ``GeLU``, ``Quad``...).

    >>> activation_name("GeLU", "cfg"), activation_name("relu", "cfg")
    ('gelu', 'relu')
    """
    name = str(text).strip().lower()
    if name not in ACTIVATIONS:
        raise CheckpointError(where, f"activation {text!r} is not one this tool computes "
                              f"({', '.join(ACTIVATIONS)})")
    return name


class ByConstruction(NamedTuple):
    """A metric's value on every checkpoint of an architecture, trained or not, and why."""

    value: float
    reason: str


def checked_tensors(state: dict, where: str, required: dict[str, tuple[str, int]],
                    optional: dict[str, tuple[str, int]] | None = None, ignored: tuple[str, ...] = (),
                    understood: str = "") -> dict[str, Tensor]:
    """The tensors of ``state`` by key, checked strictly: exactly the ``required`` keys plus any of
    the ``optional`` ones (``ignored`` keys are dropped), each a finite floating-point tensor of
    the given rank. They come back on the CPU in one compute dtype: float64 if every tensor is
    float64, else float32 (float16 and bfloat16 are widened).

    Parameters
    ----------
    required, optional: ``{key: (field name, rank)}``.
    understood: what the format is, for the message about missing or unexpected keys.
    """
    optional = optional or {}
    keys = {str(k) for k in state} - set(ignored)
    missing, extra = set(required) - keys, keys - set(required) - set(optional)
    if missing or extra:
        parts = ([f"missing key(s) {', '.join(sorted(missing))}"] if missing else []) + (
            [f"unexpected key(s) {', '.join(sorted(extra))}"] if extra else [])
        raise CheckpointError(where, f"{'; '.join(parts)}; expected {understood}")
    tensors = {}
    for key in [k for k in {**required, **optional} if k in keys]:
        t, rank = state[key], {**required, **optional}[key][1]
        if not isinstance(t, Tensor):
            raise CheckpointError(where, f"{key} is a {type(t).__name__}, not a tensor")
        if t.ndim != rank:
            raise CheckpointError(where, f"{key} has rank {t.ndim} (shape {list(t.shape)}), expected {rank}")
        if not t.is_floating_point():
            raise CheckpointError(where, f"{key} has dtype {t.dtype}, expected a floating-point dtype")
        t = t.detach().to("cpu")
        if t.dtype not in COMPUTE_DTYPES:
            t = t.float()
        if not torch.isfinite(t).all():
            raise CheckpointError(where, f"{key} holds NaN or Inf values")
        tensors[key] = t
    dtype = torch.float64 if {t.dtype for t in tensors.values()} == {torch.float64} else torch.float32
    return {k: t.to(dtype) for k, t in tensors.items()}


def check_shapes(tensors: dict[str, Tensor], shapes: dict[str, tuple[int, ...]], where: str,
                 reading: dict[str, str], keys: dict[str, str] | None = None) -> None:
    """Raise unless each present field has its expected shape, and no dimension is empty.

    Parameters
    ----------
    reading: where each dimension was read from, for the message.
    keys: the state-dict key of each field, for the message (default: the field's name).
    """
    keys = keys or {}
    dims = ", ".join(f"{d} from {src}" for d, src in reading.items())
    for name, t in tensors.items():
        if tuple(t.shape) != tuple(shapes[name]):
            raise CheckpointError(where, f"{keys.get(name, name)} has shape {list(t.shape)}, expected "
                                  f"{list(shapes[name])} (reading {dims})")
    empty = sorted({keys.get(name, name) for name, t in tensors.items() if t.numel() == 0})
    if empty:
        raise CheckpointError(where, f"{', '.join(empty)} empty: the weights need every dimension >= 1")
