"""The key-frequency rule and the --key-freqs parser."""

import pytest
import torch

from interp.errors import OptionError
from interp.fourier import fourier_basis
from interp.keyfreqs import frequency_energy, key_frequencies, largest_gap_cut, parse_key_freqs


def planted_unembedding(p: int, freqs: list[int], noise: float, seed: int = 0) -> torch.Tensor:
    """A [d, p] matrix whose rows mix sin/cos of `freqs`, plus small dense noise."""
    gen = torch.Generator().manual_seed(seed)
    F = fourier_basis(p, torch.float64)
    rows = [r for k in freqs for r in (2 * k - 1, 2 * k)]
    coeffs = torch.randn(32, len(rows), generator=gen, dtype=torch.float64)
    return coeffs @ F[rows] + noise * torch.randn(32, p, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize(("p", "freqs"), [(31, [2, 7, 11]), (113, [1, 3, 17, 44]), (20, [9]), (57, list(range(1, 15)))])
def test_planted_frequencies_are_recovered(p, freqs):
    W_U = planted_unembedding(p, freqs, noise=1e-3)
    F = fourier_basis(p, torch.float64)
    assert key_frequencies((W_U @ F.T).T) == freqs


def test_rule_cuts_at_largest_ratio_not_largest_difference():
    shares = torch.tensor([0.5, 0.3, 0.18, 0.0199, 0.0001])  # biggest drop is 0.5 -> 0.3
    assert largest_gap_cut(shares) == [1, 2, 3, 4]  # biggest ratio is 0.0199 -> 0.0001


def test_frequency_energy_pairs_sin_and_cos_rows():
    spectrum = torch.arange(7.0)  # p = 7: rows Const, S1, C1, S2, C2, S3, C3
    assert frequency_energy(spectrum).tolist() == [1 + 4, 9 + 16, 25 + 36]


@pytest.mark.parametrize(("text", "expected"), [("1,3,17", [1, 3, 17]), (" 44 , 1", [1, 44]), ("56", [56])])
def test_parse_key_freqs_accepts(text, expected):
    assert parse_key_freqs(text, p=113) == expected


@pytest.mark.parametrize(("text", "problem"), [
    ("", "expected comma-separated"), ("1,,3", "expected comma-separated"), ("a,b", "not an integer"),
    ("0", "start at 1"), ("57", "out of range for p=113"), ("3,3", "duplicate"), ("1.5", "not an integer"),
])
def test_parse_key_freqs_rejects(text, problem):
    with pytest.raises(OptionError, match=problem) as info:
        parse_key_freqs(text, p=113)
    assert str(info.value).startswith("--key-freqs: ")
