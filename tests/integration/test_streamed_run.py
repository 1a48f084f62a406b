"""The streamed Run (blocks of rows, Fourier terms instead of full spectra) gives the numbers the
full definitions give: its term energies equal those read off the full 2D energy maps."""

from pathlib import Path

import pytest
import torch

from interp import run as run_module
from interp.arch.mlp import MLP
from interp.checkpoint import Checkpoint
from interp.fourier import TermSpectrum
from interp.run import Run


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
