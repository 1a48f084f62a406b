"""The training command: reproducible, resumable, interruptible, and writes safetensors too."""

import json

import pytest
import torch

from interp import train
from interp.checkpoint import load_checkpoint, write_atomic

SMALL = ["--p", "13", "--d-model", "8", "--d-mlp", "16", "--no-progress", "--eval-every", "10"]


def run_train(out, *args) -> int:
    return train.main([*SMALL, "--out", str(out), *args])


def weights_of(path):
    return load_checkpoint(path).model.tensors()


def same_weights(a, b) -> bool:
    wa, wb = weights_of(a), weights_of(b)
    return all(torch.equal(wa[k], wb[k]) for k in wa)


def test_same_seed_and_epochs_give_identical_files(tmp_path):
    for name in ("one", "two"):
        assert run_train(tmp_path / name, "--epochs", "30") == 0
    assert (tmp_path / "one/epoch000030.pt").read_bytes() == (tmp_path / "two/epoch000030.pt").read_bytes()


def test_another_seed_gives_other_weights(tmp_path):
    run_train(tmp_path / "a", "--epochs", "0")
    run_train(tmp_path / "b", "--epochs", "0", "--seed", "1")
    assert not same_weights(tmp_path / "a/epoch000000.pt", tmp_path / "b/epoch000000.pt")


def test_resume_continues_bit_identically(tmp_path):
    assert run_train(tmp_path / "straight", "--epochs", "40") == 0
    assert run_train(tmp_path / "split", "--epochs", "20") == 0
    assert run_train(tmp_path / "split", "--epochs", "40", "--resume", str(tmp_path / "split/epoch000020.pt")) == 0
    assert same_weights(tmp_path / "straight/epoch000040.pt", tmp_path / "split/epoch000040.pt")


def test_metadata_beside_each_checkpoint(tmp_path):
    run_train(tmp_path, "--epochs", "20", "--save-every", "10")
    saved = sorted(p.name for p in tmp_path.glob("*.pt") if not p.name.endswith(".optim.pt"))
    assert saved == ["epoch000000.pt", "epoch000010.pt", "epoch000020.pt"]
    meta = json.loads((tmp_path / "epoch000010.json").read_text())
    assert meta["epoch"] == 10 and meta["recipe"]["p"] == 13 and meta["torch_version"] == torch.__version__
    assert set(meta) >= {"train_loss", "test_loss", "train_accuracy", "test_accuracy", "sha256"}
    assert meta["sha256"] == load_checkpoint(tmp_path / "epoch000010.pt").sha256


def test_safetensors_output_matches_the_pytorch_file(tmp_path):
    run_train(tmp_path / "pt", "--epochs", "10")
    run_train(tmp_path / "st", "--epochs", "10", "--format", "safetensors")
    assert same_weights(tmp_path / "pt/epoch000010.pt", tmp_path / "st/epoch000010.safetensors")


def test_interrupt_leaves_the_last_checkpoint_whole(tmp_path, monkeypatch):
    real_step = train.Trainer.step

    def step(self):
        if self.epoch == 25:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(train.Trainer, "step", step)
    assert run_train(tmp_path, "--epochs", "40", "--save-every", "10") == 130
    assert load_checkpoint(tmp_path / "epoch000020.pt").model.p == 13
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    assert not (tmp_path / "epoch000030.pt").exists()


def test_interrupt_while_writing_keeps_the_previous_checkpoint_and_resume_still_matches(tmp_path, monkeypatch):
    real_save = train.save_checkpoint

    def save(weights, path):
        if path.name == "epoch000020.pt":  # Ctrl-C halfway through writing this file
            def half_written(tmp):
                tmp.write_bytes(b"PK\x03\x04 half a zip")
                raise KeyboardInterrupt

            write_atomic(path, half_written)
        real_save(weights, path)

    monkeypatch.setattr(train, "save_checkpoint", save)
    assert run_train(tmp_path / "cut", "--epochs", "30", "--save-every", "10") == 130
    assert sorted(p.name for p in (tmp_path / "cut").iterdir()) == [
        f"epoch0000{e}{s}" for e in ("00", "10") for s in (".json", ".optim.pt", ".pt")]
    monkeypatch.setattr(train, "save_checkpoint", real_save)
    assert run_train(tmp_path / "cut", "--epochs", "30", "--resume", str(tmp_path / "cut/epoch000010.pt")) == 0
    assert run_train(tmp_path / "straight", "--epochs", "30") == 0
    assert same_weights(tmp_path / "straight/epoch000030.pt", tmp_path / "cut/epoch000030.pt")


def test_resume_without_optimizer_state_is_refused(tmp_path, capsys):
    run_train(tmp_path, "--epochs", "10")
    (tmp_path / "epoch000010.optim.pt").unlink()
    assert run_train(tmp_path, "--epochs", "20", "--resume", str(tmp_path / "epoch000010.pt")) == 2
    assert "epoch000010.optim.pt is missing" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["x,1", "-5"])
def test_bad_save_at_is_a_usage_error(tmp_path, bad, capsys):
    with pytest.raises(SystemExit) as info:
        run_train(tmp_path, "--epochs", "1", "--save-at", bad)
    assert info.value.code == 2
    assert "--save-at" in capsys.readouterr().err


TRANSFORMER = ["--arch", "transformer", "--p", "11", "--d-model", "16", "--n-heads", "2", "--d-head", "8",
               "--d-mlp", "24", "--no-progress", "--eval-every", "10"]


def run_transformer(out, *args) -> int:
    return train.main([*TRANSFORMER, "--out", str(out), *args])


def test_transformer_runs_are_reproducible_resumable_and_recorded(tmp_path):
    """Nanda et al.'s recipe on a tiny model: the same seed gives the same bytes, a resumed run the
    same weights as a straight one, the biases stay zero, and the metadata names the task."""
    for name in ("one", "two"):
        assert run_transformer(tmp_path / name, "--epochs", "20", "--task", "sub") == 0
    assert (tmp_path / "one/epoch000020.pt").read_bytes() == (tmp_path / "two/epoch000020.pt").read_bytes()
    assert run_transformer(tmp_path / "split", "--epochs", "10", "--task", "sub") == 0
    assert run_transformer(tmp_path / "split", "--epochs", "20", "--task", "sub",
                           "--resume", str(tmp_path / "split/epoch000010.pt")) == 0
    assert same_weights(tmp_path / "one/epoch000020.pt", tmp_path / "split/epoch000020.pt")
    model = load_checkpoint(tmp_path / "one/epoch000020.pt").model
    assert model.architecture == "transformer" and (model.p, model.n_heads, model.d_head) == (11, 2, 8)
    assert all(not getattr(model, b).any() for b in ("b_Q", "b_K", "b_V", "b_O", "b_in", "b_out", "b_U"))
    assert not torch.equal(model.W_Q, load_checkpoint(tmp_path / "split/epoch000010.pt").model.W_Q)
    meta = json.loads((tmp_path / "one/epoch000020.json").read_text())
    assert (meta["architecture"], meta["task"], meta["recipe"]["beta2"]) == ("transformer", "sub", 0.98)


def test_resuming_with_another_task_is_refused(tmp_path, capsys):
    run_transformer(tmp_path, "--epochs", "10", "--task", "sub")
    resume = str(tmp_path / "epoch000010.pt")
    assert run_transformer(tmp_path, "--epochs", "20", "--task", "add", "--resume", resume) == 2
    assert "cannot resume" in capsys.readouterr().err
