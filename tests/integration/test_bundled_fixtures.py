"""The bundled checkpoints are what their provenance says."""

import json
from pathlib import Path

import pytest
import torch

from interp.checkpoint import load_checkpoint, save_checkpoint
from interp.train import main as train_main
from tests._paths import BUNDLED as DEFAULT_CHECKPOINT

FIXTURES = DEFAULT_CHECKPOINT.parent


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.pt")), ids=lambda p: p.stem)
def test_metadata_sits_beside_each_checkpoint_and_matches_it(path: Path):
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["sha256"] == load_checkpoint(path).sha256
    assert meta["checkpoint"] == path.name
    assert meta["recipe"]["p"] == load_checkpoint(path).model.p


def test_training_command_reproduces_the_initial_checkpoint(tmp_path):
    assert train_main(["--epochs", "0", "--out", str(tmp_path), "--no-progress"]) == 0
    fresh = load_checkpoint(tmp_path / "epoch000000.pt").model.state_dict()
    bundled = load_checkpoint(FIXTURES / "epoch000000.pt").model.state_dict()
    assert all(torch.equal(fresh[name], bundled[name]) for name in bundled)


def test_saving_the_same_weights_twice_gives_the_same_bytes(tmp_path):
    weights = load_checkpoint(FIXTURES / "epoch000000.pt").model
    for name in ("a.pt", "b.pt"):
        save_checkpoint(weights, tmp_path / name)
    assert (tmp_path / "a.pt").read_bytes() == (tmp_path / "b.pt").read_bytes()
