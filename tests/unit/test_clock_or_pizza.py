"""Clock or pizza as Zhong et al. decide it: their two numbers, computed as their code computes
them (re-implemented here from ``code/eval-main.ipynb`` and ``code/train-main.py`` on their model,
``tests/published/zhong.py``), and the report's verdict on trained models of both kinds."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pytest
import torch

from interp import algorithm, metrics
from interp.checkpoint import load_checkpoint
from interp.run import Run
from tests._paths import FIXTURES
from tests.published.zhong import Transformer

ZHONG = {0: FIXTURES / "zhong" / "model_p59c0s0.pt", 1: FIXTURES / "zhong" / "model_p59c1s0.pt"}
P = 59


def their_model(attn_coeff: int) -> Transformer:
    model = Transformer(P, attn_coeff=float(attn_coeff))
    model.load_state_dict(torch.load(ZHONG[attn_coeff], map_location="cpu", weights_only=True))
    return model


def their_gradient_symmetricity(model: Transformer) -> float:
    """eval-main.ipynb: ``forward_h`` keeps the looked-up embeddings ``t`` (before the positional
    embedding); per triple, the cosine of ``d o[c] / d t`` at positions 0 and 1, one at a time."""
    total = 0.0
    for a, b, c in random.Random(42).sample(list(itertools.product(range(P), repeat=3)), 100):
        t = model.embed(torch.tensor([[a, b]]))
        t.retain_grad()
        x = model.pos_embed(t)
        for block in model.blocks:
            x = block(x)
        model.unembed(x)[0, -1, c].backward()
        g = t.grad[0].double()
        total += float((g[0] * g[1]).sum() / g[0].pow(2).sum().sqrt() / g[1].pow(2).sum().sqrt())
    return total / 100


def their_distance_irrelevance(model: Transformer, wrong: bool) -> float:
    """train-main.py: the table ``[(a+b) % p][(a-b) % p]`` of the correct logit (``wrong``: the
    largest wrong one, what their tables hold), ``mean(std(oo, axis=0)) / std(oo)``."""
    pairs = torch.tensor([[a, b] for a in range(P) for b in range(P)])
    with torch.no_grad():
        logits = model(model.tokens(pairs))[:, -1].double()
    table = np.zeros((P, P))
    for i, (a, b) in enumerate(pairs.tolist()):
        y = (a + b) % P
        row = logits[i].clone()
        value = row[y].item()
        if wrong:
            row[y] = -math.inf
            value = row.max().item()
        table[(a + b) % P][(a - b) % P] = value
    return float(np.mean(np.std(table, axis=0)) / np.std(table.flatten()))


@pytest.mark.parametrize("attn_coeff", [0, 1])
def test_the_two_numbers_are_their_code_s(attn_coeff):
    model = their_model(attn_coeff)
    run = Run(load_checkpoint(ZHONG[attn_coeff]))
    assert metrics.gradient_symmetricity(run.model) == pytest.approx(their_gradient_symmetricity(model), abs=1e-5)
    assert metrics.distance_irrelevance(run.correct_logits, "add") == pytest.approx(
        their_distance_irrelevance(model, wrong=False), abs=1e-5)
    assert metrics.distance_irrelevance_wrong_logit(run.largest_wrong_logits, "add") == pytest.approx(
        their_distance_irrelevance(model, wrong=True), abs=1e-5)


@pytest.mark.parametrize(("path", "verdict"), [
    (ZHONG[0], "pizza"),  # constant attention, Zhong et al.'s pizza setting
    (ZHONG[1], "clock"),  # ordinary attention
    (FIXTURES / "transformer" / "add" / "epoch015000.pt", "clock"),  # Nanda et al.'s recipe
    (FIXTURES / "p113" / "epoch050000.pt", "undetermined"),  # the MLP: gradient symmetricity is fixed
])
def test_trained_models_are_classified(path, verdict):
    entry = algorithm.classify_run(Run(load_checkpoint(path)))
    assert entry["algorithm"] == verdict, entry
    assert 0 <= entry["published_percentile"]["gradient_symmetricity"] <= 100


def test_the_verdict_needs_both_numbers_to_agree():
    assert algorithm.classify(0.5, 0.9)["algorithm"] == "clock"
    assert algorithm.classify(0.995, 0.3)["algorithm"] == "pizza"
    assert algorithm.classify(0.5, 0.3)["algorithm"] == "undetermined"
    assert algorithm.classify(0.995, 0.9)["algorithm"] == "undetermined"
    assert algorithm.classify(1.0, 0.9, symmetric_by_construction=True)["algorithm"] == "undetermined"
    assert algorithm.classify(math.nan, 0.9)["algorithm"] == "undetermined"


def test_percentiles_in_the_published_population():
    assert algorithm.percentile("gradient_symmetricity", -1.0) == 0.0
    assert algorithm.percentile("gradient_symmetricity", 1.1) == 100.0
    assert algorithm.percentile("gradient_symmetricity", math.nan) is None
    assert algorithm.published()["n"] == 6351


@pytest.mark.parametrize("p", [5, 23, 59, 113])
def test_the_triples_are_their_code_s_without_building_the_product(p):
    """``random.sample`` on a lazy sequence of the product draws what it draws from the list."""
    theirs = random.Random(42).sample(list(itertools.product(range(p), repeat=3)), 100)
    assert metrics.zhong_triples(p).tolist() == [list(t) for t in theirs]


def test_a_dead_network_s_entry_is_json_without_nan():
    """Zero gradients (0/0) and a constant correct logit: the numbers are null, the verdict
    undetermined, and the report can be written (JSON has no NaN)."""
    import json

    from interp.arch.mlp import MLP
    from interp.checkpoint import Checkpoint

    w = MLP.random(13, 8, 24, seed=1)
    dead = MLP(w.W_E, torch.zeros_like(w.W_in), w.W_U)
    entry = algorithm.classify_run(Run(Checkpoint(ZHONG[0].with_name("dead.pt"), "0" * 64, dead)))
    assert entry["algorithm"] == "undetermined" and entry["gradient_symmetricity"] is None
    json.dumps(entry, allow_nan=False)
    assert "nan" in algorithm.line(entry)
