"""The population's runs as units of work (issue 20, item 1): a fixed-horizon run with snapshots
is re-made bit for bit from its seed, also when it was killed and resumed; a full-data run (every
pair trained on) is read back with every pair as its split."""

import json

import pytest
import torch

import calibration.train_population as population
from calibration.train_population import Family, train_to_horizon
from interp.checkpoint import load_checkpoint
from interp.run import Run

TINY = Family("tiny", "interp", arch="mlp", p=11, train_fraction=0.5, horizon=300, snapshot_every=100)


def _weights(directory, epoch: int) -> dict[str, torch.Tensor]:
    return load_checkpoint(directory / f"epoch{epoch:06d}.pt").model.state_dict()


def test_a_run_is_remade_bit_for_bit_also_after_a_kill(tmp_path, monkeypatch):
    first = train_to_horizon(TINY, 3, tmp_path / "a", lambda _: None)
    assert first["final_epoch"] == 300 and first["snapshots"][0] == 0 and first["snapshots"][-1] == 300

    class Killed(Exception):
        pass

    saved = population.write_atomic
    resumes = []

    def killed_after_first_resume_point(path, write):
        saved(path, write)
        if path.name == "resume.pt":
            resumes.append(path)
            if len(resumes) == 2:
                raise Killed

    monkeypatch.setattr(population, "write_atomic", killed_after_first_resume_point)
    with pytest.raises(Killed):
        train_to_horizon(TINY, 3, tmp_path / "b", lambda _: None)
    assert not (tmp_path / "b" / "tiny" / "seed3" / "run.json").exists()
    monkeypatch.setattr(population, "write_atomic", saved)
    second = train_to_horizon(TINY, 3, tmp_path / "b", lambda _: None)  # resumes from its last snapshot

    a, b = (tmp_path / d / "tiny" / "seed3" for d in ("a", "b"))
    for epoch in first["snapshots"]:
        wa, wb = _weights(a, epoch), _weights(b, epoch)
        assert all(torch.equal(wa[k], wb[k]) for k in wa), epoch
    assert first["evaluations"] == second["evaluations"]
    other_seed = train_to_horizon(TINY, 4, tmp_path / "a", lambda _: None)
    assert other_seed["evaluations"] != first["evaluations"]  # the seed is what makes the run


def test_a_full_data_run_is_gated_on_every_pair(tmp_path):
    family = Family("full", "interp", arch="mlp", p=11, train_fraction=1.0, weight_decay=0.0, horizon=100,
                    snapshot_every=100)
    record = train_to_horizon(family, 0, tmp_path, lambda _: None)
    directory = tmp_path / "full" / "seed0"
    meta = json.loads((directory / "epoch000100.json").read_text())
    assert meta["recipe"]["train_fraction"] == 1.0 and meta["recipe"]["weight_decay"] == 0.0
    checkpoint = load_checkpoint(directory / "epoch000100.pt")
    assert checkpoint.facts.get("split") == "all"
    run = Run(checkpoint)
    assert len(run.splits["train"]) == len(run.splits["test"]) == 11 * 11
    assert record["test_accuracy"] == record["train_accuracy"]  # nothing held out: the same pairs
