"""The re-implemented published models (tests/published) checked on their own: every key's shape as
issue 15 states it, each forward against a hand computation for single pairs, the split rules
against hand-runs of ``random.shuffle`` / ``torch.randperm``, and every written file loadable with
``torch.load(..., weights_only=True)``. Tiny sizes only."""

from __future__ import annotations

import json
import math
import random

import pytest
import torch
import torch.nn.functional as F

from tests.published import chughtai, nanda, onehot, zhong_mlp
from tests.published.train import all_pairs, evaluate, train

PAIRS = [(0, 0), (1, 2), (6, 3), (4, 4)]


def plain(obj) -> bool:
    """Only what ``weights_only`` unpickles and configs should hold: containers, str, int, float, tensors."""
    if isinstance(obj, dict):
        return all(isinstance(k, str | int) and plain(v) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return all(plain(v) for v in obj)
    return obj is None or isinstance(obj, str | int | float | bool | torch.Tensor)


def load(path):
    return torch.load(path, weights_only=True)


def shapes(state: dict) -> dict:
    return {k: tuple(v.shape) for k, v in state.items()}


# -- Nanda et al. ----------------------------------------------------------------------------------
def nanda_by_hand(sd: dict, tokens: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The last position of Nanda et al.'s 1-layer forward, one head and one vector at a time."""
    W_E, W_pos = sd["embed.W_E"], sd["pos_embed.W_pos"]
    x = torch.stack([W_E[:, t] + W_pos[i] for i, t in enumerate(tokens)])
    heads = []
    for h in range(sd["blocks.0.attn.W_Q"].shape[0]):
        W_Q, W_K, W_V = (sd[f"blocks.0.attn.W_{c}"][h] for c in "QKV")
        q = W_Q @ x[-1]
        weights = torch.softmax(torch.stack([W_K @ xi for xi in x]) @ q / math.sqrt(W_Q.shape[0]), 0)
        heads.append(sum(w * (W_V @ xi) for w, xi in zip(weights, x, strict=True)))
    resid = x[-1] + sd["blocks.0.attn.W_O"] @ torch.cat(heads)
    pre = sd["blocks.0.mlp.W_in"] @ resid + sd["blocks.0.mlp.b_in"]
    resid = resid + sd["blocks.0.mlp.W_out"] @ F.relu(pre) + sd["blocks.0.mlp.b_out"]
    return resid @ sd["unembed.W_U"], pre


def test_nanda_keys_and_shapes():
    m = nanda.nanda(7, d_model=8, n_heads=2, d_mlp=16)
    assert shapes(m.state_dict()) == {
        "embed.W_E": (8, 8), "pos_embed.W_pos": (3, 8), "blocks.0.attn.W_K": (2, 4, 8),
        "blocks.0.attn.W_Q": (2, 4, 8), "blocks.0.attn.W_V": (2, 4, 8), "blocks.0.attn.W_O": (8, 8),
        "blocks.0.attn.mask": (3, 3), "blocks.0.mlp.W_in": (16, 8), "blocks.0.mlp.b_in": (16,),
        "blocks.0.mlp.W_out": (8, 16), "blocks.0.mlp.b_out": (8,), "unembed.W_U": (8, 8)}
    assert torch.equal(m.state_dict()["blocks.0.attn.mask"], torch.ones(3, 3).tril())


@pytest.mark.parametrize("two_tokens", [False, True])
def test_nanda_forward_by_hand(two_tokens):
    m = nanda.nanda(7, d_model=8, n_heads=2, d_mlp=16, seed=3)
    with torch.no_grad():
        m.blocks[0].mlp.b_in.normal_()
        m.blocks[0].mlp.b_out.normal_()
        pairs = torch.tensor(PAIRS)
        out = nanda.answer_two_tokens(m, pairs) if two_tokens else m.answer(pairs)
        for i, (a, b) in enumerate(PAIRS):
            logits, pre = nanda_by_hand(m.state_dict(), [a, b] if two_tokens else [a, b, 7])
            torch.testing.assert_close(out["logits"][i], logits, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out["hook_pre"][i], pre, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out["hook_post"][i], F.relu(pre), rtol=1e-5, atol=1e-5)


def test_nanda_split_is_random_shuffle_of_row_order():
    p, seed, frac = 7, 5, 0.3
    order = list(range(p * p))  # shuffle's permutation depends only on the length
    random.seed(seed)
    random.shuffle(order)
    train_pairs, test_pairs = nanda.nanda_split(p, seed, frac)
    assert len(train_pairs) == int(frac * p * p) == 14
    assert tuple(train_pairs[0].tolist()) == divmod(order[0], p)
    assert torch.cat([train_pairs, test_pairs]).tolist() == [list(divmod(i, p)) for i in order]


def test_nanda_saved_runs_and_bare_files_load(tmp_path):
    m = nanda.nanda(7, d_model=8, n_heads=2, d_mlp=16)
    optimizer = torch.optim.AdamW(m.parameters())
    train(m, 7, torch.arange(10), 2, optimizer=optimizer)
    config = nanda.nanda_config(m, fn_name="sub", seed=1, frac_train=0.5)
    assert plain(config) and config["fn_name"] == "subtract" and config["p"] == 7 and config["d_vocab"] == 8
    full = load(nanda.save_saved_run(m, tmp_path / "a.pth", config, [2.0, 1.0], [3.0, 2.0], 2, optimizer))
    assert set(full) == {"model", "config", "train_losses", "test_losses", "epoch", "optimizer"}
    assert full["config"] == config and full["optimizer"]["state"]
    bare_run = load(nanda.save_saved_run(m, tmp_path / "b.pth"))
    assert set(bare_run) == {"model", "train_losses", "test_losses"}
    bare = load(nanda.save_bare(m, tmp_path / "c.pt"))
    assert all(torch.equal(bare[k], v) for k, v in m.state_dict().items())


@pytest.mark.parametrize("clone", [True, False])
def test_grokgrok_full_run(tmp_path, clone):
    m = nanda.nanda(5, d_model=8, n_heads=2, d_mlp=16)
    run = load(nanda.save_full_run(nanda.record_full_run(m, 7, every=2, clone=clone), tmp_path / "f.pth"))
    assert run["epochs"] == [2, 4, 6] and len(run["state_dicts"]) == 3 == len(run["train_losses"])
    config = run["config"]
    assert plain(config) and config["n_ctx"] == 3 and not {"p", "fn_name", "task"} & set(config)
    assert run["model"]["pos_embed.W_pos"].shape[0] == 3
    ptrs = {sd["embed.W_E"].untyped_storage().data_ptr() for sd in [*run["state_dicts"], run["model"]]}
    if clone:
        assert len(ptrs) == 4
        assert not torch.equal(run["state_dicts"][0]["embed.W_E"], run["state_dicts"][2]["embed.W_E"])
    else:
        assert len(ptrs) == 1
        assert all(torch.equal(sd["unembed.W_U"], run["model"]["unembed.W_U"]) for sd in run["state_dicts"])


# -- Zhong et al.'s MLPs ---------------------------------------------------------------------------
def zhong_by_hand(t: str, sd: dict, a: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
    def linear(i, v):
        return sd[f"l{i}.weight"] @ v + sd[f"l{i}.bias"]

    E = sd.get("embed.weight")
    pre = {"A": lambda: linear(1, E[a] + E[b]), "B": lambda: linear(1, E[a] + E[b]),
           "C": lambda: sd["l1.weight"] @ (E[a] + E[b]) + 2 * sd["l1.bias"],
           "D": lambda: linear(1, torch.cat([E[a], E[b]])),
           "X": lambda: linear(1, sd["embed1.weight"][a] + sd["embed2.weight"][b])}[t]()
    if t in "BC":
        pre = linear(2, F.relu(pre))
    return F.relu(pre) @ sd["unembed.weight"].T, pre


@pytest.mark.parametrize("model_type", zhong_mlp.MODEL_TYPES)
def test_zhong_mlp_shapes_and_forward(model_type):
    m = zhong_mlp.ZhongMLP(model_type, C=7, d_hidden=8, seed=1)
    sd = m.state_dict()
    embeds = {"X": {"embed1.weight": (7, 8), "embed2.weight": (7, 8)}, "D": {"embed.weight": (7, 4)}}
    expected = {**embeds.get(model_type, {"embed.weight": (7, 8)}), "unembed.weight": (7, 8),
                "l1.weight": (8, 8), "l1.bias": (8,),
                **({"l2.weight": (8, 8), "l2.bias": (8,)} if model_type in "BC" else {})}
    assert shapes(sd) == expected
    with torch.no_grad():
        out = m.answer(torch.tensor(PAIRS))
        for i, (a, b) in enumerate(PAIRS):
            logits, pre = zhong_by_hand(model_type, sd, a, b)
            torch.testing.assert_close(out["logits"][i], logits, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(out["hook_pre"][i], pre, rtol=1e-5, atol=1e-5)


def test_zhong_mlp_b_and_c_share_keys_not_forward(tmp_path):
    b, c = zhong_mlp.ZhongMLP("B", C=7, d_hidden=8), zhong_mlp.ZhongMLP("C", C=7, d_hidden=8)
    c.load_state_dict(b.state_dict())
    pairs = torch.tensor(PAIRS)
    assert not torch.allclose(b(pairs), c(pairs))
    path = zhong_mlp.save_zhong_mlp(c, tmp_path, "abc123")
    assert path.name == "model_abc123.pt" and set(load(path)) == set(b.state_dict())
    config = json.loads((tmp_path / "config_abc123.json").read_text())
    assert config["model_type"] == "C" and config["C"] == 7 and "funcs" not in config
    zhong_mlp.save_zhong_mlp(c, tmp_path / "bare", "x", config=False)
    assert [f.name for f in (tmp_path / "bare").iterdir()] == ["model_x.pt"]


# -- Chughtai et al. -------------------------------------------------------------------------------
def test_chughtai_mlp_shapes_and_forward():
    m = chughtai.OneLayerMLP(12, embed_dim=4, hidden_dim=6, seed=2)
    sd = m.state_dict()
    assert shapes(sd) == {"W_x": (12, 4), "W_y": (12, 4), "W": (8, 6), "W_U": (6, 12)}
    with torch.no_grad():
        out = m.answer(torch.tensor([[11, 3], [5, 5]]))
        for i, (a, b) in enumerate([(11, 3), (5, 5)]):
            pre = sd["W"][:4].T @ sd["W_x"][a] + sd["W"][4:].T @ sd["W_y"][b]
            torch.testing.assert_close(out["hook_pre"][i], pre)
            torch.testing.assert_close(out["logits"][i], F.relu(pre) @ sd["W_U"])


def tl_by_hand(sd: dict, tokens: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """TransformerLens's 1-layer forward at the last position, one head at a time."""
    x = torch.stack([sd["embed.W_E"][t] + sd["pos_embed.W_pos"][i] for i, t in enumerate(tokens)])
    attn = sd["blocks.0.attn.b_O"].clone()
    for h in range(sd["blocks.0.attn.W_Q"].shape[0]):
        q, k, v = (x @ sd[f"blocks.0.attn.W_{c}"][h] + sd[f"blocks.0.attn.b_{c}"][h] for c in "QKV")
        weights = torch.softmax(k @ q[-1] / math.sqrt(q.shape[1]), 0)
        attn = attn + (weights @ v) @ sd["blocks.0.attn.W_O"][h]
    resid = x[-1] + attn
    pre = resid @ sd["blocks.0.mlp.W_in"] + sd["blocks.0.mlp.b_in"]
    resid = resid + F.relu(pre) @ sd["blocks.0.mlp.W_out"] + sd["blocks.0.mlp.b_out"]
    return resid @ sd["unembed.W_U"] + sd["unembed.b_U"], pre


def test_chughtai_transformer_state_aliases_and_forward(tmp_path):
    n = 12
    sd = chughtai.transformer_state(n, seed=1, d_model=8, n_heads=2, d_head=4, d_mlp=16, bias_scale=0.1)
    assert list(sd)[:2] == ["x_embed", "y_embed"]
    assert sd["x_embed"] is sd["embed.W_E"] and sd["y_embed"] is sd["embed.W_E"]
    assert sd["embed.W_E"].shape == (n + 1, 8) and sd["unembed.W_U"].shape == (8, n)
    assert sd["blocks.0.attn.W_O"].shape == (2, 4, 8) and sd["blocks.0.attn.b_Q"].abs().sum() > 0
    out = chughtai.tl_answer(sd, torch.tensor([[11, 3], [5, 5]]))
    for i, (a, b) in enumerate([(11, 3), (5, 5)]):
        logits, pre = tl_by_hand(sd, [a, b, n])
        torch.testing.assert_close(out["logits"][i], logits, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out["hook_pre"][i], pre, rtol=1e-5, atol=1e-5)
    cfg = chughtai.chughtai_cfg("Transformer", n, group="DihedralGroup")
    path = chughtai.save_chughtai_run(tmp_path / "run", chughtai.transformer_state(n, d_model=8, n_heads=2,
                                                                                   d_head=4, d_mlp=16), cfg)
    loaded = load(path)
    ptr = loaded["embed.W_E"].untyped_storage().data_ptr()
    assert loaded["x_embed"].untyped_storage().data_ptr() == ptr == loaded["y_embed"].untyped_storage().data_ptr()
    written = json.loads((tmp_path / "run" / "cfg.json").read_text())
    assert {k: written[k] for k in ("group", "group_parameter", "seed", "frac_train", "model")} == {
        "group": "DihedralGroup", "group_parameter": n, "seed": 1, "frac_train": 0.3, "model": "Transformer"}
    mlp_path = chughtai.save_chughtai_run(tmp_path / "mlp", chughtai.OneLayerMLP(n, 4, 6), None)
    assert set(load(mlp_path)) == {"W_x", "W_y", "W", "W_U"} and not (tmp_path / "mlp" / "cfg.json").exists()


@pytest.mark.parametrize("n", [12, 13])
def test_chughtai_split_is_randperm_of_row_order(n):
    seed, frac = 3, 0.3
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        perm = torch.randperm(n * n)
    train_pairs, test_pairs = chughtai.chughtai_split(n, seed, frac)
    assert len(train_pairs) == int(frac * n * n)
    assert tuple(train_pairs[0].tolist()) == divmod(int(perm[0]), n)
    assert torch.cat([train_pairs, test_pairs]).tolist() == [list(divmod(int(i), n)) for i in perm]
    unshuffled, _ = chughtai.chughtai_split(n, 0, frac)  # seed 0 is falsy: no shuffle
    assert unshuffled.tolist() == all_pairs(n)[: int(frac * n * n)].tolist()


# -- the one-hot MLP (the feature-learning study) ---------------------------------------------------
@pytest.mark.parametrize("act", onehot.ACTS)
def test_onehot_shapes_and_forward(act):
    torch.manual_seed(1)
    m = onehot.EmbedMLP(7, d_mlp=16, act_type=act)
    sd = m.state_dict()
    assert shapes(sd) == {"mlp.W_in": (16, 7), "mlp.W_out": (7, 16), "mlp.basis": (7, 7)}
    with torch.no_grad():
        out = m.answer(torch.tensor(PAIRS))
        for i, (a, b) in enumerate(PAIRS):
            pre = sd["mlp.W_in"][:, a] + sd["mlp.W_in"][:, b]
            post = {"ReLU": F.relu(pre), "GeLU": F.gelu(pre), "Quad": pre * pre, "Id": pre}[act]
            torch.testing.assert_close(out["hook_pre"][i], pre)
            torch.testing.assert_close(out["logits"][i], sd["mlp.W_out"] @ post)


def test_onehot_learned_embedding_and_init_scale():
    torch.manual_seed(2)
    m = onehot.EmbedMLP(7, d_mlp=16, embed_type="learned", d_model=8)
    sd = m.state_dict()
    assert list(sd) == ["embed.W_E", "mlp.W_in", "mlp.W_out", "mlp.basis"]
    assert shapes(sd)["embed.W_E"] == (8, 7) and shapes(sd)["mlp.W_in"] == (16, 8)
    with torch.no_grad():
        a, b = 6, 3
        pre = sd["mlp.W_in"] @ (sd["embed.W_E"][:, a] + sd["embed.W_E"][:, b])
        torch.testing.assert_close(m.answer(torch.tensor([[a, b]]))["hook_pre"][0], pre)
    big = onehot.EmbedMLP(101, d_mlp=400)  # W_in ~ 0.1 randn / sqrt(d_model); W_out too (d_model, not d_mlp)
    assert big.mlp.W_in.std().item() == pytest.approx(0.1 / math.sqrt(101), rel=0.05)
    assert big.mlp.W_out.std().item() == pytest.approx(0.1 / math.sqrt(101), rel=0.05)


@pytest.mark.parametrize("p", [7, 8])
def test_onehot_basis_is_the_studys_fourier_basis(p):
    basis = onehot.fourier_basis(p)
    x = torch.arange(p)
    assert basis.shape == ((p, p) if p % 2 else (p + 2, p))  # even p: a rounding-noise sin p/2 and cos p/2 twice
    torch.testing.assert_close(basis[0], torch.full((p,), p**-0.5))
    cos2 = torch.cos(2 * math.pi * 2 * x / p)
    torch.testing.assert_close(basis[3], cos2 / cos2.norm())  # rows: Const, cos 1, sin 1, cos 2, ...
    rows = basis[:p] if p % 2 else basis[: p - 1]  # Const, cos 1, sin 1, ..., before the p/2 rows
    torch.testing.assert_close(rows @ rows.T, torch.eye(len(rows)), atol=1e-5, rtol=0)


@pytest.mark.parametrize("split_form", onehot.SPLIT_FORMS)
def test_onehot_run_directory(tmp_path, split_form):
    recipe = onehot.Recipe(p=5, d_mlp=16, act_type="Quad", lr=1e-2, weight_decay=1.0, frac_train=0.4,
                           num_epochs=7, save_every=3, seed=2, split_form=split_form, stamp="11231917")
    directory = onehot.train_run(tmp_path, recipe)
    assert directory.name == "p_5_dmlp_16_Quad_random_scale_0.1_decay_1.0_11231917"
    assert sorted(f.name for f in directory.iterdir()) == [
        "0.pth", "3.pth", "6.pth", "final.pth", "test_data.pth", "train_data.pth"]
    train_data = torch.load(directory / "train_data.pth", weights_only=True, map_location="cpu")
    test_data = torch.load(directory / "test_data.pth", weights_only=True, map_location="cpu")
    if split_form == "list":
        assert isinstance(train_data, list) and all(type(x) is tuple and len(x) == 2 for x in train_data)
        order = [(a, b) for a in range(5) for b in range(5)]
        random.Random(2).shuffle(order)
        assert train_data + test_data == order
    else:
        assert isinstance(train_data, tuple) and [t.shape for t in train_data] == [(10, 2), (10,)]
        assert torch.equal(train_data[1], train_data[0].sum(1) % 5)
    assert len(train_data if split_form == "list" else train_data[0]) == int(0.4 * 25)
    test_set = onehot.as_tensors(test_data, 5)
    for epoch in (0, 3, 6):
        saved = torch.load(directory / f"{epoch}.pth", weights_only=True, map_location="cpu")
        assert list(saved) == list(onehot.EPOCH_KEYS) and plain(saved) and saved["epoch"] == epoch
        replay = onehot.EmbedMLP(5, d_mlp=16, act_type="Quad")
        replay.load_state_dict(saved["model"])
        if epoch == 0:  # the first step's learning rate is 0 (LambdaLR min(step / 10, 1)): the weights as drawn
            with torch.no_grad():
                loss, accuracy = onehot.measure(replay, test_set)
            assert accuracy == saved["test_accuracy"] and loss.item() == pytest.approx(saved["test_loss"])
    final = torch.load(directory / "final.pth", weights_only=True, map_location="cpu")
    assert list(final) == list(onehot.FINAL_KEYS) and plain(final)
    assert final["epoch"] == 7 and len(final["train_losses"]) == 7 == len(final["grad_norms"])
    assert final["optimizer"]["state"] and final["scheduler"]["last_epoch"] == 7


def test_train_lowers_the_loss():
    m = chughtai.OneLayerMLP(5, embed_dim=8, hidden_dim=32, seed=1)
    pairs = all_pairs(5)
    before, _ = evaluate(m, pairs, 5)
    train(m, 5, torch.arange(25), 40, lr=1e-2, weight_decay=0.0)
    assert evaluate(m, pairs, 5)[0] < before / 2
