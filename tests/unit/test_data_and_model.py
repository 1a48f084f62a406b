"""The data split and the model's forward pass, against SPEC and the training recipe."""

import math

import pytest
import torch

from interp.arch.mlp import MLP
from interp.data import all_pairs, labels, split_indices
from interp.model import cross_entropy, forward


def test_subtraction_labels():
    pairs = torch.tensor([[0, 1], [5, 3], [2, 12]])
    assert labels(pairs, 13, "sub").tolist() == [12, 2, 3]
    with pytest.raises(ValueError, match="unknown task 'mul'"):
        labels(pairs, 13, "mul")


def test_split_matches_spec_for_p113():
    pairs = all_pairs(113)
    train, test = split_indices(113)
    assert (len(train), len(test)) == (3830, 8939)
    assert pairs[train[:5]].tolist() == [[37, 1], [23, 9], [2, 43], [7, 34], [42, 101]]
    assert pairs[test[:5]].tolist() == [[55, 55], [69, 109], [13, 17], [103, 54], [78, 112]]
    assert labels(pairs[test[:5]], 113).tolist() == [110, 65, 30, 44, 77]


@pytest.mark.parametrize("p", [3, 4, 13, 50])
def test_split_is_a_partition(p):
    train, test = split_indices(p)
    assert sorted(torch.cat([train, test]).tolist()) == list(range(p * p))
    assert len(train) == int(0.3 * p * p)


def test_split_leaves_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    split_indices(11)
    assert torch.equal(torch.rand(3), expected)


def test_random_init_is_the_recipe_with_global_seed():
    """MLP.random(seed) must equal manual_seed(seed) then randn for W_E, W_in, W_U in order."""
    torch.manual_seed(7)
    expected = [torch.randn(11, 4) / 2, torch.randn(4, 6) / 2, torch.randn(6, 11) / math.sqrt(6)]
    got = MLP.random(11, 4, 6, seed=7)
    for name, want in zip(("W_E", "W_in", "W_U"), expected, strict=True):
        assert torch.equal(getattr(got, name), want), name


def test_forward_computes_each_hook():
    w = MLP.random(7, 3, 5, seed=1)
    acts = forward(w, torch.tensor([[2, 5]]))
    embed = w.W_E[2] + w.W_E[5]
    assert torch.allclose(acts["hook_pre"][0], embed @ w.W_in)
    assert torch.allclose(acts["hook_post"][0], torch.relu(embed @ w.W_in))
    assert torch.allclose(acts["logits"][0], torch.relu(embed @ w.W_in) @ w.W_U)


def test_cross_entropy_in_float64():
    logits = torch.tensor([[0.0, math.log(3.0)], [1.0, 1.0]], dtype=torch.float32)
    loss = cross_entropy(logits, torch.tensor([1, 0]))
    assert loss.dtype == torch.float64
    assert loss.item() == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2, rel=1e-7)
