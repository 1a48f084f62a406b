"""A claim case's value is the same bits whichever cases of its checkpoint ran before it: a run
that selects some cases only (``-k``, a pytest-split shard that starts in the middle of a
checkpoint) reports what the full run reports, so that merged shards equal one unsharded run."""

import pytest
import torch

from interp import memory
from interp.checkpoint import load_checkpoint
from interp.run import Run
from tests._paths import FIXTURES

GENERALISING = FIXTURES / "p113" / "epoch004000.pt"  # 32 key frequencies: many readout directions


@pytest.mark.parametrize("group", [None, 3], ids=["one group", "groups of 3"])
def test_a_key_frequency_spectrum_is_the_same_whichever_frequency_is_read_first(group, monkeypatch):
    run = Run(load_checkpoint(GENERALISING))
    if group is not None:  # the key frequencies computed 3 at a time, as at a large p
        monkeypatch.setattr(memory, "CHUNK", group * 2 * run.p**2)
    keys = run.key_freqs
    assert len(keys) > 20
    in_order = {k: run.readout_spectra[k] for k in keys}  # as the full run reads them
    for k in keys[1::4]:  # each first on a fresh view, as a shard that starts at its case reads it
        vars(run).pop("readout_spectra")
        assert torch.equal(run.readout_spectra[k], in_order[k]), k
