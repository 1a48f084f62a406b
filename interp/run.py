"""One cached run of a checkpoint: the model is run once over all ``p*p`` pairs, and every
quantity derived from it is computed at most once, on first use.

Treat a :class:`Run` as read-only: metrics receive its tensors and must not modify them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property

import torch
from jaxtyping import Float, Int
from torch import Tensor

from interp import keyfreqs
from interp.checkpoint import Checkpoint
from interp.data import all_pairs, labels, split_indices
from interp.errors import CheckpointError
from interp.fourier import fft2d, fourier_basis
from interp.model import forward

FORWARD_CALLS = {"count": 0}  # incremented by Run.acts, so tests can prove the model runs once

def estimate_run_bytes(p: int, d_model: int, d_mlp: int) -> int:
    """Peak memory a :class:`Run` needs, in bytes: the four hooks over all ``p*p`` pairs in float32
    (``4 p^2 (d_model + 2 d_mlp + p)``), plus the per-neuron 2D spectrum of the post-ReLU
    activations in float64 and one temporary of the same size (``16 p^2 d_mlp``).

    >>> round(estimate_run_bytes(113, 128, 512) / 1e6)  # MB
    169
    """
    return 4 * p * p * (d_model + 2 * d_mlp + p) + 16 * p * p * d_mlp


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo, or None where it cannot be read."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_fits_in_memory(checkpoint: Checkpoint) -> None:
    """Refuse, before allocating, a checkpoint whose run would not fit in available memory."""
    w = checkpoint.weights
    need, have = estimate_run_bytes(w.p, w.d_model, w.d_mlp), available_memory_bytes()
    if have is not None and need > have:
        raise CheckpointError(checkpoint.path, f"p={w.p}, d_model={w.d_model}, d_mlp={w.d_mlp} needs about "
                              f"{need / 1e9:.1f} GB to run, but only {have / 1e9:.1f} GB of memory is available")


@dataclass
class Run:
    """A checkpoint, its key frequencies and lazily computed activations and spectra.

    >>> from interp.model import Weights
    >>> from interp.checkpoint import Checkpoint
    >>> from pathlib import Path
    >>> run = Run(Checkpoint(Path("toy.pt"), "0" * 64, Weights.random(7, 4, 8)))
    >>> tuple(run.hook_post.shape), tuple(run.logits.shape)
    ((49, 8), (49, 7))
    """

    checkpoint: Checkpoint
    given_key_freqs: list[int] | None = None

    # -- the model -------------------------------------------------------------------------------
    @property
    def weights(self):
        return self.checkpoint.weights

    @property
    def p(self) -> int:
        return self.weights.p

    @cached_property
    def acts(self) -> dict[str, Tensor]:
        """Every hook over all pairs (the single forward pass)."""
        FORWARD_CALLS["count"] += 1
        with torch.no_grad():
            return forward(self.weights, all_pairs(self.p))

    @property
    def hook_embed(self) -> Float[Tensor, "pair d_model"]:
        return self.acts["hook_embed"]

    @property
    def hook_pre(self) -> Float[Tensor, "pair d_mlp"]:
        return self.acts["hook_pre"]

    @property
    def hook_post(self) -> Float[Tensor, "pair d_mlp"]:
        return self.acts["hook_post"]

    @property
    def logits(self) -> Float[Tensor, "pair p"]:
        return self.acts["logits"]

    # -- data ------------------------------------------------------------------------------------
    @cached_property
    def labels(self) -> Int[Tensor, " pair"]:
        return labels(all_pairs(self.p), self.p)

    @cached_property
    def splits(self) -> dict[str, Int[Tensor, " n"]]:
        """Pair indices of ``train``, ``test`` and ``all``."""
        train, test = split_indices(self.p)
        return {"train": train, "test": test, "all": torch.arange(self.p * self.p)}

    @cached_property
    def predictions(self) -> Int[Tensor, " pair"]:
        return self.logits.argmax(-1)

    # -- Fourier views ---------------------------------------------------------------------------
    @cached_property
    def basis(self) -> Float[Tensor, "p p"]:
        return fourier_basis(self.p, self.weights.W_U.dtype)

    @cached_property
    def wu_fourier(self) -> Float[Tensor, "d_mlp p"]:
        """``US = W_U @ F.T``: W_U's output axis in the Fourier basis."""
        return self.weights.W_U @ self.basis.T

    @cached_property
    def wneur_fourier(self) -> Float[Tensor, "p d_mlp"]:
        """``F @ W_neur`` with ``W_neur = W_E @ W_in``: the token axis in the Fourier basis."""
        return self.basis @ self.weights.W_neur

    @cached_property
    def key_freqs(self) -> list[int]:
        """The given key frequencies, else those of ``W_U`` by :mod:`interp.keyfreqs`' rule."""
        if self.given_key_freqs is not None:
            return list(self.given_key_freqs)
        return keyfreqs.key_frequencies(self.wu_fourier.T)

    @property
    def key_freqs_source(self) -> str:
        return "auto" if self.given_key_freqs is None else "given"

    def _grid(self, t: Tensor) -> Tensor:
        return t.reshape(self.p, self.p, *t.shape[1:])

    def _centered_spectra(self, acts: Tensor) -> Float[Tensor, "p p n"]:
        """``fft2d`` of activations centered over pairs (mean of each column subtracted)."""
        return fft2d(self._grid(acts - acts.mean(0)))

    @cached_property
    def readout_spectra(self) -> ReadoutSpectra:
        """Per frequency ``k``: ``fft2d(post @ US[:, [2k-1, 2k]])``, shape ``[p, p, 2]`` (sin, cos):
        the 2D spectrum of the neurons read along W_U's sin k and cos k directions. Computed for
        all key frequencies together on first use."""
        return ReadoutSpectra(self)

    @cached_property
    def pre_energy(self) -> Float[Tensor, "p p"]:
        """``sum_n fft2d(pre - mean(pre))[i, j, n]^2``: 2D Fourier energy of the centered pre-ReLU
        activations, summed over neurons (float64)."""
        return self._centered_spectra(self.hook_pre).to(torch.float64).pow(2).sum(-1)

    @cached_property
    def post_neuron_energy(self) -> Float[Tensor, "p p d_mlp"]:
        """``fft2d(post - mean(post))^2`` per neuron (float64)."""
        return self._centered_spectra(self.hook_post).to(torch.float64).pow(2)

    @cached_property
    def post_energy(self) -> Float[Tensor, "p p"]:
        """:attr:`post_neuron_energy` summed over neurons."""
        return self.post_neuron_energy.sum(-1)

    @cached_property
    def logit_energy(self) -> Float[Tensor, "p p"]:
        """``sum_c fft2d(logits - mean(logits))[i, j, c]^2``: 2D Fourier energy of the centered
        logits, summed over output classes (float64)."""
        return self._centered_spectra(self.logits).to(torch.float64).pow(2).sum(-1)


    # -- beyond the seed: neurons, the correct logit, the clock projection ------------------------
    @cached_property
    def neuron_freq_shares(self) -> Float[Tensor, "d_mlp k"]:
        """Per neuron, the share of its centered post-ReLU 2D Fourier energy in each frequency's
        9 terms (Const, sin/cos of a, of b, and the 4 products):
        ``share[n, k-1] = sum_{i, j in {0, 2k-1, 2k}} E[i, j, n] / sum_{i, j} E[i, j, n]``."""
        energy = self.post_neuron_energy
        total = energy.sum((0, 1)).clamp_min(torch.finfo(energy.dtype).tiny)
        blocks = [energy[idx][:, idx].sum((0, 1)) for idx in
                  ([0, 2 * k - 1, 2 * k] for k in range(1, (self.p - 1) // 2 + 1))]
        return torch.stack(blocks, dim=-1) / total[:, None]

    @cached_property
    def pair_sums(self) -> Int[Tensor, " pair"]:
        """``(a + b) mod p`` per pair (the label, as an index)."""
        return self.labels

    @cached_property
    def correct_logits(self) -> Float[Tensor, " pair"]:
        """The logit of the correct class ``(a + b) mod p``, per pair (float64)."""
        return self.logits.gather(-1, self.labels[:, None])[:, 0].to(torch.float64)

    @cached_property
    def clock_projection(self) -> Float[Tensor, "s c"]:
        """The logits projected onto the unit directions ``cos(w_k(a+b-c))`` and
        ``sin(w_k(a+b-c))``, k in the key frequencies, over all pairs and classes. Those
        directions depend on the pair only through ``s = (a+b) mod p``, so the projection is a
        ``[s, c]`` table: ``R = sum_d <logits, D_d> / ||D_d||^2 * D_d`` (float64)."""
        p = self.p
        by_sum = torch.zeros(p, p, dtype=torch.float64).index_add_(0, self.labels, self.logits.to(torch.float64))
        x = torch.arange(p, dtype=torch.float64)
        diff = x[:, None] - x[None, :]
        table = torch.zeros(p, p, dtype=torch.float64)
        for k in self.key_freqs:
            for trig in (torch.cos, torch.sin):
                direction = trig(2 * torch.pi * k / p * diff)
                # each s is hit by p pairs, so ||D||^2 over pairs and classes is p * sum(direction^2)
                table += (by_sum * direction).sum() / (p * direction.pow(2).sum()) * direction
        return table


class ReadoutSpectra(Mapping[int, Tensor]):
    """Lazy ``{k: fft2d(post @ US[:, [2k-1, 2k]])}``; see :attr:`Run.readout_spectra`."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._cache: dict[int, Tensor] = {}

    def _fill(self, freqs: list[int]) -> None:
        run = self._run
        cols = [r for k in freqs for r in (2 * k - 1, 2 * k)]
        spectra = fft2d(run._grid(run.hook_post @ run.wu_fourier[:, cols]))
        for i, k in enumerate(freqs):
            self._cache[k] = spectra[..., 2 * i : 2 * i + 2]

    def __getitem__(self, k: int) -> Float[Tensor, "p p 2"]:
        if k not in self._cache:
            if not 1 <= k <= (self._run.p - 1) // 2:
                raise KeyError(k)
            wanted = [f for f in self._run.key_freqs if f not in self._cache]
            self._fill(wanted if k in wanted else [k])
        return self._cache[k]

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, (self._run.p - 1) // 2 + 1))

    def __len__(self) -> int:
        return (self._run.p - 1) // 2
