"""Find a model's key frequencies from its weights, by one stated rule.

The rule (:func:`key_frequencies`): take a matrix whose rows (or columns) are indexed by the
token, move that axis into the Fourier basis, and give each frequency ``k`` its share of the
energy, ``s_k = (||row 2k-1||^2 + ||row 2k||^2) / sum_{k'} (...)`` (the constant row is left out).
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
    """Energy per frequency ``k = 1 .. (p-1)//2`` of a tensor whose axis 0 is in the Fourier
    basis: ``E_k = sum(spectrum[2k-1]^2) + sum(spectrum[2k]^2)``.

    >>> frequency_energy(torch.tensor([5.0, 1.0, 2.0, 0.0, 3.0])).tolist()  # p = 5
    [5.0, 9.0]
    """
    p = spectrum.shape[0]
    n = (p - 1) // 2
    rows = spectrum.reshape(p, -1).to(torch.float64).pow(2).sum(-1)
    return rows[1 : 2 * n + 1].reshape(n, 2).sum(-1)


def frequency_shares(spectrum: Float[Tensor, "p ..."]) -> Float[Tensor, " k"]:
    """:func:`frequency_energy` divided by its sum (entry ``k-1`` is frequency ``k``)."""
    energy = frequency_energy(spectrum)
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
    known; for even ``p`` the Nyquist frequency has no sine and is not allowed).

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
    """Raise unless every frequency has a sine and a cosine row for this ``p``."""
    top = (p - 1) // 2
    bad = [k for k in freqs if not 1 <= k <= top]
    if bad:
        raise OptionError("--key-freqs", f"{bad} out of range for p={p} (allowed 1..{top})")
