"""Property tests: the Fourier basis and every fft2d kernel against SPEC's definition.

Profiles (conftest.py): `dev` is quick, `ci` is thorough and derandomized (HYPOTHESIS_PROFILE=ci).
"""

import math

import torch
from hypothesis import given
from hypothesis import strategies as st

from interp.fourier import KERNELS, basis_names, fft2d, fourier_basis, ifft2d
from interp.terms import TermAccumulator

moduli = st.integers(3, 257)
small_moduli = st.integers(3, 61)
dtypes = st.sampled_from([torch.float32, torch.float64])
trailing = st.lists(st.integers(1, 3), max_size=2)
TOL = {torch.float32: 2e-4, torch.float64: 1e-10}


def signal(p: int, rest: list[int], dtype: torch.dtype, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(p, p, *rest, generator=gen, dtype=torch.float64).to(dtype)


def close(a: torch.Tensor, b: torch.Tensor, dtype: torch.dtype) -> bool:
    scale = max(1.0, float(b.abs().max()))
    return float((a.double() - b.double()).abs().max()) <= TOL[dtype] * scale


@given(moduli)
def test_basis_is_orthonormal_and_named(p):
    F = fourier_basis(p, torch.float64)
    assert torch.allclose(F @ F.T, torch.eye(p, dtype=torch.float64), atol=1e-12)
    assert len(basis_names(p)) == p


@given(small_moduli, trailing, dtypes, st.integers(0, 2**16))
def test_parseval_and_round_trip(p, rest, dtype, seed):
    x = signal(p, rest, dtype, seed)
    coeffs = fft2d(x)
    assert math.isclose(float(coeffs.double().pow(2).sum()), float(x.double().pow(2).sum()), rel_tol=TOL[dtype] * 10)
    assert close(ifft2d(coeffs), x, dtype)


@given(small_moduli, dtypes, st.integers(0, 2**16), st.floats(-3, 3), st.floats(-3, 3))
def test_linear_and_separable(p, dtype, seed, alpha, beta):
    x, y = signal(p, [2], dtype, seed), signal(p, [2], dtype, seed + 1)
    assert close(fft2d(alpha * x + beta * y), alpha * fft2d(x) + beta * fft2d(y), dtype)
    u, v = x[:, 0, 0], y[:, 0, 1]
    F = fourier_basis(p, dtype)
    assert close(fft2d(torch.outer(u, v)), torch.outer(F @ u, F @ v), dtype)


@given(moduli, st.sampled_from(sorted(KERNELS)), dtypes, trailing, st.integers(0, 2**16))
def test_every_kernel_matches_the_definition(p, kernel, dtype, rest, seed):
    x = signal(p, rest[:1] if p > 100 else rest, dtype, seed)
    assert close(fft2d(x, kernel=kernel), fft2d(x, kernel="reference"), dtype)


@given(st.integers(3, 101), st.data())
def test_pure_product_signal_lands_on_one_coefficient(p, data):
    i = data.draw(st.integers(1, (p - 1) // 2))
    j = data.draw(st.integers(1, (p - 1) // 2))
    x = torch.arange(p, dtype=torch.float64)
    product = torch.outer(torch.cos(2 * math.pi * i * x / p), torch.sin(2 * math.pi * j * x / p))
    coeffs = fft2d(product)
    expected = torch.zeros(p, p, dtype=torch.float64)
    expected[2 * i, 2 * j - 1] = p / 2  # each factor has norm sqrt(p/2)
    assert torch.allclose(coeffs, expected, atol=1e-9)


@given(small_moduli, st.integers(0, 2**16))
def test_leading_batch_axes(p, seed):
    x = signal(p, [3], torch.float64, seed).permute(2, 0, 1)  # [batch, p, p]
    assert torch.allclose(fft2d(x, dims=(1, 2)), fft2d(x.permute(1, 2, 0)).permute(2, 0, 1), atol=1e-10)


@given(small_moduli, st.integers(1, 3), st.integers(1, 5), dtypes, st.integers(0, 2**16))
def test_streamed_terms_equal_the_full_transform(p, m, block, dtype, seed):
    """TermSpectrum, accumulated over blocks of rows a, holds exactly the full centered spectrum's
    linear terms, same-frequency products and total."""
    x = signal(p, [m], dtype, seed)
    full = fft2d(x.double() - x.double().mean((0, 1)))
    acc = TermAccumulator(p, m)
    for a0 in range(0, p, block):
        acc.add(a0, x[a0 : a0 + block])
    terms = acc.finish()
    assert close(terms.a_terms, full[:, 0], dtype) and close(terms.b_terms, full[0], dtype)
    for k in range(1, (p - 1) // 2 + 1):
        assert close(terms.products[k - 1], full[2 * k - 1 : 2 * k + 1, 2 * k - 1 : 2 * k + 1], dtype)
    assert math.isclose(float(terms.total.sum()), float(full.pow(2).sum()), rel_tol=TOL[dtype] * 10, abs_tol=1e-9)
