"""Every published layout, saved as its code base saves it, is read into hooks and logits equal to
that code base's own forward pass (re-implemented from its facts in ``tests/published``) over all
pairs (issue 15: "Accuracy and hooks equal the published forward pass, a test per layout").

The claims read the ``p`` answer logits, so the published logits are compared on those columns.
"""

from __future__ import annotations

import re

import pytest
import torch

from interp.checkpoint import find_checkpoints, load_checkpoint, load_checkpoints
from interp.data import all_pairs
from interp.model import forward
from tests.published import chughtai, nanda, onehot, zhong, zhong_mlp

P = 7


def _biases(module: torch.nn.Module, scale: float = 0.3, seed: int = 5) -> torch.nn.Module:
    """Give every bias (zero at initialisation) random values, so that a reader that drops one fails."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            if name.endswith(("b_in", "b_out", "bias")):
                param.copy_(torch.randn(param.shape, generator=gen) * scale)
    return module


def assert_same(checkpoint, expected: dict, p: int = P) -> None:
    ours = forward(checkpoint.model, all_pairs(p))
    for hook in ("hook_pre", "hook_post"):
        torch.testing.assert_close(ours[hook], expected[hook], rtol=1e-4, atol=1e-5, msg=hook)
    torch.testing.assert_close(ours["logits"], expected["logits"][:, :p], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", ["ReLU", "GeLU"])
def test_nanda_saved_run_with_config(tmp_path, act):
    model = _biases(nanda.nanda(P, d_model=16, n_heads=4, d_mlp=24, act_type=act, seed=1))
    path = nanda.save_saved_run(model, tmp_path / "run.pth", config=nanda.nanda_config(model, "subtract", seed=3),
                                train_losses=[1.0], test_losses=[2.0], epoch=40)
    checkpoint = load_checkpoint(path)
    assert checkpoint.facts.get("layout") == "nanda"
    assert (checkpoint.task, checkpoint.facts.get("split"), checkpoint.facts.get("split_seed")) == ("sub", "nanda", 3)
    assert checkpoint.epoch == 40
    with torch.no_grad():
        assert_same(checkpoint, model.answer(all_pairs(P)))


def test_nanda_bare_state_dict(tmp_path):
    model = nanda.nanda(P, d_model=16, n_heads=2, d_mlp=24, seed=2)
    checkpoint = load_checkpoint(nanda.save_bare(model, tmp_path / "bare.pt"))
    assert checkpoint.facts.get("split") == "all"
    assert checkpoint.facts.source("p") == "shapes (unembed.W_U columns less '=')"
    with torch.no_grad():
        assert_same(checkpoint, model.answer(all_pairs(P)))


def test_nanda_trainer_run_directory(tmp_path):
    """The files ``transformers.py``'s ``Trainer`` writes (progress-measures-paper at 5bf4dad), each
    read through its ``model``, in epoch order, ``init.pth`` (no epoch) last."""
    model = nanda.nanda(P, d_model=16, n_heads=2, d_mlp=24, seed=4)
    directory = nanda.save_trainer_run(model, tmp_path / "grok_1700000000", [0, 100], num_epochs=200)
    saved = {f.name: torch.load(f, weights_only=True) for f in directory.iterdir()}
    assert list(saved["100.pth"]) == ["model", "train_loss", "test_loss", "epoch"]
    assert list(saved["final.pth"]) == ["model", "train_loss", "test_loss", "train_losses", "test_losses", "epoch",
                                        "optimizer", "scheduler"]
    assert list(saved["init.pth"]) == ["model", "train_data", "test_data"]
    found = [c for f in find_checkpoints(directory) for c in load_checkpoints(f)]
    assert [(c.path.name, c.epoch) for c in found] == [("0.pth", 0), ("100.pth", 100), ("final.pth", 200),
                                                       ("init.pth", None)]
    with torch.no_grad():
        assert_same(found[-1], model.answer(all_pairs(P)))


def test_grokgrok_full_run_is_a_sweep_read_as_two_tokens(tmp_path):
    model = nanda.nanda(P, d_model=16, n_heads=2, d_mlp=24, seed=3)
    run = nanda.record_full_run(model, num_epochs=300, every=100)
    path = nanda.save_full_run(run, tmp_path / "full_run.pth")
    from interp.facts import OPTION, Facts

    options = Facts()
    options.offer("input_form", "a,b", OPTION, "--input-form")
    found = load_checkpoints(path, options)
    # snapshots after epochs 100 and 200 of 0..299; the final model differs from the last one
    assert [c.entry for c in found] == ["epoch000100", "epoch000200", "final"]
    assert [c.epoch for c in found] == [100, 200, None]
    final = found[-1]
    with torch.no_grad():
        assert_same(final, nanda.answer_two_tokens(model, all_pairs(P)))


def test_grokgrok_snapshots_saved_without_cloning_get_a_note(tmp_path):
    model = nanda.nanda(P, d_model=16, n_heads=2, d_mlp=24, seed=3)
    run = nanda.record_full_run(model, num_epochs=300, every=100, clone=False)
    found = load_checkpoints(nanda.save_full_run(run, tmp_path / "shared.pth"))
    assert found[0].notes and "without cloning" in found[0].notes[0] and "\n" not in found[0].notes[0]


@pytest.mark.parametrize(("layers", "coeff", "diff_vocab", "eqn_sign", "act"), [
    (1, 1.0, False, False, "ReLU"), (1, 0.0, False, False, "ReLU"), (1, 0.37, True, True, "GeLU"),
    (2, 0.8, False, True, "ReLU"), (3, 0.5, True, False, "GeLU")])
def test_zhong_transformer_with_its_config(tmp_path, layers, coeff, diff_vocab, eqn_sign, act):
    torch.manual_seed(layers)
    model = _biases(zhong.Transformer(P, 16, 4, layers, coeff, diff_vocab, eqn_sign, act))
    path = zhong.save_zhong(model, tmp_path, "abc123", task="sub")
    checkpoint = load_checkpoint(path)
    facts = checkpoint.facts
    assert (facts.get("layout"), checkpoint.task, facts.get("split")) == ("zhong", "sub", "all")
    assert facts.get("attn_coeff") == coeff
    assert checkpoint.model.n_layers == layers
    with torch.no_grad():
        assert_same(checkpoint, model.answer(all_pairs(P)))


@pytest.mark.parametrize("model_type", zhong_mlp.MODEL_TYPES)
def test_zhong_mlp_by_model_type(tmp_path, model_type):
    model = zhong_mlp.ZhongMLP(model_type, C=P, d_hidden=12, seed=4)
    checkpoint = load_checkpoint(zhong_mlp.save_zhong_mlp(model, tmp_path, "r1"))
    assert checkpoint.task == "add"
    with torch.no_grad():
        assert_same(checkpoint, model.answer(all_pairs(P)))


def test_chughtai_transformer_and_mlp(tmp_path):
    n = 12  # not prime, even
    state = chughtai.transformer_state(n, seed=1, d_model=16, n_heads=2, d_head=8, d_mlp=24, bias_scale=0.2)
    path = chughtai.save_chughtai_run(tmp_path / "t", state, chughtai.chughtai_cfg("Transformer", n, seed=2))
    checkpoint = load_checkpoint(path)
    assert (checkpoint.facts.get("split"), checkpoint.facts.get("split_seed"), checkpoint.model.p) == ("chughtai", 2, n)
    assert_same(checkpoint, chughtai.tl_answer(state, all_pairs(n)), p=n)
    mlp = chughtai.OneLayerMLP(n, embed_dim=8, hidden_dim=16, seed=1)
    cfg = chughtai.chughtai_cfg("OneLayerMLP", n)
    checkpoint = load_checkpoint(chughtai.save_chughtai_run(tmp_path / "m", mlp, cfg))
    with torch.no_grad():
        assert_same(checkpoint, mlp.answer(all_pairs(n)), p=n)


@pytest.mark.parametrize(("act", "embed_type", "split_form"), [
    ("ReLU", "one_hot", "tensors"), ("GeLU", "one_hot", "list"), ("Quad", "learned", "tensors")])
def test_onehot_run_directory(tmp_path, act, embed_type, split_form):
    """The study's run directory, each file as its Trainer saves it (storages tagged cuda:0)."""
    recipe = onehot.Recipe(p=P, d_mlp=16, act_type=act, lr=1e-2, weight_decay=1.0, frac_train=0.5, num_epochs=6,
                           save_every=5, embed_type=embed_type, split_form=split_form)
    directory = onehot.train_run(tmp_path, recipe)
    for name in ("5.pth", "final.pth"):
        checkpoint = load_checkpoint(directory / name)
        assert checkpoint.facts.get("act") == act.lower() and checkpoint.facts.get("split") == "files"
        model = onehot.EmbedMLP(P, 16, act, embed_type=embed_type)
        model.load_state_dict(torch.load(directory / name, map_location="cpu", weights_only=True)["model"])
        with torch.no_grad():
            assert_same(checkpoint, model.answer(all_pairs(P)))


