"""The Fourier terms most claims read, streamed over blocks of pairs without the full 2D spectrum
(:class:`TermSpectrum`, filled by :class:`TermAccumulator` during the one forward pass): the
linear terms, the same-frequency products and the total energy per neuron or class, in
``O(p^2 (d_mlp + p))`` (docs/performance.md). The basis and ``fft2d`` are :mod:`interp.fourier`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from interp.fourier import fourier_basis


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

    >>> from interp.fourier import fft2d
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
    the total cost two sums. ``sums=False`` keeps only the sum of squares; the rest then comes
    from the parts ``x`` is linear in (:meth:`through`)."""

    def __init__(self, p: int, m: int, device: str | torch.device = "cpu", products: bool = True,
                 sums: bool = True) -> None:
        self.p, self.sums = p, sums
        zeros = dict(dtype=torch.float64, device=device)
        self.rows, self.cols = torch.zeros(p, m, **zeros), torch.zeros(p, m, **zeros)
        products = products and sums
        self.by_sum = torch.zeros(p, m, **zeros) if products else None  # sums over (a + b) mod p
        self.by_diff = torch.zeros(p, m, **zeros) if products else None  # over (a - b) mod p
        self.sumsq = torch.zeros(m, **zeros)

    def add(self, a0: int, x: Float[Tensor, "n p m"]) -> None:
        """Add the rows ``a = a0 .. a0 + n - 1`` of ``x`` (any float dtype)."""
        n, p = x.shape[0], self.p
        self.sumsq += x.reshape(n * p, -1).pow(2).sum(0).double()  # over one axis: 3x faster than over (0, 1)
        if not self.sums:
            return
        self.rows[a0 : a0 + n] += x.sum(1).double()
        self.cols += x.sum(0).double()
        if self.by_sum is None:
            return
        a, b = torch.arange(a0, a0 + n, device=x.device)[:, None], torch.arange(p, device=x.device)
        flat = x.reshape(n * p, -1)
        for table, idx in ((self.by_sum, (a + b) % p), (self.by_diff, (a - b) % p)):
            table += torch.zeros_like(x[0]).index_add_(0, idx.reshape(-1), flat).double()

    def through(self, parts: list[tuple[TermAccumulator, Float[Tensor, "d m"]]], offset: Float[Tensor, " m"]) -> None:
        """Fill the marginals and the ``(a+b)``, ``(a-b)`` projections of ``x = sum_i x_i @ W_i +
        offset`` (``offset`` the same for every pair) from those of its parts ``x_i`` (``parts``:
        their accumulators, with products, and the ``W_i``). All are linear in ``x``, and each row
        ``a``, column ``b`` and answer of ``a + b`` or ``a - b`` is ``p`` pairs, so the offset adds
        ``p * offset`` to each. Only ``x``'s sum of squares needs ``x`` itself: an accumulator made
        with ``sums=False`` adds nothing else, and after this :meth:`finish` gives all of ``x``'s
        terms. For the logits that is ``O(p^2 d)`` work, not ``O(p^3)``
        (:class:`interp.model.Model`'s ``logit_parts``).

        >>> x1, w = torch.randn(5, 5, 3, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
        >>> whole, part = TermAccumulator(5, 4, sums=False), TermAccumulator(5, 3)
        >>> whole.add(0, x1 @ w + 2.0); part.add(0, x1); whole.through([(part, w)], torch.full((4,), 2.0))
        >>> ours, direct = whole.finish(), TermSpectrum.of(x1 @ w + 2.0)
        >>> fields = ("a_terms", "b_terms", "products", "total")
        >>> all(torch.allclose(getattr(ours, f), getattr(direct, f)) for f in fields)
        True
        """
        shift = self.p * offset.to(torch.float64)
        weights = [w.to(torch.float64) for _, w in parts]
        for table in ("rows", "cols", "by_sum", "by_diff"):
            mapped = sum(getattr(acc, table) @ w for (acc, _), w in zip(parts, weights, strict=True))
            setattr(self, table, mapped + shift)

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
