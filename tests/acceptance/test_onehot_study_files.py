"""The one-hot feature-learning study's files gate as its code saves them (issue 21).

The study: Y-Agent/modular-addition-feature-learning (``src/model_base.py``, ``src/nnTrainer.py``,
``src/utils.py``); its published run directories ``p_23_dmlp_512_ReLU_random_scale_0.1_decay_2.0_08180102``
and ``p_97_dmlp_1024_ReLU_random_scale_0.1_decay_0_11231917``. The fixtures (fixtures/onehot,
PROVENANCE.md) were written by ``tests/published/onehot.py``, a re-implementation of that code;
this module checks them against the keys and containers the published code writes (spelled out
here, not imported from the re-implementation), then gates each kind: a grokking run's memorising,
mid-training and late epoch files, a full-data run at p = 97, each directory as one sweep.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import torch

from tests._paths import FIXTURES
from tests.acceptance.test_published_formats import report
from tests.published import onehot

# nnTrainer.Trainer.save_epoch / post_training_save(save_optimizer_and_scheduler=True), as published
EPOCH_KEYS = ["model", "train_loss", "test_loss", "grad_norm", "param_norm", "test_accuracy", "train_accuracy", "epoch"]
FINAL_KEYS = ["model", "train_loss", "test_loss", "train_losses", "test_losses", "grad_norms", "param_norms", "epoch",
              "optimizer", "scheduler"]
STATE_KEYS = ["mlp.W_in", "mlp.W_out", "mlp.basis"]  # model_base.EmbedMLP, embed_type='one_hot'
GROKKING = FIXTURES / "onehot" / "p_23_dmlp_512_ReLU_random_scale_0.1_decay_2.0_12030400"
FULL_DATA = FIXTURES / "onehot" / "p_97_dmlp_64_ReLU_random_scale_0.1_decay_0_12030400"
QUAD = FIXTURES / "onehot" / "p_23_dmlp_256_Quad_random_scale_0.1_decay_2.0_12030400"
RUNS = (GROKKING, FULL_DATA, QUAD)


def load(path: Path) -> object:
    return torch.load(path, map_location="cpu", weights_only=True)


def locations(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))


def test_the_re_implementation_writes_the_published_keys():
    assert list(onehot.EPOCH_KEYS) == EPOCH_KEYS and list(onehot.FINAL_KEYS) == FINAL_KEYS
    assert list(onehot.EmbedMLP(5, 4).state_dict()) == STATE_KEYS


@pytest.mark.parametrize("run", RUNS, ids=lambda r: r.name)
def test_each_fixture_file_holds_exactly_the_published_keys_and_containers(run):
    files = sorted(f.name for f in run.iterdir())
    epochs = [f for f in files if f not in ("final.pth", "train_data.pth", "test_data.pth")]
    assert {"0.pth", "final.pth", "train_data.pth", "test_data.pth"} <= set(files) and epochs
    for name in [*epochs, "final.pth"]:
        saved = load(run / name)
        assert list(saved) == (FINAL_KEYS if name == "final.pth" else EPOCH_KEYS), name
        assert list(saved["model"]) == STATE_KEYS, name
        assert b"cuda:0" in locations(run / name), name  # saved from CUDA, as the study's files are
        if name != "final.pth":
            assert saved["epoch"] == int(name.removesuffix(".pth"))
            assert all(type(saved[k]) is float for k in EPOCH_KEYS[1:-1]), name
    final = load(run / "final.pth")
    assert len(final["train_losses"]) == final["epoch"] == len(final["param_norms"])
    assert set(final["optimizer"]) == {"state", "param_groups"} and final["scheduler"]["lr_lambdas"] == [None]
    train, test = load(run / "train_data.pth"), load(run / "test_data.pth")
    if run is FULL_DATA:  # the later gen_train_test: (pairs, labels) tensors; frac_train 1: both every pair
        assert isinstance(train, tuple) and [t.shape for t in train] == [(97 * 97, 2), (97 * 97,)]
        assert all(torch.equal(a, b) for a, b in zip(train, test, strict=True))
    else:  # the earlier one: a list of (a, b) tuples, 75% train
        assert isinstance(train, list) and type(train[0]) is tuple and (len(train), len(test)) == (396, 133)


def sweep(tmp_path: Path, run: Path) -> dict[str, dict]:
    data, _ = report(tmp_path, run)  # exit status 0 or 1: every claim evaluated, none errored
    return {Path(c["checkpoint"]).name: c for c in data["checkpoints"]}


def accuracy(entry: dict) -> float:
    return next(c for c in entry["claims"] if c["id"] == "test-accuracy")["value"]


def verdict(entry: dict) -> str:
    return next(c for c in entry["claims"] if c["id"] == "test-accuracy")["verdict"]


def studys_own_accuracy(run: Path, name: str) -> float:
    """The study's ``acc`` on the file's weights and its test split (the re-implementation's)."""
    model = onehot.EmbedMLP(*load(run / name)["model"]["mlp.W_out"].shape, act_type=run.name.split("_")[4])
    model.load_state_dict(load(run / name)["model"])
    with torch.no_grad():
        return onehot.measure(model, onehot.as_tensors(load(run / "test_data.pth"), model.p))[1]


def test_the_grokking_run_directory_gates_as_one_sweep_with_its_stored_accuracy(tmp_path):
    """A memorising snapshot (train accuracy 1, test only the pairs whose swap was trained), a
    mid-training one, and the late ones, which answer every held-out pair but the three doubles
    (a, a): the test-accuracy claim fails on each, as the study's own curve (0.962) would."""
    by_name = sweep(tmp_path, GROKKING)
    assert list(by_name) == ["0.pth", "500.pth", "1000.pth", "1500.pth", "final.pth"]
    for name, entry in by_name.items():
        assert (entry["format"], entry["facts"]["act"]["value"], entry["facts"]["split"]["value"]) == (
            "onehot", "relu", "files"), name
        assert accuracy(entry) == studys_own_accuracy(GROKKING, name), name
        if name != "final.pth":
            assert accuracy(entry) == entry["stored"]["test_accuracy"], name
    memorising, mid, late = by_name["500.pth"], by_name["1000.pth"], by_name["1500.pth"]
    assert memorising["stored"]["train_accuracy"] == 1.0 and accuracy(memorising) < 0.75
    assert 0.75 < accuracy(mid) < accuracy(late) == accuracy(by_name["final.pth"]) == 130 / 133
    assert {verdict(e) for e in by_name.values()} == {"FAIL"}


def test_the_full_data_run_at_p97_gates_as_one_sweep(tmp_path):
    """Trained on every pair (frac_train 1: the test split is every pair too), no weight decay.
    Each epoch file's numbers were measured one optimizer step before its weights were saved: at
    epoch 0 that step has learning rate 0, so they agree exactly; at 1000 no answer changed in that
    step; at 500, where the accuracy still rose fast, 18 of the 9,409 answers did."""
    by_name = sweep(tmp_path, FULL_DATA)
    assert list(by_name) == ["0.pth", "500.pth", "1000.pth", "final.pth"]
    for name, entry in by_name.items():
        assert accuracy(entry) == studys_own_accuracy(FULL_DATA, name), name
    for name in ("0.pth", "1000.pth"):
        assert accuracy(by_name[name]) == by_name[name]["stored"]["test_accuracy"], name
    offset = accuracy(by_name["500.pth"]) - by_name["500.pth"]["stored"]["test_accuracy"]
    assert offset * 97 * 97 == pytest.approx(18)
    assert (accuracy(by_name["final.pth"]), verdict(by_name["final.pth"])) == (1.0, "PASS")
