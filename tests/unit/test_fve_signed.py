"""The sign-aware FVE twin (``fve_signed``) against the seed's ``fve``, on runs of hand-built
table models whose neurons, read along the readout's sin k and cos k directions, give exactly
``sin/cos(w_k(a + b))`` or ``sin/cos(w_k(a - b))``."""

import math

import pytest
import torch

from interp import metrics
from interp.fourier import fourier_basis
from interp.registry import NotDefined
from interp.run import Run
from tests._models import table_checkpoint

P = 11


def signed_run(sign: int, k: int, p: int = P, task: str = "add") -> Run:
    """Four neurons, ``relu(+-sin(w_k(a + sign b)))`` and ``relu(+-cos(...))``, whose readout rows
    are ``+-F[2k-1]`` and ``+-F[2k]``: read along sin k (cos k) they give the sin (cos) exactly."""
    a, b = torch.arange(p, dtype=torch.float64)[:, None], torch.arange(p, dtype=torch.float64)[None, :]
    phase = 2 * math.pi * k / p * (a + sign * b)
    s, c = torch.sin(phase), torch.cos(phase)
    pre = torch.stack([s, -s, c, -c], dim=-1)
    F = fourier_basis(p, torch.float64)
    sin_row = F[2 * k - 1] if 2 * k < p else torch.zeros(p, dtype=torch.float64)
    cos_row = F[min(2 * k, p - 1)]
    readout = torch.stack([sin_row, -sin_row, cos_row, -cos_row])
    return Run(table_checkpoint(pre, readout), given_key_freqs=[k], task=task)


@pytest.mark.parametrize("k", [1, 3, 5])
@pytest.mark.parametrize("term", ["sin", "cos"])
def test_the_twin_follows_the_task_where_fve_scores_both(k, term):
    total = {"add": signed_run(+1, k).readout_spectra, "sub": signed_run(-1, k).readout_spectra}
    for made_of, spectra in total.items():
        other = "sub" if made_of == "add" else "add"
        assert metrics.fve(spectra, k, term) == pytest.approx(1.0, abs=1e-9)
        assert metrics.fve_signed(spectra, k, term, made_of) == pytest.approx(1.0, abs=1e-9)
        assert metrics.fve_signed(spectra, k, term, other) == pytest.approx(0.0, abs=1e-9)


def test_cos_of_the_difference_scores_zero_on_addition_and_one_on_subtraction():
    """The issue's case: ``cos(w(a - b))``, which the seed's fve scores 1 on an addition claim."""
    spectra = signed_run(-1, 2).readout_spectra
    assert metrics.fve(spectra, 2, "cos") == pytest.approx(1.0, abs=1e-9)
    assert metrics.fve_signed(spectra, 2, "cos", "add") == pytest.approx(0.0, abs=1e-9)
    assert metrics.fve_signed(spectra, 2, "cos", "sub") == pytest.approx(1.0, abs=1e-9)


def test_the_claim_reads_the_task_from_the_run():
    """``task`` is a run attribute: the claim case fills it from the run, so the same neurons pass
    the twin on a subtraction run and fail it on an addition one."""
    from interp.claims.load import DEFAULT_CLAIMS, load_claims
    from interp.claims.verdicts import evaluate

    twin = next(c for c in load_claims(DEFAULT_CLAIMS).claims if c.id == "fve-signed")
    for task, expected in (("sub", 1.0), ("add", 0.0)):
        run = signed_run(-1, 3, task=task)
        assert run.task == task
        for case in twin.expand(run.key_freqs):
            assert evaluate(case, run) == pytest.approx(expected, abs=1e-9)


def test_never_above_fve_and_equal_at_the_even_nyquist():
    """``(x +- y)^2 / 2 <= x^2 + y^2``; at an even p's Nyquist there is no sign to read."""
    torch.manual_seed(0)
    spectra = {3: torch.randn(P, P, 2, dtype=torch.float64)}
    for term in ("sin", "cos"):
        for task in ("add", "sub"):
            assert metrics.fve_signed(spectra, 3, term, task) <= metrics.fve(spectra, 3, term) + 1e-15
    p = 12
    spectra = signed_run(+1, p // 2, p=p).readout_spectra
    for task in ("add", "sub"):
        assert metrics.fve_signed(spectra, p // 2, "cos", task) == pytest.approx(1.0, abs=1e-9)
        with pytest.raises(NotDefined):
            metrics.fve_signed(spectra, p // 2, "sin", task)