def test_onehot_basis_is_read_where_the_study_saves_it(tmp_path):
    """The buffer is ``mlp.basis``: a state dict with a top-level ``basis`` (as issue 15 had it) is
    refused, and so is a basis of the wrong shape; the study's Id activation is refused by name."""
    from interp.errors import CheckpointError

    torch.manual_seed(0)
    state = onehot.EmbedMLP(P, 8).state_dict()
    moved = {**{k: v for k, v in state.items() if k != "mlp.basis"}, "basis": state["mlp.basis"]}
    wrong_shape = {**state, "mlp.basis": torch.eye(P + 1)}
    for bad, words in ((moved, "missing key(s) mlp.basis; unexpected key(s) basis"),
                       (wrong_shape, "mlp.basis has shape [8, 8], expected [7, 7]"),
                       ({k: v for k, v in state.items() if k != "mlp.basis"}, "missing key(s) mlp.basis;")):
        torch.save(bad, tmp_path / "x.pth")
        with pytest.raises(CheckpointError, match=re.escape(words)):
            load_checkpoint(tmp_path / "x.pth")
    even = onehot.EmbedMLP(8, 8).state_dict()  # an even p: the study's basis is [p + 2, p]
    torch.save(even, tmp_path / "even.pth")
    assert even["mlp.basis"].shape == (10, 8) and load_checkpoint(tmp_path / "even.pth").model.p == 8
    identity = tmp_path / "p_7_dmlp_8_Id_random_scale_0.1_decay_0_01010000"
    identity.mkdir()
    torch.save({"model": state, "epoch": 0}, identity / "0.pth")
    with pytest.raises(CheckpointError, match="activation 'id' is not one this tool computes"):
        load_checkpoint(identity / "0.pth")


