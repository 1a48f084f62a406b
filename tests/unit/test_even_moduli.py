"""Moduli that are not prime, odd or even (issue 15, section 3: Chughtai et al. publish n = 118).

For even p the Fourier basis ends in the Nyquist row ``cos(pi x)`` (row ``p-1``, no sine row): the
frequency ``k = p/2`` is a term of its own with one row. And ``a + b``, ``a - b`` have the same
parity, so only half the cells of the distance-irrelevance table ``L[(a+b) mod p, (a-b) mod p]``
exist, each hit by two pairs. Every metric must still give a finite value; distance irrelevance at
odd p must be what it was.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
import torch

from interp import metrics, metrics_causal
from interp.arch.mlp import MLP
from interp.checkpoint import Checkpoint, save_checkpoint
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import NotDefined, assess, evaluate
from interp.errors import OptionError
from interp.fourier import fft2d, fourier_basis
from interp.keyfreqs import check_key_freqs, frequency_energy, frequency_shares, key_frequencies
from interp.run import Run
from interp.terms import TermSpectrum
from tests._models import table_checkpoint
from tests._subprocess import child_env

CLAIMS = load_claims(DEFAULT_CLAIMS)


def pairs(p: int) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.arange(p).repeat_interleave(p), torch.arange(p).repeat(p)


def random_logits(p: int, seed: int) -> torch.Tensor:
    return torch.randn(p * p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def mlp_run(p: int, key_freqs: list[int] | None = None, d_model: int = 8, d_mlp: int = 32, seed: int = 0) -> Run:
    return Run(Checkpoint(Path("x.pt"), "0" * 64, MLP.random(p, d_model, d_mlp, seed)), given_key_freqs=key_freqs)


# -- distance irrelevance ----------------------------------------------------------------------------
def previous_distance_irrelevance(correct_logits: torch.Tensor, task: str) -> float:
    """The implementation before even moduli were defined (a ``torch.empty`` table, one write per
    pair): right at odd p, where every cell is written exactly once."""
    p = math.isqrt(len(correct_logits))
    a, b = pairs(p)
    answer, other = ((a + b) % p, (a - b) % p) if task == "add" else ((a - b) % p, (a + b) % p)
    table = torch.empty(p, p, dtype=torch.float64)
    table[answer, other] = correct_logits.to(torch.float64)
    return (table.std(0, correction=0).mean() / table.std(correction=0)).item()


def direct_distance_irrelevance(correct_logits: torch.Tensor, task: str) -> float:
    """The documented definition, pair by pair: a cell's value is the mean logit of the pairs in
    it; mean over columns d of the population std over the cells that exist in d, divided by the
    population std over every cell that exists."""
    p = math.isqrt(len(correct_logits))
    hits = defaultdict(list)
    for i, value in enumerate(correct_logits.tolist()):
        a, b = divmod(i, p)
        y, d = ((a + b) % p, (a - b) % p) if task == "add" else ((a - b) % p, (a + b) % p)
        hits[y, d].append(value)
    cells = {cell: statistics.fmean(values) for cell, values in hits.items()}
    columns = defaultdict(list)
    for (_, d), value in cells.items():
        columns[d].append(value)
    assert sorted(columns) == list(range(p))  # every column has cells
    return statistics.fmean(statistics.pstdev(c) for c in columns.values()) / statistics.pstdev(cells.values())


@pytest.mark.parametrize("p", [5, 9, 13, 15])  # odd: prime and not
@pytest.mark.parametrize("task", ["add", "sub"])
def test_distance_irrelevance_at_odd_p_is_unchanged(p, task):
    logits = random_logits(p, seed=p)
    assert metrics.distance_irrelevance(logits, task) == previous_distance_irrelevance(logits, task)
    assert metrics.distance_irrelevance(logits, task) == pytest.approx(direct_distance_irrelevance(logits, task),
                                                                       rel=1e-12)


def test_distance_irrelevance_of_a_model_at_odd_p_is_unchanged():
    correct = mlp_run(13, seed=4).correct_logits
    assert metrics.distance_irrelevance(correct, "add") == previous_distance_irrelevance(correct, "add")


@pytest.mark.parametrize("p", [4, 6, 12, 118])
@pytest.mark.parametrize("task", ["add", "sub"])
def test_distance_irrelevance_at_even_p_is_over_the_cells_that_exist(p, task):
    logits = random_logits(p, seed=p + 1)
    value = metrics.distance_irrelevance(logits, task)
    assert math.isfinite(value)
    assert value == pytest.approx(direct_distance_irrelevance(logits, task), rel=1e-12)


@pytest.mark.parametrize("p", [12, 118])
def test_distance_irrelevance_of_a_model_at_even_p(p):
    correct = mlp_run(p, seed=5).correct_logits
    value = metrics.distance_irrelevance(correct, "add")
    assert math.isfinite(value) and 0 < value <= 1
    assert value == pytest.approx(direct_distance_irrelevance(correct, "add"), rel=1e-12)


def test_at_even_p_half_the_cells_exist_each_hit_by_two_pairs():
    p, half = 12, 6
    hits = defaultdict(list)
    for a in range(p):
        for b in range(p):
            hits[(a + b) % p, (a - b) % p].append((a, b))
    assert len(hits) == p * p // 2 and all((y - d) % 2 == 0 for y, d in hits)
    assert all(sorted(v) == sorted([v[0], ((v[0][0] + half) % p, (v[0][1] + half) % p)]) for v in hits.values())


@pytest.mark.parametrize("p", [6, 12, 118])
def test_distance_irrelevance_at_even_p_of_sum_only_and_distance_only_logits(p):
    a, b = pairs(p)
    w = 2 * math.pi / p  # cos(w y) has the same mean and spread at even and at odd y
    by_sum, by_distance = torch.cos(w * ((a + b) % p)).double(), torch.cos(w * ((a - b) % p)).double()
    assert metrics.distance_irrelevance(by_sum, "add") == pytest.approx(1.0)
    assert metrics.distance_irrelevance(by_distance, "add") == pytest.approx(0.0, abs=1e-12)
    assert metrics.distance_irrelevance(by_distance, "sub") == pytest.approx(1.0)
    assert metrics.distance_irrelevance(by_sum, "sub") == pytest.approx(0.0, abs=1e-12)


def test_distance_irrelevance_at_even_p_gives_the_parity_to_the_distance():
    """y and d share their parity: (-1)^y is (-1)^d, constant down each column."""
    p = 12
    a, b = pairs(p)
    parity = (-1.0) ** ((a + b) % p).double()
    assert metrics.distance_irrelevance(parity, "add") == pytest.approx(0.0, abs=1e-12)
    mixed = torch.cos(2 * math.pi * ((a + b) % p) / p).double() + parity  # variance 1/2 of y alone, 1 of parity
    assert metrics.distance_irrelevance(mixed, "add") == pytest.approx(
        direct_distance_irrelevance(mixed, "add"), rel=1e-12)
    assert metrics.distance_irrelevance(mixed, "add") == pytest.approx(math.sqrt(0.5) / math.sqrt(1.5))


def test_distance_irrelevance_at_even_p_reads_a_cells_mean():
    """The two pairs of a cell differ by p/2 in both a and b; a term on ``a < p/2`` alone is 1 for
    exactly one of them, so the cells' means depend on the answer alone: a clock, 1.0."""
    p = 12
    a, b = pairs(p)
    logits = (torch.cos(2 * math.pi * ((a + b) % p) / p) + 0.7 * (a < p // 2)).double()
    assert metrics.distance_irrelevance(logits, "add") == pytest.approx(1.0)


# -- every metric at even p --------------------------------------------------------------------------
@pytest.mark.parametrize(("p", "key_freqs"), [(12, None), (12, [1, 6]), (118, None), (118, [3, 59])])
def test_every_claim_has_a_finite_value_at_even_p(p, key_freqs):
    run = mlp_run(p, key_freqs)
    assert all(1 <= k <= p // 2 for k in run.key_freqs)
    for claim in CLAIMS.claims:
        for case in claim.expand(run.key_freqs):
            if case.claim.metric in ("fve", "fve_signed") and case.params == {"freq": p // 2, "term": "sin"}:
                with pytest.raises(NotDefined, match="Nyquist"):
                    evaluate(case, run)
                assert assess(case, run, CLAIMS, run.checkpoint.sha256).status == "SKIP"
                continue
            value = evaluate(case, run)
            assert math.isfinite(value), (case.id, value)
            assert assess(case, run, CLAIMS, run.checkpoint.sha256).status in ("PASS", "FAIL", "N/A", "NOT-GATED")
    shares = run.neuron_freq_shares
    assert shares.shape == (run.model.d_mlp, p // 2) and torch.isfinite(shares).all()
    assert (shares.sum(-1) <= 1 + 1e-9).all()


def clock_run(p: int, freqs: list[int]) -> Run:
    """An exact clock, built by hand: logits ``sum_{k in K} cos(w_k(a + b - c)) + const`` (a table
    model: the readout is the identity, the pre-ReLU activations are the logits, all positive)."""
    x = torch.arange(p, dtype=torch.float64)
    s = x[:, None, None] + x[None, :, None] - x[None, None, :]
    pre = sum(torch.cos(2 * math.pi * k / p * s) for k in freqs) + len(freqs) + 1
    return Run(table_checkpoint(pre), given_key_freqs=freqs)


@pytest.mark.parametrize("freqs", [[1, 6], [6], [2, 5]])
def test_exact_clock_at_even_p(freqs):
    p = 12
    run = clock_run(p, freqs)  # (its correct logit is constant: distance irrelevance is 0/0 there, at any p)
    for k in freqs:
        assert metrics.fve(run.readout_spectra, k, "cos") == pytest.approx(1.0)
        if 2 * k == p:
            with pytest.raises(NotDefined):
                metrics.fve(run.readout_spectra, k, "sin")
        else:
            assert metrics.fve(run.readout_spectra, k, "sin") == pytest.approx(1.0)
    assert metrics.logits_key_quadratic_share(run.logit_terms, freqs) == pytest.approx(1.0)
    assert metrics.logits_linear_share(run.logit_terms) == pytest.approx(0.0, abs=1e-12)
    rows = sum(1 if 2 * k == p else 2 for k in freqs)
    assert metrics.wu_key_norm_ratio(run.readout, run.readout_fourier, run.basis, freqs) == pytest.approx(
        math.sqrt(rows / p))  # the readout is the identity: each row holds 1/p of its energy
    # both projections are the logits less their constant (Nanda et al.'s adds the mean back): restricted
    # loss is the logits' own, excluded is uniform
    test = run.splits["test"]
    own = -run.logits[test].double().log_softmax(-1).gather(-1, run.labels[test, None]).mean().item()
    assert metrics_causal.clock_restricted_loss(run.clock_projection, run.labels, run.splits) == pytest.approx(own)
    assert metrics_causal.restricted_loss(run.trig_components, run.mean_logits, run.labels, run.splits,
                                          "test") == pytest.approx(own)
    assert metrics_causal.clock_excluded_loss_vs_uniform(run.split_logits, run.clock_projection,
                                                         run.labels) == pytest.approx(1.0)
    assert metrics_causal.excluded_loss_vs_uniform(run.split_logits, run.trig_components,
                                                   run.labels) == pytest.approx(1.0)
    if freqs == [6]:  # each class's column is (-1)^(a+b-c) + 2: all its centered energy is the Nyquist's
        assert run.neuron_freq_shares[:, -1].tolist() == pytest.approx([1.0] * p)
        assert metrics.neuron_cluster_fraction(run.neuron_freq_shares) == 1.0


# -- the Fourier terms and the key-frequency rule at even p -------------------------------------------
@pytest.mark.parametrize("p", [4, 12])
def test_term_spectrum_holds_the_nyquist_product(p):
    x = torch.randn(p, p, 3, generator=torch.Generator().manual_seed(p), dtype=torch.float64)
    full = fft2d(x - x.mean((0, 1)))
    terms = TermSpectrum.of(x)
    n = p - 1
    assert terms.products.shape == (p // 2, 2, 2, 3)
    assert torch.allclose(terms.products[-1, 0, 0], full[n, n])
    assert torch.equal(terms.products[-1].reshape(4, 3)[1:], torch.zeros(3, 3, dtype=torch.float64))
    blocks = terms.block_energy()
    assert torch.allclose(blocks[-1], full[n, 0] ** 2 + full[0, n] ** 2 + full[n, n] ** 2)
    for k in range(1, p // 2):  # the others: their 9 terms
        idx = [0, 2 * k - 1, 2 * k]
        assert torch.allclose(blocks[k - 1], full[idx][:, idx].pow(2).sum((0, 1)))
    energy = full.pow(2).sum(-1)
    from_map = TermSpectrum.from_energy(energy)
    assert torch.allclose(from_map.block_energy()[:, 0], blocks.sum(-1))
    assert torch.allclose(from_map.product_energy([p // 2]), terms.product_energy([p // 2]).sum())


@pytest.mark.parametrize("p", [11, 12])
def test_frequency_energy_counts_every_row_once(p):
    spectrum = torch.randn(p, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(p))
    energy = frequency_energy(spectrum)
    assert len(energy) == p // 2
    assert energy.sum() == pytest.approx(spectrum[1:].pow(2).sum().item())
    if p % 2 == 0:
        assert energy[-1] == pytest.approx(spectrum[-1].pow(2).sum().item())


def test_frequency_shares_count_the_nyquist_per_row():
    assert frequency_shares(torch.ones(12, dtype=torch.float64)).tolist() == pytest.approx([1 / 6] * 6)
    assert frequency_shares(torch.ones(11, dtype=torch.float64)).tolist() == pytest.approx([1 / 5] * 5)


def test_key_frequency_rule_finds_the_nyquist():
    p = 12
    x = torch.arange(p, dtype=torch.float64)
    weights = torch.stack([torch.cos(math.pi * x), torch.cos(2 * math.pi * 3 * x / p)], -1)
    assert key_frequencies(fourier_basis(p, torch.float64) @ weights) == [3, 6]
    assert key_frequencies(fourier_basis(p, torch.float64) @ weights[:, :1]) == [6]


def test_key_freqs_allow_the_nyquist_of_an_even_p_only():
    check_key_freqs([1, 6], 12)
    check_key_freqs([6], 13)
    for freqs, p in (([7], 12), ([7], 13), ([0], 12)):
        with pytest.raises(OptionError):
            check_key_freqs(freqs, p)


def test_readout_spectra_of_the_nyquist():
    run = mlp_run(12, [1, 6])
    assert len(run.readout_spectra) == 6 and list(run.readout_spectra) == [1, 2, 3, 4, 5, 6]
    nyquist = run.readout_spectra[6]
    assert nyquist.shape == (12, 12, 2) and not nyquist[..., 0].any()  # no sine row: the sin readout is zero
    post = torch.relu(run.hook_pre).double()
    direct = fft2d((post @ run.readout_fourier[:, 11].double()).reshape(12, 12))
    assert torch.allclose(nyquist[..., 1].double(), direct, atol=1e-5)
    assert torch.isfinite(run.clock_projection).all() and torch.isfinite(run.trig_components).all()


# -- a whole gate ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("p", "options"), [(12, ["--key-freqs=1,6"]), (118, [])])
def test_a_gate_on_an_even_modulus_runs_every_claim(tmp_path, p, options):
    path = tmp_path / f"even{p}.pt"
    save_checkpoint(MLP.random(p, 8, 32, seed=1), path)
    result = subprocess.run([sys.executable, "-m", "pytest", f"--checkpoint={path}", "--claims-report=r.json",
                             *options, "-p", "no:cacheprovider", "-q"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=300, env=child_env())
    assert result.returncode in (0, 1), result.stdout[-3000:] + result.stderr[-3000:]  # 1: claims fail
    summary = result.stdout.strip().splitlines()[-1]
    assert "error" not in summary, result.stdout[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["p"] == p
    rows = {row["id"]: row for row in report["claims"]}
    assert rows["distance-irrelevance"]["value"] is not None and math.isfinite(rows["distance-irrelevance"]["value"])
    assert all(row["value"] is not None and math.isfinite(row["value"]) for row in rows.values()), rows
    skipped = {row["id"] for row in report["not_evaluated"]}
    nyquist_sines = {f"{claim}[k{p // 2}-sin]" for claim in ("fve", "fve-signed")}
    assert skipped == (nyquist_sines if p // 2 in report["key_freqs"] else set())
