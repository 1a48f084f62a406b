"""Our 1-layer transformer (:mod:`interp.arch.transformer`) is TransformerLens's ``HookedTransformer``.

Both directions are checked on every ``p*p`` token sequence ``[a, b, p]``: our state dict loads
into a ``HookedTransformer`` with ``strict=True``, and a state dict TransformerLens saved itself is
read by :func:`interp.model.model_from_state_dict`. In each case ``blocks.0.mlp.hook_pre``,
``blocks.0.mlp.hook_post`` and the logits at position 2 (the ``=`` token) from
``run_with_cache`` are compared with :func:`interp.model.forward` over :func:`interp.data.all_pairs`.

Tolerance (float32): ``max |ours - TL| <= 1e-5 * max |TL|`` per hook, elementwise, no relative
term. The two implementations sum in different orders (ours computes the last position alone with
its own einsums; TL computes all three positions), so only float32 rounding may differ. The logits
are sums over ``d_mlp + d_model`` = 640 products at the largest size: with unit roundoff
``u = 6e-8`` the typical accumulated error is ``sqrt(640) u ~ 1.5e-6`` and the worst case
``640 u ~ 3.8e-5`` of the terms' scale; 1e-5 sits between. Measured (TL 3.9.0, torch 2.13 CPU):
at most 8.9e-7 of the scale (logits, p = 113, 4 heads of 32, with biases). A real mismatch -- a bias left out,
heads swapped, another attention scale -- is of the order of the activations themselves.

In float64 both sides agree to ``1e-12 * max |TL|`` (measured ~1e-16): the same computation, not
merely a close one.

TransformerLens is the optional extra ``transformerlens``: without it these tests are skipped,
unless ``INTERP_REQUIRE_EXTRAS=1`` (CI), where they fail.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from types import ModuleType

import pytest
import torch

from interp.arch.transformer import BIASES, BUFFERS, WEIGHTS, Transformer
from interp.checkpoint import load_checkpoint
from interp.data import all_pairs
from interp.model import forward, model_from_state_dict
from tests._extras import import_extra
from tests._paths import FIXTURES

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("transformer_lens_preloaded")]

TOL32 = 1e-5  # of max |TL| per hook: float32 accumulation over <= 640 terms (module docstring)
TOL64 = 1e-12
HOOKS = {"hook_pre": "blocks.0.mlp.hook_pre", "hook_post": "blocks.0.mlp.hook_post"}
SHAPES = {  # (p, d_model, n_heads, d_head, d_mlp)
    "p113-4x32": (113, 128, 4, 32, 512),
    "p13-2x8": (13, 16, 2, 8, 24),
}


def transformer_lens() -> ModuleType:
    """The ``transformer_lens`` module (skipped, or failed in CI, where the extra is missing)."""
    return import_extra("transformer_lens", "transformerlens")


def hooked_transformer(p: int, d_model: int, n_heads: int, d_head: int, d_mlp: int,
                       seed: int | None = None, dtype: torch.dtype = torch.float32):
    """A ``HookedTransformer`` of Nanda et al.'s shape: one layer, no LayerNorm, ReLU, ``[a, b, =]``."""
    tl = transformer_lens()
    cfg = tl.HookedTransformerConfig(
        n_layers=1, d_model=d_model, n_heads=n_heads, d_head=d_head, d_mlp=d_mlp, d_vocab=p + 1,
        d_vocab_out=p, n_ctx=3, act_fn="relu", normalization_type=None, seed=seed, device="cpu", dtype=dtype)
    with warnings.catch_warnings():  # 3.x: "HookedTransformer is deprecated and will be removed in 4.0"
        warnings.simplefilter("ignore", DeprecationWarning)
        return tl.HookedTransformer(cfg)


def tl_hooks(model, p: int) -> dict[str, torch.Tensor]:
    """TL's hooks at position 2 over every token sequence ``[a, b, p]``, in all_pairs' order."""
    pairs = all_pairs(p)
    tokens = torch.cat([pairs, torch.full((p * p, 1), p)], dim=1)
    with torch.no_grad():
        logits, cache = model.run_with_cache(tokens)
    return {**{ours: cache[name][:, 2] for ours, name in HOOKS.items()}, "logits": logits[:, 2]}


def assert_same_hooks(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor], tol: float) -> dict[str, float]:
    """Every hook within ``tol * max |TL|``; returns each hook's max difference over that scale."""
    measured = {}
    for name, ref in theirs.items():
        assert ours[name].shape == ref.shape, name
        assert ours[name].dtype == ref.dtype, name
        scale = ref.abs().max().item()
        diff = (ours[name] - ref).abs().max().item()
        measured[name] = diff / scale
        assert diff <= tol * scale, f"{name}: max |ours - TL| = {diff:.3g}, over {tol:g} * max |TL| = {tol * scale:.3g}"
    return measured


