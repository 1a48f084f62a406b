"""The one pass derives the logits' Fourier products from the hooks they are linear in
(``Model.logit_parts``, :meth:`interp.terms.TermAccumulator.through`) instead of
projecting the ``[p^2, p]`` logits. Both halves are checked: the identity ``logits = sum hooks @ W
+ c`` on each architecture's variants, and the pass's logit terms and per-answer sums against the
direct projection, which a model without ``logit_parts`` still gets."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from interp.arch.mlp import MLP
from interp.arch.transformer import Transformer
from interp.checkpoint import Checkpoint
from interp.data import all_pairs
from interp.model import forward
from interp.run import Run


@pytest.fixture
def used(monkeypatch) -> list[int]:
    """A 1 for each time the pass derives logit terms from the hooks (``TermAccumulator.through``)."""
    from interp.terms import TermAccumulator

    calls: list[int] = []
    through = TermAccumulator.through
    monkeypatch.setattr(TermAccumulator, "through", lambda self, *a: calls.append(1) or through(self, *a))
    return calls


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _models(p: int) -> dict[str, object]:
    g = _gen(p)
    mlp = MLP.random(p, 8, 24, seed=p)
    tl = Transformer.random(p, d_model=8, n_heads=2, d_head=4, d_mlp=24, seed=p)  # d_model < p: parts used
    tl_biased = replace(tl, b_U=torch.randn(p, generator=g), b_out=torch.randn(8, generator=g),
                        b_in=torch.randn(24, generator=g), b_O=torch.randn(8, generator=g))
    return {
        "mlp": mlp,
        "mlp-biased": replace(mlp, b_U=torch.randn(p, generator=g), b_in=torch.randn(24, generator=g)),
        "mlp-deeper": replace(mlp, W_U=torch.randn(12, p, generator=g),
                              hidden=((torch.randn(24, 12, generator=g), torch.randn(12, generator=g)),)),
        "transformer": tl_biased,
        "transformer-c0": replace(tl_biased, attn_coeff=0.0),
        "transformer-ab": replace(tl_biased, input_form="a,b", W_pos=tl.W_pos[:2]),
    }


@pytest.mark.parametrize("name", list(_models(7)))
def test_logits_are_the_parts_plus_one_vector(name):
    model = _models(7)[name]
    hooks = forward(model, all_pairs(7))
    parts, offset = model.logit_parts
    rest = hooks["logits"].double() - sum(hooks[h].double() @ w.double() for h, w in parts.items())
    assert torch.allclose(rest, offset.double().expand_as(rest), atol=1e-5)


class _Opaque:
    """The model without ``logit_parts``: the pass projects its logits directly."""

    def __init__(self, model) -> None:
        self._model = model

    def __getattr__(self, name):
        if name == "logit_parts":
            raise AttributeError(name)
        return getattr(self._model, name)

    def to(self, device, dtype=None):
        return _Opaque(self._model.to(device, dtype))


FIELDS = ("products", "a_terms", "b_terms", "total")


def _error(model, reference: Run) -> list[float]:
    """The largest error of a run's logit terms (each of :data:`FIELDS`) and per-answer sums
    against ``reference``'s, each as a fraction of the reference's largest."""
    run = Run(Checkpoint(Path("x.pt"), "0" * 64, model), task=reference.task)
    pairs = [(getattr(run.logit_terms, f), getattr(reference.logit_terms, f)) for f in FIELDS]
    pairs.append((run._pass["by_answer"], reference._pass["by_answer"]))
    return [float((ours - theirs).abs().max() / theirs.abs().max()) for ours, theirs in pairs]


@pytest.mark.parametrize("p", [12, 13])  # even (the Nyquist row) and odd
@pytest.mark.parametrize("name", ["mlp-biased", "mlp-deeper", "transformer", "transformer-c0"])
@pytest.mark.parametrize("task", ["add", "sub"])
def test_the_pass_is_as_exact_as_the_direct_projection(p, name, task, used):
    """Against the direct projection of float64 logits, the derived terms and sums (float32
    model) are as close as the direct projection of its float32 logits: within twice its error,
    which is float32 rounding (up to 4e-4 of the largest product for a random transformer, whose
    products are small beside its logits and its biases)."""
    model = _models(p)[name]
    reference = Run(Checkpoint(Path("x.pt"), "0" * 64, _Opaque(model.to("cpu", torch.float64))), task=task)
    derived, direct = _error(model, reference), _error(_Opaque(model), reference)
    assert used == [1]  # the derived path, for the model that declares its parts
    bound = [2.0, 2.0, 2.0, 4.0, 2.0]  # the total: sum of squares less p^2 mean^2, which cancels where biases
    # dominate (a random biased transformer): both paths are off by up to 4e-4 there, the derived mean differently
    pairs = zip(derived, direct, bound, strict=True)  # below 1e-5 of the largest, both are rounding
    assert all(ours <= max(k * theirs, 1e-5) for ours, theirs, k in pairs), (derived, direct)


class _OffByOnePercent(_Opaque):
    """A model whose ``logit_parts`` map is 1% off."""

    @property
    def logit_parts(self):
        parts, offset = self._model.logit_parts
        return {"hook_post": parts["hook_post"] * 1.01}, offset

    def __getattr__(self, name):
        return getattr(self._model, name)

    def to(self, device, dtype=None):
        return _OffByOnePercent(self._model.to(device, dtype))


def test_a_wrong_map_is_caught_and_the_logits_projected():
    """The pass checks the identity on its first block: a map 1% off would give other products
    (by far more than rounding), so the pass projects the logits themselves instead."""
    model = _models(13)["mlp-biased"]
    wrong = Run(Checkpoint(Path("x.pt"), "0" * 64, _OffByOnePercent(model)))
    direct = Run(Checkpoint(Path("x.pt"), "0" * 64, _Opaque(model)))
    assert torch.equal(wrong.logit_terms.products, direct.logit_terms.products)
    parts, _ = _OffByOnePercent(model).logit_parts
    assert not torch.allclose(wrong.post_terms.products @ parts["hook_post"].double(), direct.logit_terms.products,
                              atol=1e-3 * direct.logit_terms.products.abs().max())


def test_an_adapted_model_may_declare_its_parts(used):
    """A lab's model (:class:`interp.adapter.Adapted`) gives ``logit_parts`` as a field; the pass
    uses it as it uses the built-in architectures' (the same terms as projecting its logits)."""
    from interp.adapter import Adapted

    base = _models(13)["mlp-biased"]
    common = dict(p=13, inputs=base.inputs, hooks=base.hooks, readout=base.W_U)
    declared = Adapted(**common, logit_parts=base.logit_parts)
    reference = Run(Checkpoint(Path("x.pt"), "0" * 64, _Opaque(base.to("cpu", torch.float64))))
    derived = _error(declared, reference)
    assert used == [1]  # the pass derived the declared model's logit terms
    direct = _error(Adapted(**common), reference)
    assert used == [1]  # and projected the undeclared one's
    assert all(ours <= 2 * theirs + 1e-9 for ours, theirs in zip(derived, direct, strict=True)), (derived, direct)


def test_a_residual_stream_as_wide_as_the_logits_is_not_projected_twice(used):
    """A transformer whose residual stream is at least as wide as the logits (d_model >= p, as a
    p = 113 model with d_model 128): projecting ``hook_resid_mid`` would cost more than the logits
    themselves, so the pass projects the logits."""
    wide = Transformer.random(7, d_model=8, n_heads=2, d_head=4, d_mlp=24, seed=0)
    assert Run(Checkpoint(Path("x.pt"), "0" * 64, wide)).logit_terms.products is not None
    assert used == []
