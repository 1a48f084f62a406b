"""The real Fourier basis over Z_p and the 2D transform ``fft2d``.

``F`` is ``[p, p]`` with orthonormal rows: row 0 is constant, row ``2k-1`` is ``sin(w_k x)`` and
row ``2k`` is ``cos(w_k x)`` with ``w_k = 2 pi k / p``, ``k = 1 .. p // 2``, each scaled to unit
norm (for even ``p`` the last row is the Nyquist cosine and has no sine partner).
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from jaxtyping import Float
from torch import Tensor


@lru_cache(maxsize=16)
def _basis64(p: int) -> Tensor:
    x = torch.arange(p, dtype=torch.float64)
    basis = torch.ones(p, p, dtype=torch.float64)
    for k in range(1, p // 2 + 1):
        basis[2 * k - 1] = torch.sin(2 * math.pi * k * x / p)
        if 2 * k < p:
            basis[2 * k] = torch.cos(2 * math.pi * k * x / p)
    if p % 2 == 0:  # row p-1 is the Nyquist cosine; row p-1 was filled by sin(pi x) = 0 above
        basis[p - 1] = torch.cos(math.pi * x)
    return basis / basis.norm(dim=-1, keepdim=True)


def fourier_basis(p: int, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"
                  ) -> Float[Tensor, "p p"]:
    """The orthonormal real Fourier basis, rows as functions of ``x = 0 .. p-1``.

    >>> F = fourier_basis(5)
    >>> torch.allclose(F @ F.T, torch.eye(5), atol=1e-6)
    True

    Parameters
    ----------
    p: the modulus, at least 3.
    dtype, device: where the basis is returned (it is always computed in float64).
    """
    if p < 3:
        raise ValueError(f"p must be >= 3, got {p}")
    return _basis64(p).to(device=device, dtype=dtype)


def basis_names(p: int) -> list[str]:
    """Names of the basis rows.

    >>> basis_names(5)
    ['Const', 'Sin 1', 'Cos 1', 'Sin 2', 'Cos 2']
    """
    names = ["Const"]
    for k in range(1, p // 2 + 1):
        names.append(f"Sin {k}")
        if 2 * k < p:
            names.append(f"Cos {k}")
    if p % 2 == 0:
        names[-1] = f"Cos {p // 2}"
    return names


def _fold_matrices(p: int, dtype: torch.dtype, device) -> tuple[Tensor, Tensor]:
    """For odd ``p``: cos rows at ``t = 0..h`` and sin rows at ``t = 1..h``, ``h = (p-1)//2``."""
    basis = fourier_basis(p, dtype, device)
    h = (p - 1) // 2
    return basis[0::2, : h + 1].contiguous(), basis[1::2, 1 : h + 1].contiguous()


def _axis0_fold(x: Tensor) -> Tensor:
    """Even/odd folding: cos coefficients from ``x[t] + x[p-t]``, sin from ``x[t] - x[p-t]``,
    with two half-size matrices (half the flops of a full ``F @ x``). Odd ``p`` only."""
    p, h = x.shape[0], (x.shape[0] - 1) // 2
    cos_m, sin_m = _fold_matrices(p, x.dtype, x.device)
    flat = x.reshape(p, -1)
    head, tail = flat[1 : h + 1], flat[h + 1 :].flip(0)
    out = torch.empty_like(flat)
    out[0::2] = cos_m @ torch.cat([flat[:1], head + tail])
    out[1::2] = sin_m @ (head - tail)
    return out.reshape(x.shape)


