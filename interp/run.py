"""One cached run of a checkpoint: the model is run once over all ``p*p`` pairs, and every
quantity derived from it is computed at most once, on first use.

Treat a :class:`Run` as read-only: metrics receive its tensors and must not modify them.
"""

from __future__ import annotations

import os
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
from interp.fourier import TermAccumulator, TermSpectrum, fft2d, fourier_basis

FORWARD_CALLS = {"count": 0}  # incremented by Run.hook_pre, so tests can prove the model runs once
CHUNK = 1 << 24  # elements per streamed chunk (64 MB in float32)


def estimate_run_bytes(p: int, d_model: int, d_mlp: int) -> int:
    """Peak memory a :class:`Run` needs, in bytes: ``hook_pre`` over all ``p*p`` pairs in float32
    (``4 p^2 d_mlp``), per-pair labels, splits, predictions and correct logits (``64 p^2``), and
    the temporaries of one streamed block of ``n`` pairs (``n (24 d_mlp + 16 p + 8 d_model)``:
    the post-ReLU block and its float64 copy, the block's logits and their log-softmax (counted
    as float64), the embeddings). Measured peaks are in docs/performance.md.

    >>> round(estimate_run_bytes(113, 128, 512) / 1e6)  # MB
    220
    """
    block = p * min(p, max(1, CHUNK // (p * max(d_mlp, p))))
    return 4 * p * p * d_mlp + 64 * p * p + block * (24 * d_mlp + 16 * p + 8 * d_model)


def available_memory_bytes() -> int | None:
    """``MemAvailable`` from /proc/meminfo; else the physical memory (``os.sysconf``); else None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
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

    Memory stays near one ``[p*p, d_mlp]`` float32 tensor, ``hook_pre`` (2 GB at p = 1009); the
    post-ReLU activations and the logits exist one block of rows ``a`` at a time, and the claims
    read Fourier terms that cost ``O(p^2 d_mlp)`` (:class:`interp.fourier.TermSpectrum`), not full
    spectra (docs/performance.md). The full maps (:attr:`post_spectra`, :attr:`pre_energy`,
    :attr:`post_energy`, :attr:`logit_energy`) stay available, computed on first use.

    >>> from interp.model import Weights
    >>> from interp.checkpoint import Checkpoint
    >>> from pathlib import Path
    >>> run = Run(Checkpoint(Path("toy.pt"), "0" * 64, Weights.random(7, 4, 8)))
    >>> tuple(run.hook_post.shape), tuple(run.logits.shape)
    ((49, 8), (49, 7))
    """

    checkpoint: Checkpoint
    given_key_freqs: list[int] | None = None
    device: str = "cpu"

    # -- the model -------------------------------------------------------------------------------
    @property
    def weights(self):
        return self.checkpoint.weights

    @cached_property
    def _w(self):
        """The weights on the compute device."""
        return self.weights.to(self.device)

    @property
    def p(self) -> int:
        return self.weights.p

    def _pair_chunks(self) -> Iterator[slice]:
        n = self.p * self.p
        step = max(1, CHUNK // max(self.weights.d_mlp, self.p))
        for start in range(0, n, step):
            yield slice(start, min(n, start + step))

    @cached_property
    def hook_pre(self) -> Float[Tensor, "pair d_mlp"]:
        """``(W_E[a] + W_E[b]) @ W_in`` over all pairs: the one forward pass (the later hooks are
        cheap functions of it)."""
        FORWARD_CALLS["count"] += 1
        w, pairs = self._w, all_pairs(self.p).to(self.device)
        pre = torch.empty(self.p * self.p, w.d_mlp, dtype=w.W_in.dtype, device=self.device)
        with torch.no_grad():
            for rows in self._pair_chunks():
                chunk = pairs[rows]
                pre[rows] = (w.W_E[chunk[:, 0]] + w.W_E[chunk[:, 1]]) @ w.W_in
        return pre

    @property
    def hook_embed(self) -> Float[Tensor, "pair d_model"]:
        """``W_E[a] + W_E[b]`` (computed on each access; the metrics do not use it)."""
        pairs = all_pairs(self.p).to(self.device)
        return self._w.W_E[pairs[:, 0]] + self._w.W_E[pairs[:, 1]]

    @property
    def hook_post(self) -> Float[Tensor, "pair d_mlp"]:
        """``relu(hook_pre)`` (computed on each access; metrics use the streamed summaries)."""
        return torch.relu(self.hook_pre)

    @property
    def logits(self) -> Float[Tensor, "pair p"]:
        """``hook_post @ W_U`` over all pairs (computed on each access; ``[p*p, p]`` is 4 GB at
        p = 1009, so metrics use the streamed summaries instead)."""
        return self.hook_post @ self._w.W_U

    def logits_of(self, idx: Int[Tensor, " n"]) -> Float[Tensor, "n p"]:
        """Logits of the pairs ``idx`` only."""
        return torch.relu(self.hook_pre[idx.to(self.device)]) @ self._w.W_U

    def _a_chunks(self) -> Iterator[tuple[int, slice]]:
        """Blocks of whole rows ``a`` (all ``b``): ``(a0, slice of their pairs)``."""
        p = self.p
        step = max(1, CHUNK // (p * max(self.weights.d_mlp, p)))
        for a0 in range(0, p, step):
            yield a0, slice(a0 * p, min(p, a0 + step) * p)

    @cached_property
    def _logit_pass(self) -> dict[str, Tensor]:
        """The one streamed pass after the forward, over blocks of rows ``a``: the Fourier terms
        of pre-ReLU, post-ReLU and logits (:class:`interp.fourier.TermSpectrum`), argmax and
        correct-class logit per pair, and the logits summed over the pairs of each
        ``s = (a+b) mod p`` (float64). The logits exist one block at a time."""
        p, d_mlp, w, labels_ = self.p, self.weights.d_mlp, self._w, self.labels.to(self.device)
        pre_acc = TermAccumulator(p, d_mlp, self.device, products=False)
        post_acc = TermAccumulator(p, d_mlp, self.device)
        predictions = torch.empty(p * p, dtype=torch.long)
        correct = torch.empty(p * p, dtype=torch.float64)
        logit_sum = torch.zeros(p, dtype=torch.float64, device=self.device)
        logit_sumsq = torch.zeros(p, dtype=torch.float64, device=self.device)
        with torch.no_grad():
            for a0, rows in self._a_chunks():
                pre = self.hook_pre[rows]
                pre_acc.add(a0, pre.reshape(-1, p, d_mlp))
                post = torch.relu(pre)
                post_acc.add(a0, post.reshape(-1, p, d_mlp))
                chunk = post @ w.W_U
                predictions[rows] = chunk.max(-1).indices.cpu()  # the first maximum, as argmax; 4x faster here
                correct[rows] = chunk.gather(-1, labels_[rows, None])[:, 0].double().cpu()
                logit_sum += chunk.sum(0).double()
                logit_sumsq += chunk.square_().sum(0).double()  # in place: the chunk's last use
        post_terms = post_acc.finish()
        logit_total = logit_sumsq - logit_sum.pow(2) / (p * p)  # centered, per class
        return {"predictions": predictions, "correct": correct,
                "by_sum": (post_acc.by_sum @ w.W_U.double()).cpu(),  # sum of logits = (sum of post) @ W_U
                "post_mean": (post_acc.cols.sum(0) / (p * p)).to(w.W_U.dtype),
                "pre_terms": _to_cpu(pre_acc.finish()), "post_terms": _to_cpu(post_terms),
                "logit_terms": _to_cpu(post_terms.map(w.W_U, logit_total))}

    @property
    def pre_terms(self) -> TermSpectrum:
        """The linear terms and total of ``fft2d(pre - mean(pre))`` per neuron (no products)."""
        return self._logit_pass["pre_terms"]

    @property
    def post_terms(self) -> TermSpectrum:
        """The linear terms, same-frequency products and total of ``fft2d(post - mean(post))``
        per neuron: what :attr:`post_energy` holds for the claims, in ``O(p^2 d_mlp)``."""
        return self._logit_pass["post_terms"]

    @property
    def logit_terms(self) -> TermSpectrum:
        """The same terms of ``fft2d(logits - mean(logits))`` per class: ``post_terms`` read
        through ``W_U`` (fft2d is linear), the total from the logits' centered sum of squares."""
        return self._logit_pass["logit_terms"]

    # -- data ------------------------------------------------------------------------------------
    @cached_property
    def labels(self) -> Int[Tensor, " pair"]:
        return labels(all_pairs(self.p), self.p)

    @cached_property
    def splits(self) -> dict[str, Int[Tensor, " n"]]:
        """Pair indices of ``train``, ``test`` and ``all``."""
        train, test = split_indices(self.p)
        return {"train": train, "test": test, "all": torch.arange(self.p * self.p)}

    @property
    def predictions(self) -> Int[Tensor, " pair"]:
        """``argmax(logits)`` per pair."""
        return self._logit_pass["predictions"]

    @cached_property
    def split_logits(self) -> SplitLogits:
        """Lazy ``{split: logits of that split's pairs}``, computed on access, not kept."""
        return SplitLogits(self)

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

    def _neuron_chunks(self) -> Iterator[slice]:
        d_mlp = self.weights.d_mlp
        step = max(1, CHUNK // (self.p * self.p) * 16)
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
        Fourier basis (streamed over neurons, kept: every post-ReLU and logit view derives from
        it, the logits' through ``fft2d(logits - mean) = post_spectra @ W_U``)."""
        out = torch.empty(self.p, self.p, self.weights.d_mlp, dtype=self.hook_pre.dtype, device=self.device)
        for cols in self._neuron_chunks():
            out[..., cols] = fft2d(self._centered_grid(torch.relu(self.hook_pre[:, cols])))
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
        the 2D spectrum of the neurons read along W_U's sin k and cos k directions (the readouts
        streamed over blocks of rows, then one small fft2d; all key frequencies on first use)."""
        return ReadoutSpectra(self)

    @cached_property
    def logit_energy(self) -> Float[Tensor, "p p"]:
        """``sum_c fft2d(logits - mean(logits))[i, j, c]^2``: 2D Fourier energy of the centered
        logits, summed over output classes (float64). Since ``fft2d(logits - mean) =
        post_spectra @ W_U``, it is ``sum_n,m S[i,j,n] (W_U W_U^T)[n,m] S[i,j,m]``."""
        gram = self._w.W_U.double() @ self._w.W_U.double().T
        energy = torch.empty(self.p * self.p, dtype=torch.float64)
        flat = self.post_spectra.reshape(self.p * self.p, -1)
        for rows in self._pair_chunks():
            s = flat[rows].double()
            energy[rows] = ((s @ gram) * s).sum(-1).cpu()
        return energy.reshape(self.p, self.p)

    @property
    def post_mean(self) -> Float[Tensor, " d_mlp"]:
        """Mean post-ReLU activation of each neuron over all pairs (on the compute device)."""
        return self._logit_pass["post_mean"]

    # -- beyond the seed: neurons, the correct logit, the clock projection ------------------------
    @property
    def neuron_freq_shares(self) -> Float[Tensor, "d_mlp k"]:
        """Per neuron, the share of its centered post-ReLU 2D Fourier energy in each frequency's
        9 terms (Const, sin/cos of a, of b, and the 4 products):
        ``share[n, k-1] = sum_{i, j in {0, 2k-1, 2k}} E[i, j, n] / sum_{i, j} E[i, j, n]``."""
        terms = self.post_terms
        return (terms.block_energy() / terms.total.clamp_min(torch.finfo(torch.float64).tiny)).T

    @property
    def correct_logits(self) -> Float[Tensor, " pair"]:
        """The logit of the correct class ``(a + b) mod p``, per pair (float64)."""
        return self._logit_pass["correct"]

    @cached_property
    def clock_projection(self) -> Float[Tensor, "s c"]:
        """The logits projected onto the unit directions ``cos(w_k(a+b-c))`` and
        ``sin(w_k(a+b-c))``, k in the key frequencies, over all pairs and classes. Those
        directions depend on the pair only through ``s = (a+b) mod p``, so the projection is a
        ``[s, c]`` table: ``R = sum_d <logits, D_d> / ||D_d||^2 * D_d`` (float64)."""
        p = self.p
        by_sum = self._logit_pass["by_sum"]
        x = torch.arange(p, dtype=torch.float64)
        diff = x[:, None] - x[None, :]
        table = torch.zeros(p, p, dtype=torch.float64)
        for k in self.key_freqs:
            for trig in (torch.cos, torch.sin):
                direction = trig(2 * torch.pi * k / p * diff)
                # each s is hit by p pairs, so ||D||^2 over pairs and classes is p * sum(direction^2)
                table += (by_sum * direction).sum() / (p * direction.pow(2).sum()) * direction
        return table


def _to_cpu(terms: TermSpectrum) -> TermSpectrum:
    return TermSpectrum(*(None if t is None else t.cpu() for t in
                          (terms.a_terms, terms.b_terms, terms.products, terms.total)))


class SplitLogits(Mapping[str, Tensor]):
    """Lazy ``{split: logits of its pairs}``; see :attr:`Run.split_logits`."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def __getitem__(self, split: str) -> Float[Tensor, "n p"]:
        return self._run.logits_of(self._run.splits[split]).cpu()

    def chunks(self, split: str) -> Iterator[tuple[Int[Tensor, " n"], Float[Tensor, "n p"]]]:
        """``(pair indices, their logits)`` over the split, :data:`CHUNK` elements at a time."""
        idx, step = self._run.splits[split], max(1, CHUNK // self._run.p)
        for start in range(0, len(idx), step):
            part = idx[start : start + step]
            yield part, self._run.logits_of(part).cpu()

    def __iter__(self) -> Iterator[str]:
        return iter(self._run.splits)

    def __len__(self) -> int:
        return len(self._run.splits)


class ReadoutSpectra(Mapping[int, Tensor]):
    """Lazy ``{k: fft2d(post @ US[:, [2k-1, 2k]])}``; see :attr:`Run.readout_spectra`."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._cache: dict[int, Tensor] = {}

    def _fill(self, freqs: list[int]) -> None:
        run, p = self._run, self._run.p
        cols = [r for k in freqs for r in (2 * k - 1, 2 * k)]
        directions = run.wu_fourier[:, cols].to(run.device)
        readout = torch.empty(p * p, len(cols), dtype=directions.dtype, device=run.device)
        for _, rows in run._a_chunks():
            readout[rows] = torch.relu(run.hook_pre[rows]) @ directions
        spectra = fft2d(readout.reshape(p, p, -1)).cpu()
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