def with_random_biases(t: Transformer, seed: int) -> Transformer:
    """``t`` with every bias drawn from N(0, 0.5^2), so that the bias path is compared too."""
    gen = torch.Generator().manual_seed(seed)
    return replace(t, **{name: 0.5 * torch.randn(getattr(t, name).shape, generator=gen) for name, _ in BIASES.values()})


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("biases", [True, False], ids=["biases", "no-biases"])
def test_our_state_dict_loads_strictly_and_runs_as_transformerlens(shape, biases):
    p = shape[0]
    t = Transformer.random(*shape, seed=1)
    if biases:
        t = with_random_biases(t, seed=2)
        state = t.state_dict()
    else:  # a checkpoint without the b_* keys: read as zero biases
        state = {k: v for k, v in t.state_dict().items() if k not in BIASES}
    ours = model_from_state_dict(state, "ours.pt")
    assert isinstance(ours, Transformer)
    assert ours.dims() == dict(zip(("p", "d_model", "n_heads", "d_head", "d_mlp"), shape, strict=True))
    if not biases:
        assert all(getattr(ours, name).abs().max() == 0 for name, _ in BIASES.values())
    tl = hooked_transformer(*shape)
    tl.load_state_dict(ours.state_dict(), strict=True)  # TL needs every bias: zeros where there were none
    assert_same_hooks(forward(ours, all_pairs(p)), tl_hooks(tl, p), TOL32)


@pytest.mark.parametrize("biases", [False, True], ids=["tl-init", "tl-init-random-biases"])
def test_a_state_dict_transformerlens_saved_is_read_with_its_activations(biases, tmp_path):
    shape = SHAPES["p13-2x8"]
    tl = hooked_transformer(*shape, seed=7)  # TL's own initialisation
    if biases:
        with torch.no_grad():
            for name, param in tl.named_parameters():
                if ".b_" in name:
                    param.normal_(0, 0.5)
    state = tl.state_dict()
    theirs = tl_hooks(tl, shape[0])
    ours = model_from_state_dict(state, "tl.pt")
    assert_same_hooks(forward(ours, all_pairs(shape[0])), theirs, TOL32)
    torch.save(state, tmp_path / "tl.pt")  # and through the file loader (weights-only torch.load)
    saved = load_checkpoint(tmp_path / "tl.pt").model
    assert all(torch.equal(a, b) for a, b in zip(saved.tensors().values(), ours.tensors().values(), strict=True))


def test_transformerlens_state_dict_holds_only_known_keys():
    """What TL 3.9 puts in a 1-layer state dict: our weights and biases, and only the buffers we
    ignore (``mask`` is an empty placeholder there, ``IGNORE`` is -inf)."""
    state = hooked_transformer(*SHAPES["p13-2x8"], seed=0).state_dict()
    unknown = sorted(set(state) - set(WEIGHTS) - set(BIASES) - set(BUFFERS))
    assert unknown == [], f"TransformerLens state-dict keys Transformer.from_state_dict does not know: {unknown}"
    assert set(WEIGHTS) | set(BIASES) <= set(state)
    assert all(not state[k].is_floating_point() or state[k].numel() <= 1 for k in BUFFERS if k in state)


def test_same_computation_in_float64():
    shape = SHAPES["p13-2x8"]
    t = with_random_biases(Transformer.random(*shape, seed=3), seed=4).to("cpu", torch.float64)
    ours = model_from_state_dict(t.state_dict(), "ours64.pt")
    assert ours.W_E.dtype == torch.float64
    tl = hooked_transformer(*shape, dtype=torch.float64)
    tl.load_state_dict(t.state_dict(), strict=True)
    assert_same_hooks(forward(ours, all_pairs(shape[0])), tl_hooks(tl, shape[0]), TOL64)


@pytest.mark.parametrize("path", sorted((FIXTURES / "transformer").glob("*/*.pt")),
                         ids=lambda p: f"{p.parent.name}-{p.stem}")
def test_the_bundled_checkpoints_load_strictly_into_transformerlens_and_run_the_same(path):
    """The files ``python -m interp.train --arch transformer`` wrote, as saved (not rebuilt)."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    ours = model_from_state_dict(state, str(path))
    tl = hooked_transformer(ours.p, ours.d_model, ours.n_heads, ours.d_head, ours.d_mlp)
    tl.load_state_dict(state, strict=True)
    assert_same_hooks(forward(ours, all_pairs(ours.p)), tl_hooks(tl, ours.p), TOL32)
