"""One pass per checkpoint, counted, not timed (issue 22): the real plugin gates the bundled MLP and
transformer in-process while every model's ``inputs`` (what runs before its hooks on every path
through the model: the one forward pass, a split's logits, the gradients) counts the pairs it is
given, per model.

* With gradients off (the logits over pairs), every pair goes through the model exactly once: the
  one pass. The excluded losses read the training pairs' logits that pass kept; before issue 22
  they streamed them through the model again for each of their four claims (the training pairs
  were counted 5 times and this test failed).
* With gradients on, only Zhong et al.'s gradient symmetricity (the report's clock/pizza entry)
  runs the model, on its 100 triples: a backward pass needs its own forward pass.
* A metric two claims read with the same arguments (``excluded-loss`` and
  ``excluded-loss-at-most-uniform``; ``test-accuracy``, which every claim requires) is computed
  once per checkpoint.
"""

from __future__ import annotations

import functools
from collections import Counter

import pytest
import torch

import interp.metrics_causal  # noqa: F401  (registers the causal metrics before they are wrapped below, run alone too)
from interp.arch.mlp import MLP
from interp.arch.transformer import Transformer
from interp.claims.claim import run_attrs
from interp.metrics import zhong_triples
from interp.registry import METRICS
from tests._paths import BUNDLED, FIXTURES

pytestmark = pytest.mark.integration
CHECKPOINTS = (BUNDLED, FIXTURES / "transformer" / "add" / "epoch015000.pt")


def model_key(model) -> tuple:
    """Which model (the weights, not the object: a run moves its model to the device, a copy)."""
    return type(model).__name__, model.p, round(float(model.W_E.double().sum()), 6)


@pytest.fixture
def counted(monkeypatch):
    """``{(model, grad enabled): Counter of pair index a*p + b}`` of every pair through the models."""
    seen: dict[tuple, Counter] = {}
    for cls in (MLP, Transformer):
        original = cls.inputs

        def inputs(self, pairs, original=original):
            key = (model_key(self), torch.is_grad_enabled())
            seen.setdefault(key, Counter()).update((pairs[:, 0] * self.p + pairs[:, 1]).tolist())
            return original(self, pairs)

        monkeypatch.setattr(cls, "inputs", inputs)
    return seen


def gate(pytester, *paths) -> None:
    result = pytester.runpytest_inprocess(*(f"--checkpoint={p}" for p in paths), "-p", "no:cacheprovider", "-q")
    assert result.ret == 0, "\n".join(result.outlines[-20:])


def test_every_pair_goes_through_the_model_once_per_checkpoint(pytester, counted):
    gate(pytester, *CHECKPOINTS)
    models = {key for key, _ in counted}
    assert len(models) == len(CHECKPOINTS)
    for model in models:
        p = model[1]
        logits = counted[(model, False)]
        twice = {pair: n for pair, n in logits.items() if n > 1}
        assert not twice, (f"{model[0]}: {len(twice)} pairs went through the model more than once "
                           f"(up to {max(twice.values())} times)")
        assert set(logits) == set(range(p * p))  # and each pair once: the one pass
        triples = zhong_triples(p)
        allowed = Counter((triples[:, 0] * p + triples[:, 1]).tolist())
        assert counted.get((model, True), Counter()) <= allowed  # the gradients' own passes, nothing else


def test_a_metric_is_computed_once_per_run_for_the_same_arguments(pytester, monkeypatch):
    calls: Counter = Counter()
    attrs = run_attrs()
    for name, fn in list(METRICS.items()):
        @functools.wraps(fn)
        def counting(*args, _fn=fn, _name=name, **kwargs):
            calls[(_name, repr(sorted((k, v) for k, v in kwargs.items() if k not in attrs)))] += 1
            return _fn(*args, **kwargs)

        monkeypatch.setitem(METRICS, name, counting)
    gate(pytester, BUNDLED)
    assert calls[("excluded_loss_vs_uniform", repr([("split", "train")]))] == 1  # two claims read it
    assert calls[("clock_excluded_loss_vs_uniform", repr([("split", "train")]))] == 1
    assert calls[("accuracy", repr([("split", "test")]))] == 1  # every claim requires it
    assert max(calls.values()) == 1, [key for key, n in calls.items() if n > 1]
