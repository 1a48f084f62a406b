"""Find a model's key frequencies from its weights, by one stated rule.

The rule (:func:`key_frequencies`): take a matrix whose rows (or columns) are indexed by the
token, move that axis into the Fourier basis, and give each frequency ``k`` its share of the
energy, ``s_k = (||row 2k-1||^2 + ||row 2k||^2) / sum_{k'} (...)`` over ``k = 1 .. p // 2`` (the
constant row is left out). For even ``p`` the Nyquist frequency ``k = p/2`` is a term of its own with
its one row, ``p-1`` (``cos(pi x)``, the sign ``(-1)^x``; it has no sine row), so every non-constant
row counts exactly once and ``p/2`` can be a key frequency. The shares are per row
(:func:`frequency_shares`: ``s_k`` proportional to ``E_k / rows_k``, so the Nyquist's energy counts
double against the others'): otherwise a frequency with half the rows sits at half the noise floor,
and on a weight matrix of noise the largest gap falls between it and the rest. At odd ``p`` every
frequency has 2 rows and this changes nothing.
Sort the shares in decreasing order, ``s_(1) >= s_(2) >= ...``, floor them at ``1e-8`` and keep
the top ``n`` where ``n`` maximises the ratio ``s_(n) / s_(n+1)``: the cut is the largest
multiplicative gap. The default source is the readout, ``W_U`` (``||W_U F^T||^2`` per frequency;
``W_out @ W_U`` for a transformer), which is what the logits read out. To check agreement,
:func:`interp.metrics.key_freq_agreement` applies the same rule to three other views, the
embedding ``W_E``, the neurons' and the logits' 2D Fourier energies, and compares the four sets.

On the reference checkpoint this gives the notebook's 13 frequencies from ``W_U`` and from
``W_neur`` alike: ``[1, 3, 17, 19, 21, 23, 28, 29, 33, 35, 37, 42, 44]``.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

from interp.errors import OptionError

SHARE_FLOOR = 1e-8


def frequency_energy(spectrum: Float[Tensor, "p ..."]) -> Float[Tensor, " k"]:
    """Energy per frequency ``k = 1 .. p // 2`` of a tensor whose axis 0 is in the Fourier
    basis: ``E_k = sum(spectrum[2k-1]^2) + sum(spectrum[2k]^2)``; for even ``p`` the Nyquist
    ``E_{p/2} = sum(spectrum[p-1]^2)``, its one (cosine) row.

    >>> frequency_energy(torch.tensor([5.0, 1.0, 2.0, 0.0, 3.0])).tolist()  # p = 5
    [5.0, 9.0]
    >>> frequency_energy(torch.tensor([5.0, 1.0, 2.0, 3.0])).tolist()  # p = 4: Nyquist row 3
    [5.0, 9.0]
    """
    p = spectrum.shape[0]
    rows = spectrum.reshape(p, -1).to(torch.float64).pow(2).sum(-1)
    return torch.nn.functional.pad(rows[1:], (0, 1 - p % 2)).reshape(p // 2, 2).sum(-1)


def frequency_rows(p: int) -> Float[Tensor, " k"]:
    """How many Fourier rows each frequency ``k = 1 .. p // 2`` has: 2 (sine, cosine), and 1 for
    the Nyquist ``k = p/2`` of an even ``p``.

    >>> frequency_rows(5).tolist(), frequency_rows(6).tolist()
    ([2.0, 2.0], [2.0, 2.0, 1.0])
    """
    rows = torch.full((p // 2,), 2.0, dtype=torch.float64)
    if p % 2 == 0:
        rows[-1] = 1.0
    return rows


def frequency_shares(spectrum: Float[Tensor, "p ..."]) -> Float[Tensor, " k"]:
    """Per-row energy shares (entry ``k-1`` is frequency ``k``):
    ``s_k = (E_k / rows_k) / sum_{k'} (E_{k'} / rows_{k'})`` with ``E`` :func:`frequency_energy`
    and ``rows`` :func:`frequency_rows`; at odd ``p``, ``E_k / sum E``."""
    energy = frequency_energy(spectrum) / frequency_rows(spectrum.shape[0])
    return energy / energy.sum().clamp_min(torch.finfo(energy.dtype).tiny)


def largest_gap_cut(shares: Float[Tensor, " k"]) -> list[int]:
    """The frequencies (1-based) above the largest ratio gap in the sorted shares.

    >>> largest_gap_cut(torch.tensor([0.001, 0.4, 0.002, 0.597]))
    [2, 4]
    """
    values, order = shares.to(torch.float64).clamp_min(SHARE_FLOOR).sort(descending=True)
    if len(values) < 2:
        return [int(i) + 1 for i in order]
    ratios = values[:-1] / values[1:]
    n = int(ratios.argmax()) + 1
    return sorted(int(i) + 1 for i in order[:n])


def key_frequencies(spectrum: Float[Tensor, "p ..."]) -> list[int]:
    """Key frequencies of a spectrum (axis 0 in the Fourier basis) by the largest-gap rule."""
    return largest_gap_cut(frequency_shares(spectrum))


def parse_key_freqs(text: str, p: int | None = None) -> list[int]:
    """Parse ``--key-freqs 1,3,17``: distinct integers in ``1 .. p // 2`` (checked when ``p`` is
    known; for even ``p`` that includes the Nyquist frequency ``p/2``, a cosine row only).

    >>> parse_key_freqs("17, 3,1")
    [1, 3, 17]
    >>> parse_key_freqs("1,x")
    Traceback (most recent call last):
    interp.errors.OptionError: --key-freqs: 'x' is not an integer (expected e.g. 1,3,17)
    """
    items = [t.strip() for t in text.split(",")]
    if not text.strip() or any(not t for t in items):
        raise OptionError("--key-freqs", f"expected comma-separated frequencies like 1,3,17, got {text!r}")
    freqs = []
    for t in items:
        try:
            freqs.append(int(t))
        except ValueError:
            raise OptionError("--key-freqs", f"{t!r} is not an integer (expected e.g. 1,3,17)") from None
    if len(set(freqs)) != len(freqs):
        raise OptionError("--key-freqs", f"duplicate frequencies in {text!r}")
    if any(k < 1 for k in freqs):
        raise OptionError("--key-freqs", f"frequencies start at 1, got {text!r}")
    if p is not None:
        check_key_freqs(freqs, p)
    return sorted(freqs)


def check_key_freqs(freqs: list[int], p: int) -> None:
    """Raise unless every frequency is one of this ``p``'s, ``1 .. p // 2`` (for even ``p`` the
    last, ``p/2``, is the Nyquist frequency: a cosine row and no sine row)."""
    top = p // 2
    bad = [k for k in freqs if not 1 <= k <= top]
    if bad:
        raise OptionError("--key-freqs", f"{bad} out of range for p={p} (allowed 1..{top})")
