"""Readers of the field's published checkpoint layouts: one module per code base, each mapping
its files onto one of the two computations (:class:`interp.arch.mlp.MLP`,
:class:`interp.arch.transformer.Transformer`).

A layout module defines ``NAME``, ``CODE_BASE`` (the code base and file it follows),
``DESCRIPTION`` (for messages), ``recognises(state, facts)`` and ``read(state, where, facts)``;
its docstring names the code base's quirks. :data:`LAYOUTS` lists them in the order they are
tried (the most specific first). A lab's own model class comes in through the
``pytest_interp_model`` hook instead (docs/formats.md).
"""

from __future__ import annotations

from collections.abc import Callable

from interp.errors import CheckpointError
from interp.facts import FILE, Facts
from interp.layouts import chughtai, interp_mlp, nanda, onehot, transformerlens, zhong

LAYOUTS = {m.NAME: m for m in (chughtai, zhong, nanda, onehot, transformerlens, interp_mlp)}
Adapter = Callable[[str, dict, Facts], object]


def understood() -> str:
    """The layouts understood, for messages."""
    return "; ".join(m.DESCRIPTION for m in LAYOUTS.values())


def read_model(state: object, where: str, facts: Facts, adapters: tuple[Adapter, ...] = ()):
    """The model a loaded state dict holds: the first adapter that returns a model, else the first
    layout that recognises it, checked strictly by that layout. Records the layout in ``facts``."""
    for adapter in adapters:
        model = adapter(where, state, facts)
        if model is not None:
            facts.offer("layout", getattr(adapter, "__name__", "adapter"), FILE, "pytest_interp_model")
            return model
    if not isinstance(state, dict):
        raise CheckpointError(where, f"not a state dict: holds a {type(state).__name__}, expected a dict of "
                              f"tensors: {understood()}")
    for module in LAYOUTS.values():
        if module.recognises(state, facts):
            model = module.read(state, where, facts)
            facts.offer("layout", module.NAME, FILE, "its keys")
            return model
    keys = sorted(str(k) for k in state)
    shown = ", ".join(keys[:6]) + (", ..." if len(keys) > 6 else "")
    raise CheckpointError(where, f"not a format this tool reads (keys {shown or 'none'}); understood: {understood()}")
