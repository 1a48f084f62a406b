"""The streamed Run (blocks of rows, Fourier terms instead of full spectra) gives the numbers the
full definitions give: its term energies equal those read off the full 2D energy maps."""

from pathlib import Path

import pytest
import torch

from interp import memory as run_module
from interp.arch.mlp import MLP
from interp.checkpoint import Checkpoint
from interp.run import Run
from interp.terms import TermSpectrum


@pytest.mark.parametrize("p", [12, 13])  # even and odd
def test_terms_match_the_full_energy_maps(p, monkeypatch):
    monkeypatch.setattr(run_module, "CHUNK", 3 * p * 32)  # 3 rows a per block: several blocks
    run = Run(Checkpoint(Path("x.pt"), "0" * 64, MLP.random(p, 8, 32, seed=p)), given_key_freqs=[1, 4])
    for streamed, full in ((run.post_terms, run.post_energy), (run.logit_terms, run.logit_energy)):
        reference = TermSpectrum.from_energy(full)
        assert torch.allclose(streamed.block_energy().sum(-1), reference.block_energy()[:, 0], rtol=1e-4, atol=1e-6)
        assert torch.allclose(streamed.product_energy([1, 4]).sum(), reference.product_energy([1, 4]).sum(), rtol=1e-4)
        assert torch.allclose(streamed.total.sum(), full.sum(), rtol=1e-4)
    assert torch.allclose(run.pre_terms.linear_energy().sum(), run.pre_energy.sum(), rtol=1e-4)
    logits = run.logits
    assert torch.equal(run.predictions, logits.argmax(-1))
    assert torch.allclose(run.correct_logits, logits.gather(-1, run.labels[:, None])[:, 0].double(), atol=1e-5)


def test_readout_spectra_in_small_groups_equal_one_group(monkeypatch):
    """Bounded memory: two key frequencies per group, the latest group kept, the same spectra."""
    model = MLP.random(13, 8, 32, seed=3)
    freqs = [1, 2, 3, 4, 5]
    whole = Run(Checkpoint(Path("x.pt"), "0" * 64, model), given_key_freqs=freqs)
    wanted = {k: whole.readout_spectra[k].clone() for k in freqs}
    monkeypatch.setattr(run_module, "CHUNK", 2 * 2 * 13 * 13)
    grouped = Run(Checkpoint(Path("x.pt"), "0" * 64, model), given_key_freqs=freqs)
    for k in freqs:
        assert torch.allclose(grouped.readout_spectra[k], wanted[k], atol=1e-6)
        assert len(grouped.readout_spectra._cache) <= 2
