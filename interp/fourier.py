"""The real Fourier basis over Z_p and the 2D transform ``fft2d``.

``F`` is ``[p, p]`` with orthonormal rows: row 0 is constant, row ``2k-1`` is ``sin(w_k x)`` and
row ``2k`` is ``cos(w_k x)`` with ``w_k = 2 pi k / p``, ``k = 1 .. p // 2``, each scaled to unit
norm (for even ``p`` the last row is the Nyquist cosine and has no sine partner).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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


# -- the terms most claims read, without the full spectrum -----------------------------------------
@dataclass
class TermSpectrum:
    """The 2D Fourier coefficients of a centered ``[p, p, m]`` activation that the claims read, per
    column ``m`` (neuron or class), without the other ``p^2 - 4p`` terms:

    - ``a_terms[i] = S[i, 0]`` and ``b_terms[j] = S[0, j]``: the linear terms (functions of a alone,
      of b alone; ``[0]`` is 0 after centering);
    - ``products[k-1, u, v] = S[2k-1+u, 2k-1+v]``, ``u, v`` in (sin, cos): frequency k's products,
      ``k = 1 .. p // 2``. For even ``p`` the Nyquist frequency ``k = p/2`` is one term of its own:
      its only row is ``p-1`` (``cos(pi x)``; there is no sine row), so ``products[p/2-1]`` holds
      ``S[p-1, p-1]`` at ``[0, 0]`` and zeros where the missing row ``p`` would be;
    - ``total``: ``sum_{i,j} S[i, j]^2`` per column (Parseval: the centered sum of squares).

    With ``S = fft2d(x - mean(x))``. The products come from two projections of ``x``, onto
    ``s = (a+b) mod p`` and ``d = (a-b) mod p``, by the product-to-sum identities: ``O(p^2 m)``
    work instead of the transform's ``O(p^3 m)`` (:class:`TermAccumulator`). All float64.

    >>> x = torch.randn(7, 7, 3, dtype=torch.float64)
    >>> full, terms = fft2d(x - x.mean((0, 1))), TermSpectrum.of(x)
    >>> torch.allclose(terms.products[1, 0, 1], full[3, 4]) and torch.allclose(terms.b_terms, full[0])
    True
    """

    a_terms: Float[Tensor, "p m"]
    b_terms: Float[Tensor, "p m"]
    products: Float[Tensor, "k 2 2 m"] | None
    total: Float[Tensor, " m"]

    @classmethod
    def from_energy(cls, energy: Float[Tensor, "p p"]) -> TermSpectrum:
        """Terms with the energies of a 2D energy map (one column; coefficients ``sqrt(E)``), for
        maps computed in full and for tests: ``E[0, 0]`` counts as linear, like row 0."""
        p = energy.shape[0]
        root = energy.to(torch.float64).sqrt()[..., None]
        b_terms = root[0].clone()
        b_terms[0] = 0
        padded = torch.nn.functional.pad(root, (0, 0, 0, 1, 0, 1))  # row/column p: the Nyquist's missing sine
        products = torch.stack([padded[2 * k - 1 : 2 * k + 1, 2 * k - 1 : 2 * k + 1] for k in range(1, p // 2 + 1)])
        return cls(root[:, 0], b_terms, products, energy.sum().to(torch.float64)[None])

    @classmethod
    def of(cls, x: Float[Tensor, "p p *m"]) -> TermSpectrum:
        """The terms of a whole activation ``x`` (trailing axes flattened into ``m``)."""
        acc = TermAccumulator(x.shape[0], x[0, 0].numel(), x.device)
        acc.add(0, x.reshape(x.shape[0], x.shape[0], -1))
        return acc.finish()

    def map(self, weight: Float[Tensor, "m n"], total: Float[Tensor, " n"]) -> TermSpectrum:
        """The terms of ``x @ weight`` (fft2d is linear in ``x``), given that product's ``total``."""
        w = weight.to(torch.float64)
        products = None if self.products is None else self.products @ w
        return TermSpectrum(self.a_terms @ w, self.b_terms @ w, products, total)

    def linear_energy(self) -> Float[Tensor, " m"]:
        """Energy in row 0 or column 0 (terms of a alone or b alone), per column."""
        return self.a_terms.pow(2).sum(0) + self.b_terms.pow(2).sum(0)

    def block_energy(self) -> Float[Tensor, "k m"]:
        """Per frequency k, the energy of its 9 terms ``{0, 2k-1, 2k}^2`` (the Const term is 0);
        for even p the Nyquist ``k = p/2`` has 4, ``{0, p-1}^2`` (its row ``2k = p`` does not exist)."""
        k = self.products.shape[0]
        a, b = (torch.nn.functional.pad(t[1:].pow(2), (0, 0, 0, 2 * k - t.shape[0] + 1)).reshape(k, 2, -1).sum(1)
                for t in (self.a_terms, self.b_terms))
        return a + b + self.products.pow(2).sum((1, 2))

    def product_energy(self, freqs: list[int]) -> Float[Tensor, " m"]:
        """Energy of the products ``{2k-1, 2k}^2`` of the frequencies ``freqs``, per column."""
        return self.products[[k - 1 for k in freqs]].pow(2).sum((0, 1, 2))


