"""2D Fourier spectra of a run's activations and logits: the full energy maps (for figures; the
claims read the streamed terms of :mod:`interp.run`), the readout spectra of ``fve``, and each
neuron's share of its energy per frequency (see :mod:`interp.views`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property

import torch
from jaxtyping import Float
from torch import Tensor

from interp import memory
from interp.fourier import fft2d


class Spectra:
    """Mixed into :class:`interp.run.Run`: reads its ``hook_pre``, streamed terms, logits and
    ``readout_fourier``."""

    def _neuron_chunks(self) -> Iterator[slice]:
        d_mlp = self.model.d_mlp
        step = max(1, memory.CHUNK // (self.p * self.p) * 16)
        for start in range(0, d_mlp, step):
            yield slice(start, min(d_mlp, start + step))

    def _centered_grid(self, acts: Tensor) -> Tensor:
        return (acts - acts.mean(0)).reshape(self.p, self.p, -1)

    @cached_property
    def pre_energy(self) -> Float[Tensor, "p p"]:
        """``sum_n fft2d(pre - mean(pre))[i, j, n]^2``: 2D Fourier energy of the centered pre-ReLU
        activations, summed over neurons (float64; streamed over neurons)."""
        energy = torch.zeros(self.p, self.p, dtype=torch.float64, device=self.device)
        for cols in self._neuron_chunks():
            energy += fft2d(self._centered_grid(self.hook_pre[:, cols])).double().pow(2).sum(-1)
        return energy.cpu()

    @cached_property
    def post_spectra(self) -> Float[Tensor, "p p d_mlp"]:
        """``fft2d(post - mean(post))`` per neuron: the centered post-ReLU activations in the 2D
        Fourier basis (streamed over neurons, kept: figures read single neurons from it)."""
        out = torch.empty(self.p, self.p, self.model.d_mlp, dtype=self.hook_pre.dtype, device=self.device)
        for cols in self._neuron_chunks():
            out[..., cols] = fft2d(self._centered_grid(self.model.activation(self.hook_pre[:, cols])))
        return out

    @cached_property
    def post_energy(self) -> Float[Tensor, "p p"]:
        """``sum_n fft2d(post - mean(post))[i, j, n]^2`` (float64; the full map, for figures:
        the claims read :attr:`post_terms`)."""
        energy = torch.zeros(self.p, self.p, dtype=torch.float64, device=self.device)
        for cols in self._neuron_chunks():
            energy += self.post_spectra[..., cols].double().pow(2).sum(-1)
        return energy.cpu()

    @cached_property
    def readout_spectra(self) -> ReadoutSpectra:
        """Per frequency ``k``: ``fft2d(post @ US[:, [2k-1, 2k]])``, shape ``[p, p, 2]`` (sin, cos):
        the 2D spectrum of the neurons read along the readout's sin k and cos k directions (the
        readouts streamed over blocks of rows, then one small fft2d; all key frequencies on first
        use). For even p, the Nyquist ``k = p/2`` reads ``US[:, p-1]`` (``cos(pi c)``) as its cos;
        its sin is zero (there is no sine row)."""
        return ReadoutSpectra(self)

    @cached_property
    def logit_energy(self) -> Float[Tensor, "p p"]:
        """``sum_c fft2d(logits - mean(logits))[i, j, c]^2``: 2D Fourier energy of the centered
        logits, summed over output classes (float64; for figures). Streamed over blocks of
        classes, each from a forward pass over all pairs: one pass up to p = 256, more above."""
        p = self.p
        energy = torch.zeros(p, p, dtype=torch.float64)
        step = max(1, memory.CHUNK // (p * p))
        for c0 in range(0, p, step):
            cols = slice(c0, min(p, c0 + step))
            block = torch.cat([self.logits_of(self.splits["all"][rows])[:, cols] for _, rows in self._a_chunks()])
            energy += fft2d(self._centered_grid(block)).double().pow(2).sum(-1).cpu()
        return energy
    # -- beyond the seed: neurons, the correct logit, the clock projection ------------------------
    @property
    def neuron_freq_shares(self) -> Float[Tensor, "d_mlp k"]:
        """Per neuron, the share of its centered post-ReLU 2D Fourier energy in each frequency's
        9 terms (Const, sin/cos of a, of b, and the 4 products):
        ``share[n, k-1] = sum_{i, j in {0, 2k-1, 2k}} E[i, j, n] / sum_{i, j} E[i, j, n]``,
        ``k = 1 .. p // 2`` (for even p, the Nyquist ``k = p/2`` has the 4 terms ``{0, p-1}^2``)."""
        terms = self.post_terms
        return (terms.block_energy() / terms.total.clamp_min(torch.finfo(torch.float64).tiny)).T

class ReadoutSpectra(Mapping[int, Tensor]):
    """Lazy ``{k: fft2d(post @ US[:, [2k-1, 2k]])}``; see :attr:`interp.run.Run.readout_spectra`.

    Computed for a group of key frequencies at a time (about :data:`memory.CHUNK` elements: all of them
    at p = 113, 8 at p = 1009), and only the latest group is kept, so memory stays bounded however
    many key frequencies a model has. The groups are fixed (the key frequencies cut into runs of
    that size from the first), so that a value does not depend on which frequency was read first:
    a run that selects only some cases (``-k``, a pytest-split shard that starts mid-way through a
    checkpoint) gives the same bits as a full one; float32 sums over a group of another width do
    not. Reading the key frequencies in order, as the claims do, computes each group once."""

    def __init__(self, run) -> None:  # the interp.run.Run it belongs to
        self._run = run
        self._cache: dict[int, Tensor] = {}

    def _fill(self, freqs: list[int]) -> None:
        run, p = self._run, self._run.p
        cols = [r for k in freqs for r in ((p, p - 1) if 2 * k == p else (2 * k - 1, 2 * k))]  # Nyquist: (none, cos)
        padded = torch.nn.functional.pad(run.readout_fourier, (0, 1))  # column p: zero, the Nyquist's missing sine
        directions = padded[:, cols].to(run.device)
        readout = torch.empty(p * p, len(cols), dtype=directions.dtype, device=run.device)
        for _, rows in run._a_chunks():
            readout[rows] = run.model.activation(run.hook_pre[rows]) @ directions
        spectra = fft2d(readout.reshape(p, p, -1)).cpu()
        for i, k in enumerate(freqs):
            self._cache[k] = spectra[..., 2 * i : 2 * i + 2]

    def __getitem__(self, k: int) -> Float[Tensor, "p p 2"]:
        if k not in self._cache:
            if not 1 <= k <= self._run.p // 2:
                raise KeyError(k)
            keys, size = self._run.key_freqs, max(1, memory.CHUNK // (2 * self._run.p ** 2))
            start = keys.index(k) // size * size if k in keys else None  # fixed groups: whichever k comes first,
            self._cache = {}  # its group is the same, so its value is the same bits (a shard starts mid-way)
            self._fill(keys[start : start + size] if start is not None else [k])
        return self._cache[k]

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, self._run.p // 2 + 1))

    def __len__(self) -> int:
        return self._run.p // 2