def _axis0_rfft(x: Tensor) -> Tensor:
    """``torch.fft.rfft`` along axis 0, rescaled and interleaved into the real basis."""
    p = x.shape[0]
    spec = torch.fft.rfft(x, dim=0)
    out = torch.empty_like(x)
    out[0] = spec[0].real / math.sqrt(p)
    h = (p - 1) // 2
    scale = math.sqrt(2 / p)
    out[1 : 2 * h : 2] = -spec[1 : h + 1].imag * scale
    out[2 : 2 * h + 1 : 2] = spec[1 : h + 1].real * scale
    if p % 2 == 0:
        out[p - 1] = spec[p // 2].real / math.sqrt(p)
    return out


def _rfft2(x: Tensor) -> Tensor:
    """Odd ``p`` only: one ``torch.fft.rfft2`` over both axes (``O(p^2 log p)`` per column), then
    the real basis from the complex one: with ``Z+ = Z[k1, k2]`` and ``Z- = Z[-k1, k2]``,
    ``cos cos = (Re Z+ + Re Z-) / 2``, ``sin sin = (Re Z- - Re Z+) / 2``,
    ``sin cos = (Im Z- - Im Z+) / 2``, ``cos sin = -(Im Z+ + Im Z-) / 2`` (times the row norms)."""
    p, h = x.shape[0], (x.shape[0] - 1) // 2
    z = torch.fft.rfft2(x, dim=(0, 1))  # [p, h + 1, ...]: all k1, k2 = 0 .. h
    plus, minus = z[: h + 1], torch.cat([z[:1], z[h + 1 :].flip(0)])  # k1 = 0 .. h and -k1
    norm = torch.full((h + 1,), math.sqrt(2 / p), dtype=x.dtype, device=x.device)
    norm[0] = 1 / math.sqrt(p)
    weight = (norm[:, None] * norm[None, :] / 2).reshape(h + 1, h + 1, *([1] * (x.ndim - 2)))
    out = torch.empty_like(x)
    out[0::2, 0::2] = weight * (plus.real + minus.real)
    out[1::2, 1::2] = (weight * (minus.real - plus.real))[1:, 1:]
    out[1::2, 0::2] = (weight * (minus.imag - plus.imag))[1:]
    out[0::2, 1::2] = (weight * (plus.imag + minus.imag))[:, 1:].neg_()
    return out


def _separable(axis0):
    """A 2D transform from a transform along axis 0: axis 0, then axis 1 through a transpose."""

    def kernel(x: Tensor) -> Tensor:
        once = axis0(x).transpose(0, 1).contiguous()
        return axis0(once).transpose(0, 1)

    return kernel


def _reference(x: Tensor) -> Tensor:
    """The definition evaluated directly in float64, one sum at a time (sum over x, then y)."""
    basis = fourier_basis(x.shape[0], torch.float64, x.device)
    over_a = torch.einsum("ix,xy...->iy...", basis, x.to(torch.float64))
    return torch.einsum("jy,iy...->ij...", basis, over_a).to(x.dtype)


def _seed_einsum(x: Tensor) -> Tensor:
    """The seed notebook's formulation: one three-operand einsum with two basis matrices."""
    import einops

    basis = fourier_basis(x.shape[0], x.dtype, x.device)
    return einops.einsum(x, basis, basis, "px py ..., i px, j py -> i j ...")


def _both_axes(matrix: Tensor, x: Tensor) -> Tensor:
    """``out[i, j, ...] = sum_{x, y} M[i, x] M[j, y] x[x, y, ...]``: one GEMM over axis 0 on the
    contiguous ``[p, p*rest]`` layout, then a batched GEMM over axis 1 (no transpose copy)."""
    p = x.shape[0]
    left = (matrix @ x.reshape(p, -1)).reshape(p, p, -1)  # sum over the first axis
    return torch.matmul(matrix, left).reshape(x.shape)  # sum over the second, batched over i


def _gemm(x: Tensor) -> Tensor:
    """:func:`_both_axes` with ``F``: the fastest measured here for p < 450 (docs/performance.md)."""
    return _both_axes(fourier_basis(x.shape[0], x.dtype, x.device), x)


def ifft2d(coeffs: Float[Tensor, "p p *rest"]) -> Float[Tensor, "p p *rest"]:
    """The inverse of :func:`fft2d` (``F`` is orthonormal, so it is ``F^T``, both axes):
    ``ifft2d(C)[x, y, ...] = sum_{i, j} F[i, x] F[j, y] C[i, j, ...]``."""
    basis = fourier_basis(coeffs.shape[0], coeffs.dtype, coeffs.device)
    return _both_axes(basis.T.contiguous(), coeffs)


KERNELS = {
    "reference": _reference,
    "einsum": _seed_einsum,
    "gemm": _gemm,
    "fold": _separable(_axis0_fold),
    "rfft": _separable(_axis0_rfft),
    "rfft2": _rfft2,
}


def pick_kernel(p: int, dtype: torch.dtype) -> str:
    """The kernel ``fft2d`` uses by default, from measurements on the 2-core development CPU at
    about ``113 * 113 * 512`` elements (docs/performance.md): ``gemm`` (two dense GEMMs) below
    p = 450; for odd p, ``fold`` (half the flops of ``gemm``) from 450 and ``rfft2`` (an FFT:
    ``O(p^2 log p)`` per column against ``O(p^3)``) from 800; ``gemm`` for even p.

    >>> [pick_kernel(p, torch.float32) for p in (113, 509, 1009, 1000)]
    ['gemm', 'fold', 'rfft2', 'gemm']
    """
    if p < 450 or p % 2 == 0:
        return "gemm"
    return "fold" if p < 800 else "rfft2"


def fft2d(x: Float[Tensor, "p p *rest"], kernel: str | None = None,
          dims: tuple[int, int] = (0, 1)) -> Float[Tensor, "p p *rest"]:
    """2D Fourier transform over two axes of size ``p``:
    ``fft2d(A)[i, j, ...] = sum_{x, y} F[i, x] F[j, y] A[x, y, ...]``.

    >>> p = 7
    >>> a = torch.arange(p)
    >>> signal = torch.cos(2 * math.pi * 2 * (a[:, None] + a[None, :]) / p)  # cos(w_2 (a + b))
    >>> coeffs = fft2d(signal)
    >>> [round(float(coeffs[i, j]), 3) + 0.0 for i, j in [(4, 4), (3, 3), (4, 3)]]  # cc, ss, cs
    [3.5, -3.5, 0.0]
    >>> batch = torch.randn(5, p, p)  # leading batch dimension: name the axes
    >>> torch.allclose(fft2d(batch, dims=(1, 2))[2], fft2d(batch[2]), atol=1e-5)
    True

    Parameters
    ----------
    x: a function of ``(a, b)`` (``a`` on ``dims[0]``, ``b`` on ``dims[1]``), any other axes;
        float32 or float64; any ``p >= 3``.
    kernel: one of :data:`KERNELS` (default: :func:`pick_kernel`); all give the same numbers.
    dims: the two axes to transform (default the first two, as SPEC defines it).
    """
    if x.ndim < 2:
        raise ValueError(f"fft2d needs at least 2 axes, got shape {list(x.shape)}")
    moved = dims != (0, 1)
    if moved:
        x = torch.movedim(x, dims, (0, 1))
    p = x.shape[0]
    if x.shape[1] != p or p < 3:
        raise ValueError(f"fft2d needs two axes of the same size p >= 3, got shape {list(x.shape)}")
    name = kernel or pick_kernel(p, x.dtype)
    if name in ("fold", "rfft2") and p % 2 == 0:
        name = "gemm"  # both pair k (or t) with p - k; even p has an unpaired middle row
    out = KERNELS[name](x.contiguous() if name != "reference" else x)
    return torch.movedim(out, (0, 1), dims) if moved else out
