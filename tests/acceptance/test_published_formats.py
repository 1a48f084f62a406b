"""The field's published layouts gate as they are saved, from a directory outside the project,
with no conversion step (issue 15): each file as its code base writes it (``tests/published``),
the report naming the format, the architecture, the input form and where p, the task and the
split came from; run directories and full-run files as sweeps; a lab's own model class through
``pytest_interp_model``; refusals as one line naming the file."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tests._paths import FIXTURES
from tests._subprocess import child_env
from tests.published import chughtai, nanda, onehot, zhong, zhong_mlp

P = 11


def gate(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``pytest ARGS`` in ``cwd`` (outside the project), in a fresh interpreter, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=child_env())


def report(cwd: Path, path: Path, *options: str) -> tuple[dict, subprocess.CompletedProcess]:
    result = gate(cwd, f"--checkpoint={path}", "--claims-report=r.json", "-q", *options)
    assert result.returncode in (0, 1), result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads((cwd / "r.json").read_text()), result


def source(data: dict, name: str) -> str:
    return data["facts"][name]["source"]


def test_each_layout_gates_from_outside_the_project_and_says_what_it_read(tmp_path):
    torch.manual_seed(0)
    files = {
        "nanda": nanda.save_saved_run(nanda.nanda(P, 16, 2, 32, seed=1), tmp_path / "saved_runs" / "run.pth",
                                      config=nanda.nanda_config(nanda.nanda(P, 16, 2, 32), "subtract", seed=4)),
        "zhong": zhong.save_zhong(zhong.Transformer(P, 16, 4, 1, 0.0), tmp_path / "zhong", "r1"),
        "zhong-mlp": zhong_mlp.save_zhong_mlp(zhong_mlp.ZhongMLP("X", C=P, d_hidden=16), tmp_path / "zm", "r2"),
        "chughtai": chughtai.save_chughtai_run(tmp_path / "ch", chughtai.OneLayerMLP(P, 8, 16),
                                               chughtai.chughtai_cfg("OneLayerMLP", P, seed=2)),
    }
    for name, path in files.items():
        data, _ = report(tmp_path, path)
        assert data["format"] == name.split("-")[0], name
        assert {"p", "task", "split", "layout"} <= set(data["facts"]), name
        assert data["p"] == P
    nanda_data, _ = report(tmp_path, files["nanda"])
    assert (nanda_data["task"], source(nanda_data, "task")) == ("sub", "file (config.fn_name)")
    assert (nanda_data["facts"]["split"]["value"], nanda_data["facts"]["input_form"]["value"]) == ("nanda", "a,b,=")
    zhong_data, _ = report(tmp_path, files["zhong"])
    assert zhong_data["facts"]["attn_coeff"] == {"value": 0.0, "source": "file (config_r1.json attn_coeff)"}
    assert zhong_data["facts"]["input_form"]["value"] == "a,b"
    assert zhong_data["facts"]["split"]["value"] == "all"  # their split is an unseeded random_split
    chughtai_data, _ = report(tmp_path, files["chughtai"])
    assert (chughtai_data["facts"]["split"]["value"], chughtai_data["facts"]["split_seed"]["value"]) == ("chughtai", 2)


def test_an_option_wins_over_the_files_and_the_report_says_so(tmp_path):
    path = zhong.save_zhong(zhong.Transformer(P, 16, 4, 1, 1.0), tmp_path / "z", "r3")
    data, _ = report(tmp_path, path, "--task=sub", "--attn-coeff=0.5")
    assert (data["task"], source(data, "task")) == ("sub", "option --task")
    assert data["facts"]["attn_coeff"] == {"value": 0.5, "source": "option --attn-coeff"}
    assert data["options"]["attn_coeff"]["value"] == 0.5


def test_a_full_run_file_is_a_sweep_named_by_epoch(tmp_path):
    model = nanda.nanda(P, 16, 2, 32, seed=2)
    path = nanda.save_full_run(nanda.record_full_run(model, num_epochs=201, every=100), tmp_path / "full_run.pth")
    result = gate(tmp_path, f"--checkpoint={path}", "--co", "-q")
    ids = [line for line in result.stdout.splitlines() if "::test-accuracy" in line]
    assert [i.split("::")[1] for i in ids] == ["epoch000100", "epoch000200"], result.stdout[-1500:]
    result = gate(tmp_path, ids[0], "-q", "--claims-table=t.md")
    assert "1 passed" in result.stdout or "1 failed" in result.stdout, result.stdout[-1500:]
    data, _ = report(tmp_path, path, "--claims-table=t.md")
    assert [c["epoch"] for c in data["checkpoints"]] == [100, 200]
    assert "epoch000100" in (tmp_path / "t.md").read_text()


def test_a_onehot_run_directory_is_a_sweep_whose_accuracy_is_what_each_file_stored(tmp_path):
    directory = onehot.train_run(tmp_path, onehot.Recipe(p=P, d_mlp=32, lr=1e-3, weight_decay=1.0, frac_train=0.5,
                                                         num_epochs=11, save_every=5, seed=3))
    data, _ = report(tmp_path, directory)
    by_name = {Path(c["checkpoint"]).name: c for c in data["checkpoints"]}
    assert set(by_name) == {"0.pth", "5.pth", "10.pth", "final.pth"}  # the split files are not checkpoints
    for name in ("0.pth", "5.pth", "10.pth"):
        entry = by_name[name]
        measured = next(c["value"] for c in entry["claims"] if c["id"] == "test-accuracy")
        assert measured == pytest.approx(entry["stored"]["test_accuracy"], abs=1e-12), name
        assert entry["facts"]["split"] == {"value": "files", "source": "file (train_data.pth, test_data.pth)"}
        assert entry["facts"]["act"]["value"] == "relu"


def test_a_labs_own_model_class_gates_through_a_conftest_adapter(tmp_path):
    """An nn.Module the plugin has never seen: a bilinear 'clock' net with its own key names."""
    (tmp_path / "conftest.py").write_text('''
import torch
from torch import nn
from interp.adapter import Adapted


class Clockish(nn.Module):
    def __init__(self, p=11, d=8, width=24):
        super().__init__()
        self.emb_left, self.emb_right = nn.Embedding(p, d), nn.Embedding(p, d)
        self.mix = nn.Linear(2 * d, width)
        self.head = nn.Linear(width, p, bias=False)

    def hooks(self, x_a, x_b):
        pre = self.mix(torch.cat([x_a, x_b], -1))
        post = torch.relu(pre)
        return {"hook_pre": pre, "hook_post": post, "logits": self.head(post)}


def pytest_interp_model(path, state, options):
    if "mix.weight" not in state:
        return None
    net = Clockish()
    net.load_state_dict(state)
    return Adapted(p=11, inputs=lambda pairs: (net.emb_left(pairs[:, 0]), net.emb_right(pairs[:, 1])),
                   hooks=net.hooks, readout=net.head.weight.T.detach(), architecture="clockish")
''')
    spec = importlib.util.spec_from_file_location("lab_conftest", tmp_path / "conftest.py")
    lab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lab)  # the adapter's own class, to save a checkpoint of it
    torch.manual_seed(0)
    torch.save(lab.Clockish().state_dict(), tmp_path / "mine.pt")
    data, _ = report(tmp_path, tmp_path / "mine.pt")
    assert data["architecture"] == "clockish" and data["format"] == "pytest_interp_model"
    verdicts = {c["id"]: c["verdict"] for c in data["claims"]}
    assert verdicts["test-accuracy"] in ("PASS", "FAIL")  # the task itself gates every architecture
    assert verdicts["distance-irrelevance"] == "NOT-GATED"  # no population of "clockish" models bears it out
    assert data["algorithm"]["algorithm"] in ("clock", "pizza", "undetermined")
    assert {n["id"] for n in data["not_evaluated"]} >= {"wneur-key-share", "embedding-key-share"}


@pytest.mark.parametrize(("make", "words"), [
    (lambda d: chughtai.save_chughtai_run(d, chughtai.OneLayerMLP(P, 8, 16),
                                          chughtai.chughtai_cfg("OneLayerMLP", P, group="DihedralGroup")),
     ["DihedralGroup", "only CyclicGroup"]),
    (lambda d: zhong_mlp.save_zhong_mlp(zhong_mlp.ZhongMLP("B", C=P, d_hidden=16), d, "r9", config=False),
     ["model_type", "config_<runid>.json"]),
    (lambda d: chughtai.save_chughtai_run(d, {**chughtai.transformer_state(P, d_model=16, n_heads=2, d_head=8,
                                                                            d_mlp=24),
                                              "y_embed": torch.zeros(P + 1, 16)}, None),
     ["y_embed differs from embed.W_E"]),
])
def test_refusals_are_one_line_naming_the_file(tmp_path, make, words):
    path = make(tmp_path / "case")
    result = gate(tmp_path, f"--checkpoint={path}", "-q")
    assert result.returncode == 4, result.stdout[-1500:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and str(path.name) in errors[0] and all(w in errors[0] for w in words), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("runid", ["p59c0s0", "p59c1s0"])
def test_the_trained_zhong_fixtures_gate_and_equal_their_published_forward(tmp_path, runid):
    """fixtures/zhong (trained here, fixtures/zhong/PROVENANCE.md): read through their sidecar, the
    hooks and logits over all pairs equal the published forward of the same weights."""
    from interp.checkpoint import load_checkpoint
    from interp.data import all_pairs
    from interp.model import forward

    path = FIXTURES / "zhong" / f"model_{runid}.pt"
    checkpoint = load_checkpoint(path)
    config = json.loads(path.with_name(f"config_{runid}.json").read_text())
    published = zhong.Transformer(59, attn_coeff=config["attn_coeff"])
    published.load_state_dict(torch.load(path, weights_only=True))
    pairs = all_pairs(59)
    with torch.no_grad():
        expected, ours = published.answer(pairs), forward(checkpoint.model, pairs)
    for key in ("hook_pre", "hook_post", "logits"):
        torch.testing.assert_close(ours[key], expected[key], rtol=1e-4, atol=1e-4)
    data, _ = report(tmp_path, path)
    accuracy = next(c for c in data["claims"] if c["id"] == "test-accuracy")
    assert accuracy["value"] == 1.0 and data["facts"]["split"]["value"] == "all"
    assert data["facts"]["attn_coeff"]["value"] == config["attn_coeff"]


def test_deeper_models_gate_reading_the_last_layer(tmp_path):
    """Zhong et al.'s 2-layer transformer and 2-hidden-layer MLP: every claim is evaluated or
    reported as not evaluated with its reason; none errors."""
    torch.manual_seed(1)
    files = [zhong.save_zhong(zhong.Transformer(P, 16, 4, 2, 0.7), tmp_path / "z2", "deep"),
             zhong_mlp.save_zhong_mlp(zhong_mlp.ZhongMLP("B", C=P, d_hidden=16), tmp_path / "m2", "deep")]
    for path in files:
        data, result = report(tmp_path, path)
        assert data["n_layers"] == 2 and "ERROR" not in result.stdout, result.stdout[-1500:]
        reasons = {n["id"]: n["reason"] for n in data["not_evaluated"]}
        assert "wneur-key-share" in reasons
    mlp = data
    pre = next(c for c in mlp["claims"] if c["id"] == "pre-relu-linear")
    assert not pre.get("holds_by_construction")  # the last layer's pre-activations are measured
