"""How much memory a run needs, and the size of the chunks it streams in: a run is refused before
it allocates anything when it would not fit (:func:`check_fits_in_memory`), and every streamed
computation of :class:`interp.run.Run` reads :data:`CHUNK` here, at the time it runs."""

from __future__ import annotations

import os

from interp.checkpoint import Checkpoint
from interp.errors import CheckpointError

CHUNK = 1 << 24  # elements per streamed chunk (64 MB in float32)


def block_rows(p: int, d_mlp: int) -> int:
    """Rows ``a`` per streamed block: about :data:`CHUNK` elements of the widest per-pair tensor."""
    return max(1, CHUNK // (p * max(d_mlp, p)))


def estimate_run_bytes(p: int, d_model: int, d_mlp: int, n_heads: int = 0, d_head: int = 0) -> int:
    """Peak memory the claims' work on a :class:`Run` needs above the loaded model, in bytes:
    ``hook_pre`` over all ``p*p`` pairs in float32 (``4 p^2 d_mlp``), per-pair labels, splits,
    predictions and correct logits (``104 p^2``), and the larger of two streamed stages. With
    ``f = 8 d_mlp + 8 p + 36 d_model + 32 n_heads d_head``, what one forward pass holds per pair
    (activations and logits; inputs and residuals; a transformer's attention values per head):

    * the forward pass, blocks of ``n`` pairs (:func:`block_rows`): ``n (f + 8 d_mlp + 4 p)``,
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
    block = p * min(p, block_rows(p, d_mlp))
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