def test_onehot_split_labels_must_be_the_task_answers(tmp_path):
    """The later split form carries its labels: they are checked against the task gated."""
    from interp.errors import CheckpointError
    from interp.facts import OPTION, Facts
    from interp.run import Run

    directory = onehot.train_run(tmp_path, onehot.Recipe(p=P, d_mlp=8, num_epochs=1, frac_train=0.5))
    checkpoint = load_checkpoint(directory / "0.pth")
    assert len(Run(checkpoint).splits["test"]) == P * P - int(0.5 * P * P)
    options = Facts()
    options.offer("task", "sub", OPTION, "--task")
    with pytest.raises(CheckpointError, match=r"labels are not the answers of the task gated \(sub\): they are the "
                       "answers of --task=add"):
        _ = Run(load_checkpoint(directory / "0.pth", options)).splits


def test_a_json_file_of_unknown_origin_beside_a_checkpoint_is_not_a_sidecar(tmp_path):
    """``x.json`` beside ``x.pt`` is read only when it is this project's metadata; a list, or text
    that is not JSON, is someone else's file and is ignored."""
    model = nanda.nanda(P, d_model=16, n_heads=2, d_mlp=24, seed=2)
    path = nanda.save_bare(model, tmp_path / "x.pt")
    for text in ("[1, 2, 3]", "not json at all"):
        (tmp_path / "x.json").write_text(text)
        assert load_checkpoint(path).task == "add"
