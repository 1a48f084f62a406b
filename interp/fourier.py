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


def num_freqs(p: int) -> int:
    """Number of frequencies ``k >= 1`` that have both a sine and a cosine row: ``(p - 1) // 2``."""
    return (p - 1) // 2


def fft2d(x: Float[Tensor, "p p *rest"]) -> Float[Tensor, "p p *rest"]:
    """2D Fourier transform over the first two axes:
    ``fft2d(A)[i, j, ...] = sum_{x, y} F[i, x] F[j, y] A[x, y, ...]``.

    >>> p = 7
    >>> a = torch.arange(p)
    >>> signal = torch.cos(2 * math.pi * 2 * (a[:, None] + a[None, :]) / p)  # cos(w_2 (a + b))
    >>> coeffs = fft2d(signal)
    >>> [round(float(coeffs[i, j]), 3) + 0.0 for i, j in [(4, 4), (3, 3), (4, 3)]]  # cc, ss, cs
    [3.5, -3.5, 0.0]

    Parameters
    ----------
    x: a function of ``(a, b)`` with ``a`` on axis 0 and ``b`` on axis 1, any trailing axes.
    """
    p = x.shape[0]
    if x.ndim < 2 or x.shape[1] != p:
        raise ValueError(f"fft2d needs shape [p, p, ...], got {list(x.shape)}")
    basis = fourier_basis(p, x.dtype, x.device)
    rest = x.shape[2:]
    flat = x.reshape(p, p, -1)
    left = (basis @ flat.reshape(p, -1)).reshape(p, p, -1)  # sum over a
    return torch.matmul(basis, left).reshape(p, p, *rest)  # sum over b, batched over i
