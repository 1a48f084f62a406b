"""The memory check refuses a model whose run would not fit, before anything is allocated."""

from pathlib import Path

import pytest

from interp import memory as run_module
from interp.arch.mlp import MLP
from interp.checkpoint import Checkpoint
from interp.errors import CheckpointError

SHAPE = (113, 128, 512)


def checkpoint() -> Checkpoint:
    return Checkpoint(path="model.pt", sha256="0" * 64, model=MLP.random(*SHAPE, seed=0))


def test_estimate_grows_with_every_dimension():
    base = run_module.estimate_run_bytes(*SHAPE)
    for i in range(3):
        bigger = list(SHAPE)
        bigger[i] *= 2
        assert run_module.estimate_run_bytes(*bigger) > base


@pytest.mark.parametrize("share", [0.5, 0.999])
def test_refused_when_the_estimate_exceeds_available_memory(monkeypatch, share):
    need = run_module.estimate_run_bytes(*SHAPE)
    monkeypatch.setattr(run_module, "available_memory_bytes", lambda: int(need * share))
    with pytest.raises(CheckpointError, match=rf"^model\.pt: p=113, d_model=128, d_mlp=512 needs about "
                                              rf"{need / 1e9:.1f} GB to run, but only"):
        run_module.check_fits_in_memory(checkpoint())


@pytest.mark.parametrize("available", ["enough", "unknown"])
def test_allowed_when_it_fits_or_memory_is_unknown(monkeypatch, available):
    need = run_module.estimate_run_bytes(*SHAPE)
    monkeypatch.setattr(run_module, "available_memory_bytes", lambda: need if available == "enough" else None)
    run_module.check_fits_in_memory(checkpoint())


def test_available_memory_is_read_on_linux():
    if not Path("/proc/meminfo").is_file():
        pytest.skip("no /proc/meminfo")
    assert run_module.available_memory_bytes() > 0


def test_physical_memory_is_the_fallback_without_meminfo(monkeypatch):
    def no_meminfo(*args, **kwargs):
        raise FileNotFoundError("/proc/meminfo")

    monkeypatch.setattr("builtins.open", no_meminfo)
    assert run_module.available_memory_bytes() > 0


def test_freed_blocks_reused_nests_and_hands_back(monkeypatch):
    """The outermost block sets glibc's thresholds and sets the trim threshold back after (no
    ``malloc_trim``: the next run would fault every page in again); inner ones leave them."""
    from interp import memory

    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1

    monkeypatch.setattr(memory, "_glibc", FakeLibc)
    with memory.freed_blocks_reused():
        with memory.freed_blocks_reused():
            assert calls == [(-3, 32 << 20), (-1, (1 << 31) - 1)]
        assert len(calls) == 2
    assert calls[2:] == [(-1, 64 << 20)] and memory._DEPTH[0] == 0
