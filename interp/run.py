"""One cached run of a checkpoint: the model is run once over all ``p*p`` pairs, and every
quantity derived from it is computed at most once, on first use.

Nothing here knows the architecture: the model (:mod:`interp.model`) gives the hooks at the
answer position for any pairs, its neurons' readout and its embedding. Treat a :class:`Run` as
read-only: metrics receive its tensors and must not modify them.
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
from interp.data import TASKS, Task, all_pairs, labels, split_indices
from interp.errors import CheckpointError
from interp.fourier import TermAccumulator, TermSpectrum, fft2d, fourier_basis
from interp.model import Model, forward

FORWARD_CALLS = {"count": 0}  # incremented by the one forward pass, so tests can prove the model runs once
CHUNK = 1 << 24  # elements per streamed chunk (64 MB in float32)


def _block_rows(p: int, d_mlp: int) -> int:
    """Rows ``a`` per streamed block: about :data:`CHUNK` elements of the widest per-pair tensor."""
    return max(1, CHUNK // (p * max(d_mlp, p)))


def estimate_run_bytes(p: int, d_model: int, d_mlp: int, n_heads: int = 0, d_head: int = 0) -> int:
    """Peak memory the claims' work on a :class:`Run` needs above the loaded model, in bytes:
    ``hook_pre`` over all ``p*p`` pairs in float32 (``4 p^2 d_mlp``), per-pair labels, splits,
    predictions and correct logits (``104 p^2``), and the larger of two streamed stages. With
    ``f = 8 d_mlp + 8 p + 36 d_model + 32 n_heads d_head``, what one forward pass holds per pair
    (activations and logits; inputs and residuals; a transformer's attention values per head):

    * the forward pass, blocks of ``n`` pairs (:func:`_block_rows`): ``n (f + 8 d_mlp + 4 p)``,
      since the previous block's activations and logits live on while the next is computed;
    * a split's streamed logits (``excluded-loss``), chunks of ``m = min(p^2, CHUNK // p)`` pairs:
      ``m (f + 8 p)``.

    Not included, since it depends on the number ``K`` of key frequencies: the readout spectra
    (``fve``), ``8 p^2 K`` bytes kept and about ``26 p^2 K`` at their peak; small for a trained
    model (13 key frequencies at p = 257: 22 MB), but a random model can have K near ``p/2``
    (``13 p^3``: 220 MB at p = 257, 13 GB at p = 1009).
    Measured peaks, and the margin: ``tests/integration/test_memory_peak.py``.

    >>> round(estimate_run_bytes(113, 128, 512) / 1e6)  # MB
    208
    """
    forward = 8 * d_mlp + 8 * p + 36 * d_model + 32 * n_heads * d_head
    block = p * min(p, _block_rows(p, d_mlp))
    chunk = min(p * p, CHUNK // p)
    return 4 * p * p * d_mlp + 104 * p * p + max(block * (forward + 8 * d_mlp + 4 * p), chunk * (forward + 8 * p))


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
    dims = checkpoint.model.dims()
    need, have = estimate_run_bytes(**dims), available_memory_bytes()
    if have is not None and need > have:
        shape = ", ".join(f"{k}={v}" for k, v in dims.items())
        raise CheckpointError(checkpoint.path, f"{shape} needs about {need / 1e9:.1f} GB to run, but only "
                              f"{have / 1e9:.1f} GB of memory is available")


@dataclass
class Run:
    """A checkpoint, its task, its key frequencies and lazily computed activations and spectra.

    Memory stays near one ``[p*p, d_mlp]`` float32 tensor, ``hook_pre`` (2 GB at p = 1009); the
    post-ReLU activations and the logits exist one block of rows ``a`` at a time, and the claims
    read Fourier terms that cost ``O(p^2 (d_mlp + p))`` (:class:`interp.fourier.TermSpectrum`),
    not full spectra (docs/performance.md). The full maps (:attr:`post_spectra`,
    :attr:`pre_energy`, :attr:`post_energy`, :attr:`logit_energy`) stay available, computed on
    first use.

    >>> from interp.arch.mlp import MLP
    >>> from pathlib import Path
    >>> run = Run(Checkpoint(Path("toy.pt"), "0" * 64, MLP.random(7, 4, 8)))
    >>> tuple(run.hook_post.shape), tuple(run.logits.shape), run.architecture, run.task
    ((49, 8), (49, 7), 'mlp', 'add')
    """

    checkpoint: Checkpoint
    given_key_freqs: list[int] | None = None
    device: str = "cpu"
    task: Task = "add"

    # -- the model -------------------------------------------------------------------------------
    @property
    def model(self) -> Model:
        return self.checkpoint.model

    @property
    def architecture(self) -> str:
        return self.model.architecture

    @cached_property
    def _m(self) -> Model:
        """The model on the compute device."""
        return self.model.to(self.device)

    @property
    def p(self) -> int:
        return self.model.p

    def _a_chunks(self) -> Iterator[tuple[int, slice]]:
        """Blocks of whole rows ``a`` (all ``b``): ``(a0, slice of their pairs)``."""
        p, step = self.p, _block_rows(self.p, self.model.d_mlp)
        for a0 in range(0, p, step):
            yield a0, slice(a0 * p, min(p, a0 + step) * p)

    def forward(self, idx: Int[Tensor, " n"]) -> dict[str, Tensor]:
        """Every hook for the pairs ``idx`` (on the compute device)."""
        with torch.no_grad():
            return forward(self._m, all_pairs(self.p)[idx].to(self.device))

    @cached_property
    def _pass(self) -> dict:
        """The one forward pass, over blocks of rows ``a``: ``hook_pre`` is kept; per block, the
        Fourier terms of pre-ReLU, post-ReLU and logits (:class:`interp.fourier.TermSpectrum`),
        argmax and correct-class logit per pair, and the logits summed over the pairs of each
        answer ``y`` (float64). Post-ReLU activations and logits exist one block at a time."""
        FORWARD_CALLS["count"] += 1
        p, d_mlp = self.p, self.model.d_mlp
        labels_ = self.labels.to(self.device)
        pre_all = None
        pre_acc = TermAccumulator(p, d_mlp, self.device, products=False)
        post_acc = TermAccumulator(p, d_mlp, self.device)
        logit_acc = TermAccumulator(p, p, self.device)
        predictions = torch.empty(p * p, dtype=torch.long)
        correct = torch.empty(p * p, dtype=torch.float64)
        pairs = all_pairs(p)
        with torch.no_grad():
            for a0, rows in self._a_chunks():
                hooks = forward(self._m, pairs[rows].to(self.device))
                pre, post, logits = hooks["hook_pre"], hooks["hook_post"], hooks["logits"]
                if pre_all is None:
                    pre_all = torch.empty(p * p, d_mlp, dtype=pre.dtype, device=self.device)
                pre_all[rows] = pre
                pre_acc.add(a0, pre.reshape(-1, p, d_mlp))
                post_acc.add(a0, post.reshape(-1, p, d_mlp))
                predictions[rows] = logits.max(-1).indices.cpu()  # the first maximum, as argmax; 4x faster here
                correct[rows] = logits.gather(-1, labels_[rows, None])[:, 0].double().cpu()
                logit_acc.add(a0, logits.reshape(-1, p, p))
                del hooks, pre, post, logits  # free this block before the next one is made
        by_answer = {"add": logit_acc.by_sum, "sub": logit_acc.by_diff}[self.task]
        return {"hook_pre": pre_all, "predictions": predictions, "correct": correct,
                "by_answer": by_answer.cpu(), "post_mean": (post_acc.cols.sum(0) / (p * p)).to(pre_all.dtype),
                "pre_terms": _to_cpu(pre_acc.finish()), "post_terms": _to_cpu(post_acc.finish()),
                "logit_terms": _to_cpu(logit_acc.finish())}

    @property
    def hook_pre(self) -> Float[Tensor, "pair d_mlp"]:
        """The MLP's pre-ReLU activations (at the answer position) over all pairs, from the one
        forward pass."""
        return self._pass["hook_pre"]

    @property
    def hook_post(self) -> Float[Tensor, "pair d_mlp"]:
        """``relu(hook_pre)`` (computed on each access; metrics use the streamed summaries)."""
        return torch.relu(self.hook_pre)

    @property
    def logits(self) -> Float[Tensor, "pair p"]:
        """The logits over all pairs (computed on each access; ``[p*p, p]`` is 4 GB at p = 1009, so
        metrics use the streamed summaries instead)."""
        return self.logits_of(self.splits["all"])

    def logits_of(self, idx: Int[Tensor, " n"]) -> Float[Tensor, "n p"]:
        """Logits of the pairs ``idx`` only (a forward pass over them)."""
        return self.forward(idx)["logits"]

    @property
    def pre_terms(self) -> TermSpectrum:
        """The linear terms and total of ``fft2d(pre - mean(pre))`` per neuron (no products)."""
        return self._pass["pre_terms"]

    @property
    def post_terms(self) -> TermSpectrum:
        """The linear terms, same-frequency products and total of ``fft2d(post - mean(post))``
        per neuron: what :attr:`post_energy` holds for the claims, in ``O(p^2 d_mlp)``."""
        return self._pass["post_terms"]

    @property
    def logit_terms(self) -> TermSpectrum:
        """The same terms of ``fft2d(logits - mean(logits))`` per class."""
        return self._pass["logit_terms"]

    # -- data ------------------------------------------------------------------------------------
    @cached_property
    def labels(self) -> Int[Tensor, " pair"]:
        """The task's answer per pair: ``(a + b) mod p`` or ``(a - b) mod p``."""
        return labels(all_pairs(self.p), self.p, self.task)

    @cached_property
    def splits(self) -> dict[str, Int[Tensor, " n"]]:
        """Pair indices of ``train``, ``test`` and ``all``."""
        train, test = split_indices(self.p)
        return {"train": train, "test": test, "all": torch.arange(self.p * self.p)}

    @property
    def predictions(self) -> Int[Tensor, " pair"]:
        """``argmax(logits)`` per pair."""
        return self._pass["predictions"]

    def task_hint(self) -> str:
        """A hint when the test accuracy is near 0 for this task but near 1 for another one (the
        checkpoint was probably trained on that task); else ``""``. Never changes the task."""
        test = self.splits["test"]
        mine = (self.predictions[test] == self.labels[test]).double().mean().item()
        for task in TASKS:
            theirs = (self.predictions[test] == labels(all_pairs(self.p), self.p, task)[test]).double().mean().item()
            if task != self.task and mine < 0.1 and theirs > 0.9:
                return (f"test accuracy under task {task!r} is {theirs:.3f}: was it trained on {task}? "
                        f"(gate it with --task {task})")
        return ""

    @cached_property
    def split_logits(self) -> SplitLogits:
        """Lazy ``{split: logits of that split's pairs}``, computed on access, not kept."""
        return SplitLogits(self)

    # -- Fourier views ---------------------------------------------------------------------------
    @cached_property
    def basis(self) -> Float[Tensor, "p p"]:
        return fourier_basis(self.p, self.model.readout.dtype)

    @cached_property
    def readout(self) -> Float[Tensor, "d_mlp p"]:
        """What each neuron adds to each logit: ``W_U`` (MLP), ``W_out @ W_U`` (transformer)."""
        return self.model.readout

    @cached_property
    def readout_fourier(self) -> Float[Tensor, "d_mlp p"]:
        """``US = readout @ F.T``: the readout's output axis in the Fourier basis."""
        return self.readout @ self.basis.T

    @cached_property
    def wneur_fourier(self) -> Float[Tensor, "p d_mlp"] | None:
        """``F @ W_neur``, the token-to-neuron map in the Fourier basis; None where the model has
        no such map (a transformer: attention sits between the embedding and the neurons)."""
        w_neur = self.model.W_neur
        return None if w_neur is None else self.basis @ w_neur

    @cached_property
    def token_map_fourier(self) -> Float[Tensor, "p d"]:
        """``F @ token_map``: where the model looks numbers up (``W_E @ W_in`` for the MLP, ``W_E``
        for a transformer), token axis in the Fourier basis."""
        return self.basis @ self.model.token_map

    @cached_property
    def embedding_fourier(self) -> Float[Tensor, "p d_model"]:
        """``F @ W_E`` over the number tokens: the embedding's token axis in the Fourier basis."""
        return self.basis @ self.model.embedding

    @cached_property
    def key_freqs(self) -> list[int]:
        """The given key frequencies, else the readout's by :mod:`interp.keyfreqs`' rule."""
        if self.given_key_freqs is not None:
            return list(self.given_key_freqs)
        return keyfreqs.key_frequencies(self.readout_fourier.T)

    @property
    def key_freqs_source(self) -> str:
        return "auto" if self.given_key_freqs is None else "given"

    def _neuron_chunks(self) -> Iterator[slice]:
        d_mlp = self.model.d_mlp
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
        Fourier basis (streamed over neurons, kept: figures read single neurons from it)."""
        out = torch.empty(self.p, self.p, self.model.d_mlp, dtype=self.hook_pre.dtype, device=self.device)
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
        the 2D spectrum of the neurons read along the readout's sin k and cos k directions (the
        readouts streamed over blocks of rows, then one small fft2d; all key frequencies on first
        use)."""
        return ReadoutSpectra(self)

    @cached_property
    def logit_energy(self) -> Float[Tensor, "p p"]:
        """``sum_c fft2d(logits - mean(logits))[i, j, c]^2``: 2D Fourier energy of the centered
        logits, summed over output classes (float64; for figures). Streamed over blocks of
        classes, each from a forward pass over all pairs: one pass up to p = 256, more above."""
        p = self.p
        energy = torch.zeros(p, p, dtype=torch.float64)
        step = max(1, CHUNK // (p * p))
        for c0 in range(0, p, step):
            cols = slice(c0, min(p, c0 + step))
            block = torch.cat([self.logits_of(self.splits["all"][rows])[:, cols] for _, rows in self._a_chunks()])
            energy += fft2d(self._centered_grid(block)).double().pow(2).sum(-1).cpu()
        return energy

    @property
    def post_mean(self) -> Float[Tensor, " d_mlp"]:
        """Mean post-ReLU activation of each neuron over all pairs (on the compute device)."""
        return self._pass["post_mean"]

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
        """The logit of the correct class (the task's answer), per pair (float64)."""
        return self._pass["correct"]

    @cached_property
    def clock_projection(self) -> Float[Tensor, "y c"]:
        """The logits projected onto the unit directions ``cos(w_k(y - c))`` and
        ``sin(w_k(y - c))``, k in the key frequencies, over all pairs and classes, with ``y`` the
        task's answer (``a + b`` or ``a - b`` mod p). Those directions depend on the pair only
        through ``y``, so the projection is a ``[y, c]`` table:
        ``R = sum_D <logits, D> / ||D||^2 * D`` (float64)."""
        p = self.p
        by_answer = self._pass["by_answer"]
        x = torch.arange(p, dtype=torch.float64)
        diff = x[:, None] - x[None, :]
        table = torch.zeros(p, p, dtype=torch.float64)
        for k in self.key_freqs:
            for trig in (torch.cos, torch.sin):
                direction = trig(2 * torch.pi * k / p * diff)
                # each y is hit by p pairs, so ||D||^2 over pairs and classes is p * sum(direction^2)
                table += (by_answer * direction).sum() / (p * direction.pow(2).sum()) * direction
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
    """Lazy ``{k: fft2d(post @ US[:, [2k-1, 2k]])}``; see :attr:`Run.readout_spectra`.

    Computed for a group of key frequencies at a time (about :data:`CHUNK` elements: all of them
    at p = 113, 8 at p = 1009), and only the latest group is kept, so memory stays bounded however
    many key frequencies a model has. Reading the key frequencies in order, as the claims do,
    computes each group once."""

    def __init__(self, run: Run) -> None:
        self._run = run
        self._cache: dict[int, Tensor] = {}

    def _fill(self, freqs: list[int]) -> None:
        run, p = self._run, self._run.p
        cols = [r for k in freqs for r in (2 * k - 1, 2 * k)]
        directions = run.readout_fourier[:, cols].to(run.device)
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
            keys, size = self._run.key_freqs, max(1, CHUNK // (2 * self._run.p ** 2))
            self._cache = {}
            self._fill(keys[keys.index(k) : keys.index(k) + size] if k in keys else [k])
        return self._cache[k]

    def __iter__(self) -> Iterator[int]:
        return iter(range(1, (self._run.p - 1) // 2 + 1))

    def __len__(self) -> int:
        return (self._run.p - 1) // 2
