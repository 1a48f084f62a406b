"""The registry of metrics: :data:`METRICS` maps a name (the ``metric`` of ``claims.yaml``) to its
function, filled by the :func:`metric` decorator in :mod:`interp.metrics` and
:mod:`interp.metrics_causal`; what a metric reads from a run and what a claim sets; and
:class:`NotDefined`, raised when a metric reads something a model does not have. It imports no
metric module, so both can import it and neither imports the other.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

METRICS: dict[str, Callable[..., float]] = {}


class NotDefined(Exception):
    """A metric reads something the model's architecture does not have (the claim is SKIP)."""


def metric(fn: Callable[..., float]) -> Callable[..., float]:
    """Register ``fn`` under its own name."""
    METRICS[fn.__name__] = fn
    return fn


def run_inputs(fn: Callable[..., float], run_attrs: set[str]) -> list[str]:
    """The parameters of ``fn`` filled from the run."""
    return [n for n in inspect.signature(fn).parameters if n in run_attrs]


def claim_params(fn: Callable[..., float], run_attrs: set[str]) -> dict[str, inspect.Parameter]:
    """The parameters of ``fn`` a claim sets (with their defaults, if any)."""
    return {n: p for n, p in inspect.signature(fn).parameters.items() if n not in run_attrs}
