"""How much memory a run needs, and the size of the chunks it streams in: a run is refused before
it allocates anything when it would not fit (:func:`check_fits_in_memory`), and every streamed
computation of :class:`interp.run.Run` reads :data:`CHUNK` here, at the time it runs."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

from interp.checkpoint import Checkpoint
from interp.errors import CheckpointError

# elements per streamed chunk: 31.75 MiB in float32, under glibc's largest mmap threshold (32 MiB),
# so that a chunk's tensors are reused from the heap (:func:`freed_blocks_reused`)
CHUNK = (1 << 23) - (1 << 16)


def block_rows(p: int, d_mlp: int) -> int:
    """Rows ``a`` per streamed block: about :data:`CHUNK` elements of the widest per-pair tensor."""
    return max(1, CHUNK // (p * max(d_mlp, p)))


@contextmanager
def freed_blocks_reused() -> Iterator[None]:
    """Within the block, glibc's ``malloc`` keeps freed memory for the next block instead of
    handing it back to the system; on leaving, it trims the top of its heap beyond 64 MiB again. A
    no-op where the C library is not glibc.

    Why: a streamed computation allocates and frees the same few tensors of tens of MB per block
    (a block of logits at p = 1009: 65 MB). By default glibc serves those with ``mmap`` or trims
    them off the heap when freed, so the next block faults every page in again and the kernel
    zeroes it: at p = 1009 that was 3.6 million page faults and 19 s of system time in a 33 s
    pass; kept, 0.9 million and 10 s, and the pass takes 20.5 s (docs/performance.md).
    ``M_MMAP_THRESHOLD`` is raised to its largest value, 32 MiB, so blocks below it come from
    the heap, and ``M_TRIM_THRESHOLD`` to 2 GiB while inside. After, the trim threshold is 64 MiB
    (glibc hands back the top of the heap beyond it at the next ``free``), with the mmap threshold
    left at 32 MiB: where glibc's own adjustment ends once a block of 32 MiB was freed (setting
    either stops that adjustment, and its starting 128 KiB would send every later tensor over 128
    KiB to ``mmap``). No ``malloc_trim``: handing back every free page made the next run fault
    them in again (a p = 113 transformer's claims: 1.5 s against 1.0 s per checkpoint in a sweep).
    """
    libc = _glibc()
    if libc is None:
        yield
        return
    if not _DEPTH[0]:
        libc.mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1)  # an int: 2 GiB is its largest
    _DEPTH[0] += 1
    try:
        yield
    finally:
        _DEPTH[0] -= 1
        if not _DEPTH[0]:  # where glibc's own adjustment ends up once a 32 MiB block was freed
            libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
_DEPTH = [0]  # nested blocks: the outermost sets and restores


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The process's glibc, or None (another C library, or none found)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 (glibc only: raises AttributeError elsewhere)
        return libc
    except (OSError, AttributeError):
        return None


def estimate_run_bytes(p: int, d_model: int, d_mlp: int, n_heads: int = 0, d_head: int = 0,
                       kept: int | None = None) -> int:
    """Peak memory the claims' work on a :class:`Run` needs above the loaded model, in bytes:
    ``hook_pre`` over all ``p*p`` pairs in float32 (``4 p^2 d_mlp``), per-pair labels, splits,
    predictions and correct logits (``104 p^2``), the logits of the ``kept`` training pairs that
    the one pass keeps for the excluded losses (``4 kept p``; by default the project's split,
    30% of the pairs: :func:`kept_pairs`), and the larger of two streamed stages. With
    ``f = 8 d_mlp + 8 p + 36 d_model + 32 n_heads d_head``, what one forward pass holds per pair
    (activations and logits; inputs and residuals; a transformer's attention values per head):

    * the forward pass, blocks of ``n`` pairs (:func:`block_rows`): ``n (f + 8 d_mlp + 4 p)``,
      since the previous block's activations and logits live on while the next is computed;
    * a split's logits read in chunks of ``m = min(p^2, CHUNK // p)`` pairs (the excluded
      losses: their ablated logits and log-softmax; a forward pass where the split was not kept):
      ``m (f + 8 p)``.

    Not included, since it depends on the number ``K`` of key frequencies: the readout spectra
    (``fve``), ``8 p^2 K`` bytes kept and about ``26 p^2 K`` at their peak; small for a trained
    model (13 key frequencies at p = 257: 22 MB), but a random model can have K near ``p/2``
    (``13 p^3``: 220 MB at p = 257, 13 GB at p = 1009).
    Measured peaks, and the margin: ``tests/integration/test_memory_peak.py``.

    >>> round(estimate_run_bytes(113, 128, 512) / 1e6), round(estimate_run_bytes(1009, 128, 512) / 1e9, 2)  # MB, GB
    (210, 3.63)
    """
    kept = int(0.3 * p * p) if kept is None else kept
    forward = 8 * d_mlp + 8 * p + 36 * d_model + 32 * n_heads * d_head
    block = p * min(p, block_rows(p, d_mlp))
    chunk = min(p * p, CHUNK // p)
    streamed = max(block * (forward + 8 * d_mlp + 4 * p), chunk * (forward + 8 * p))
    return 4 * p * p * d_mlp + 104 * p * p + 4 * kept * p + streamed


def kept_pairs(facts, p: int) -> int:
    """How many pairs' logits the one pass keeps: the training split's, as the checkpoint's facts
    name it (:mod:`interp.splits`; this project's 30% where none does); every pair for ``all`` and,
    at most, for split files.

    >>> from interp.facts import FILE, Facts
    >>> facts = Facts(); facts.offer("split", "nanda", FILE, "config"); facts.offer("split_fraction", 0.5, FILE, "")
    >>> kept_pairs(Facts(), 10), kept_pairs(facts, 10)
    (30, 50)
    """
    from interp.splits import DEFAULTS

    kind = facts.get("split", "project")
    if kind not in DEFAULTS:
        return p * p
    fraction = facts.get("split_fraction")
    return min(p * p, int((DEFAULTS[kind][1] if fraction is None else float(fraction)) * p * p))


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
    need = estimate_run_bytes(**dims, kept=kept_pairs(checkpoint.facts, dims["p"]))
    have = available_memory_bytes()
    if have is not None and need > have:
        shape = ", ".join(f"{k}={v}" for k, v in dims.items())
        raise CheckpointError(checkpoint.path, f"{shape} needs about {need / 1e9:.1f} GB to run, but only "
                              f"{have / 1e9:.1f} GB of memory is available")