class TermAccumulator:
    """Builds a :class:`TermSpectrum` from rows of ``x`` streamed in any chunks of ``a``: keeps
    only ``[p, m]`` marginals and the ``(a+b)``, ``(a-b)`` projections, in float64.
    ``products=False`` skips the projections (``products`` is then None): the linear terms and
    the total cost two sums."""

    def __init__(self, p: int, m: int, device: str | torch.device = "cpu", products: bool = True) -> None:
        self.p = p
        zeros = dict(dtype=torch.float64, device=device)
        self.rows, self.cols = torch.zeros(p, m, **zeros), torch.zeros(p, m, **zeros)
        self.by_sum = torch.zeros(p, m, **zeros) if products else None  # sums over (a + b) mod p
        self.by_diff = torch.zeros(p, m, **zeros) if products else None  # over (a - b) mod p
        self.sumsq = torch.zeros(m, **zeros)

    def add(self, a0: int, x: Float[Tensor, "n p m"]) -> None:
        """Add the rows ``a = a0 .. a0 + n - 1`` of ``x`` (any float dtype)."""
        n, p = x.shape[0], self.p
        self.rows[a0 : a0 + n] += x.sum(1).double()
        self.cols += x.sum(0).double()
        self.sumsq += x.pow(2).sum((0, 1)).double()
        if self.by_sum is None:
            return
        a, b = torch.arange(a0, a0 + n, device=x.device)[:, None], torch.arange(p, device=x.device)
        flat = x.reshape(n * p, -1)
        for table, idx in ((self.by_sum, (a + b) % p), (self.by_diff, (a - b) % p)):
            table += torch.zeros_like(x[0]).index_add_(0, idx.reshape(-1), flat).double()

    def finish(self) -> TermSpectrum:
        p = self.p
        basis = fourier_basis(p, torch.float64, self.rows.device)
        mean = self.cols.sum(0) / (p * p)
        a_terms, b_terms = basis @ self.rows / math.sqrt(p), basis @ self.cols / math.sqrt(p)
        a_terms[0], b_terms[0] = 0, 0  # centered
        h = (p - 1) // 2
        if self.by_sum is None:
            return TermSpectrum(a_terms, b_terms, None, self.sumsq - p * p * mean.pow(2))
        fs, fd = (basis[1 : 2 * h + 1] @ t for t in (self.by_sum, self.by_diff))  # rows sin 1, cos 1, ...
        sin_s, cos_s, sin_d, cos_d = fs[0::2], fs[1::2], fd[0::2], fd[1::2]
        products = torch.stack([torch.stack([cos_d - cos_s, sin_s + sin_d]),
                                torch.stack([sin_s - sin_d, cos_s + cos_d])]).movedim(2, 0) / math.sqrt(2 * p)
        if p % 2 == 0:  # Nyquist k = p/2: (-1)^a (-1)^b = (-1)^((a+b) mod p): S[p-1, p-1] = F[p-1] @ by_sum / sqrt(p)
            nyquist = torch.zeros_like(products[:1])
            nyquist[0, 0, 0] = basis[p - 1] @ self.by_sum / math.sqrt(p)
            products = torch.cat([products, nyquist])
        return TermSpectrum(a_terms, b_terms, products, self.sumsq - p * p * mean.pow(2))
