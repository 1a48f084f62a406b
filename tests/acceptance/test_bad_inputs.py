"""Every bad input gets one clear line naming the file and the problem, a non-zero exit, no
traceback, and nothing runs: checked through the real `pytest --checkpoint ...` command line.

docs/bad-inputs.md is the catalogue of these cases and their messages.
"""

import contextlib
import json
import math
import os
import pickle
import shlex
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from interp.arch.mlp import MLP
from interp.arch.transformer import Transformer
from interp.checkpoint import load_checkpoint, save_checkpoint, sha256_of
from tests._paths import BUNDLED

GOOD = MLP.random(13, 4, 8, seed=0).state_dict()
TL = Transformer.random(13, d_model=16, n_heads=2, d_head=8, d_mlp=24).state_dict()


def tl_without(key: str) -> dict:
    return {k: v for k, v in TL.items() if k != key}


def saved(obj) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        torch.save(obj, path)
        return path
    return make


def written(data: bytes) -> Callable[[Path], Path]:
    def make(path: Path) -> Path:
        path.write_bytes(data)
        return path
    return make


def truncated(path: Path) -> Path:
    save_checkpoint(MLP(**GOOD), path)
    path.write_bytes(path.read_bytes()[:2000])
    return path


def with_sidecar(obj, name: str, sidecar: dict) -> Callable[[Path], Path]:
    """Save ``obj`` as ``model_r1.pt`` beside the path asked for, with the JSON file ``name`` beside it."""
    def make(path: Path) -> Path:
        path = path.with_name("model_r1.pt")
        torch.save(obj, path)
        (path.parent / name).write_text(json.dumps(sidecar))
        return path
    return make


CHUGHTAI_MLP = {"W_x": torch.zeros(13, 4), "W_y": torch.zeros(13, 4), "W": torch.zeros(8, 6), "W_U": torch.zeros(6, 13)}
ZHONG_MLP = {"embed.weight": torch.zeros(13, 8), "l1.weight": torch.zeros(8, 8), "l1.bias": torch.zeros(8),
             "unembed.weight": torch.zeros(13, 8)}


def replaced(**changes) -> dict:
    return {**GOOD, **changes}


def without(key: str) -> dict:
    return {k: v for k, v in GOOD.items() if k != key}


BAD_CHECKPOINTS = {  # case: (how to make it, words the one-line error must contain)
    "missing file": (lambda path: path, "no such file"),
    "directory with no checkpoints": (lambda path: (path.mkdir(), path)[1], "directory holds no checkpoint"),
    "empty file": (written(b""), "empty file"),
    "truncated file": (truncated, "truncated or damaged zip archive"),
    "random bytes": (written(bytes(range(256)) * 8), "not a readable PyTorch checkpoint"),
    "text file": (written(b"W_E = [[1, 2], [3, 4]]\n"), "not a readable PyTorch checkpoint"),
    "not a dict": (saved(list(GOOD.values())), "not a state dict: holds a list"),
    "missing key": (saved(without("W_in")), "missing key(s) W_in"),
    "extra key": (saved(replaced(b_in=torch.zeros(8))), "unexpected key(s) b_in"),
    "wrong rank": (saved(replaced(W_E=torch.zeros(13, 4, 1))), "W_E has rank 3"),
    "p disagrees": (saved(replaced(W_U=torch.zeros(8, 12))), "W_E and W_U disagree on p"),
    "d_model disagrees": (saved(replaced(W_in=torch.zeros(5, 8))), "W_E and W_in disagree on d_model"),
    "d_mlp disagrees": (saved(replaced(W_U=torch.zeros(9, 13))), "W_in and W_U disagree on d_mlp"),
    "NaN weight": (saved(replaced(W_in=torch.full((4, 8), math.nan))), "W_in holds NaN or Inf"),
    "Inf weight": (saved(replaced(W_U=torch.full((8, 13), math.inf))), "W_U holds NaN or Inf"),
    "integer dtype": (saved(replaced(W_E=torch.ones(13, 4, dtype=torch.int64))), "W_E has dtype torch.int64"),
    "p below 3": (saved(MLP.random(2, 4, 8).state_dict()), "p=2 is too small"),
    "empty dimension": (saved(replaced(W_E=torch.zeros(13, 0), W_in=torch.zeros(0, 8))),
                        "W_E, W_in empty: the weights need every dimension >= 1"),
    "activations too big": (saved(MLP.random(300_000, 1, 1).state_dict()), "GB to run, but only"),
    "unknown format": (saved({"encoder.weight": torch.zeros(3, 3)}),
                       "not a format this tool reads (keys encoder.weight)"),
    "transformer: key missing": (saved(tl_without("blocks.0.attn.W_K")), "missing key(s) blocks.0.attn.W_K"),
    "transformer: LayerNorm": (saved({**TL, "blocks.0.ln1.w": torch.ones(16), "blocks.0.ln1.b": torch.zeros(16)}),
                               "has LayerNorm weights (blocks.0.ln1.b, blocks.0.ln1.w)"),
    "transformer: shape disagrees": (saved({**TL, "blocks.0.mlp.W_out": torch.zeros(24, 15)}),
                                     "blocks.0.mlp.W_out has shape [24, 15], expected [24, 16]"),
    "training checkpoint without weights": (saved({"optimizer": {}, "epoch": 3, "test_loss": 1.0}),
                                            "not a format this tool reads (keys epoch, optimizer, test_loss)"),
    "Nanda config: another task": (saved({"model": TL, "config": {"p": 13, "fn_name": "x^2+y^2"}}),
                                   "config.fn_name 'x^2+y^2': only add and subtract are gated"),
    "full-run file: epochs mismatch": (saved({"state_dicts": [TL, TL], "epochs": [100]}),
                                       "epochs must list one integer per state dict (2)"),
    "Zhong MLP without model_type": (saved(ZHONG_MLP), "no model_type: their forward depends on it"),
    "Zhong funcs not add or sub": (with_sidecar(TL, "config_r1.json", {"funcs": "lambda x: (x[0]*x[1])%13"}),
                                   "is neither (x[0]+x[1])%p nor (x[0]-x[1])%p (it is read as text, never run)"),
    "Zhong attn_coeff not a number": (with_sidecar(TL, "config_r1.json", {"attn_coeff": "nan"}),
                                      "attn_coeff is 'nan', expected a number between 0 and 1"),
    "Zhong attn_coeff outside [0, 1]": (with_sidecar(TL, "config_r1.json", {"attn_coeff": 1.5}),
                                        "attn_coeff is 1.5, expected a number between 0 and 1"),
    "Nanda config: frac_train not a fraction": (saved({"model": TL, "config": {"p": 13, "seed": 0,
                                                                               "frac_train": math.inf}}),
                                                "config.frac_train is inf, expected a number between 0 and 1"),
    "Chughtai: seed not an integer": (with_sidecar(CHUGHTAI_MLP, "cfg.json", {"group": "CyclicGroup",
                                                                              "group_parameter": 13, "seed": "0"}),
                                      "seed is '0', expected an integer"),
    "Chughtai: another group": (with_sidecar(TL, "cfg.json", {"group": "DihedralGroup", "group_parameter": 13}),
                                "group 'DihedralGroup' (cfg.json): only CyclicGroup"),
    "Chughtai: alias differs": (saved({**TL, "x_embed": torch.zeros(14, 16)}), "x_embed differs from embed.W_E"),
    "Chughtai: n disagrees with the weights": (with_sidecar(CHUGHTAI_MLP, "cfg.json",
                                                            {"group": "CyclicGroup", "group_parameter": 17}),
                                               "p=17 (file (cfg.json)) but the weights hold p=13"),
}


def assert_clean_error(result, *words: str) -> None:
    """Usage-error exit, one ERROR line holding every word, no traceback, no test run."""
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, output  # 1 would mean tests ran and failed
    assert "Traceback" not in output, output
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1, output
    for word in words:
        assert word in errors[0], errors[0]


@pytest.mark.parametrize("case", sorted(BAD_CHECKPOINTS))
def test_bad_checkpoint_gets_one_clean_line(pytester, case):
    make, problem = BAD_CHECKPOINTS[case]
    path = make(pytester.path / "model.pt")
    result = pytester.runpytest_inprocess(f"--checkpoint={path}", "-p", "no:cacheprovider")
    assert_clean_error(result, str(path), problem)


class _Plant:
    """The classic attack: pickles as ``os.system("touch <target>")``, run by a plain unpickler."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.target))}",))


def plant_torch_save(path: Path, target: Path) -> None:
    """``torch.save`` of an object with a reduce hook: a zip archive, the usual checkpoint format."""
    torch.save({**GOOD, "W_E": _Plant(target)}, path)


def plant_raw_pickle(path: Path, target: Path) -> None:
    """A bare pickle (protocol 2, the one torch.save uses), which torch reads as its legacy format."""
    path.write_bytes(pickle.dumps({**GOOD, "W_E": _Plant(target)}, protocol=2))


PLANTS = {"torch.save zip": plant_torch_save, "raw pickle": plant_raw_pickle}


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_malicious_payload_is_live(tmp_path, kind):
    """Control: loaded the unsafe way, the payload does create the file, so the test below would
    notice a loader that runs it."""
    target, path = tmp_path / "pwned", tmp_path / "evil.pt"
    PLANTS[kind](path, target)
    with open(path, "rb") as fh, contextlib.suppress(RuntimeError):  # legacy format: bad magic after
        torch.load(fh, weights_only=False)
    assert target.exists()


@pytest.mark.parametrize("kind", sorted(PLANTS))
def test_malicious_pickle_runs_nothing(pytester, tmp_path, kind):
    """The real command line, in a subprocess, on a checkpoint whose reduce hook creates a file."""
    target, path = tmp_path / "pwned", pytester.path / "evil.pt"
    PLANTS[kind](path, target)
    result = pytester.runpytest_subprocess(f"--checkpoint={path}", "-p", "no:cacheprovider")
    assert not target.exists()
    assert_clean_error(result, str(path), "not a plain tensor state dict", ".system", "nothing from the file was run")


def test_a_run_never_modifies_the_checkpoint(pytester):
    path = pytester.path / "model.pt"
    save_checkpoint(MLP.random(13, 4, 8), path)
    before = sha256_of(path), path.stat().st_mtime_ns
    pytester.runpytest_inprocess(f"--checkpoint={path}", "-p", "no:cacheprovider")
    assert (sha256_of(path), path.stat().st_mtime_ns) == before


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_weights_are_computed_in_float32(pytester, dtype):
    """The loader widens half precision to float32, so the claims' values equal, exactly, those of
    the same (rounded) weights saved in float32."""
    half = {k: v.to(dtype) for k, v in GOOD.items()}
    values = {}
    for name, state in {"half": half, "float32": {k: v.float() for k, v in half.items()}}.items():
        path, report = pytester.path / f"{name}.pt", pytester.path / f"{name}.json"
        torch.save(state, path)
        result = pytester.runpytest_inprocess(f"--checkpoint={path}", "--claims-report", str(report),
                                              "-p", "no:cacheprovider")
        assert result.ret == 1  # random weights: claims fail, but the suite runs
        values[name] = {row["id"]: row["value"] for row in json.loads(report.read_text())["claims"]}
    assert len(values["half"]) > 10 and any(v is not None for v in values["half"].values())
    assert values["half"] == values["float32"]  # every value, exactly: the computation was float32
    assert {t.dtype for t in load_checkpoint(pytester.path / "half.pt").model.state_dict().values()} == {torch.float32}


BAD_CLAIMS = {  # case: (text, words the error must contain)
    "YAML syntax error": ("claims:\n  - id: x\n    metric: [unclosed\n", ":4: YAML syntax error"),
    "empty file": ("", "empty file"),
    "unknown metric": ("claims:\n- {id: x, metric: fvee, op: '>', threshold: 1, claim: c, source: s}\n",
                       "unknown metric 'fvee' (did you mean 'fve'?); known: accuracy"),
    "misspelt field": ("claims:\n- {id: x, metric: accuracy, op: '>', treshold: 1, claim: c, source: s}\n",
                       "unknown field(s) 'treshold' (did you mean 'threshold'?)"),
    "missing threshold": ("claims:\n- {id: x, metric: accuracy, op: '>', claim: c, source: s}\n",
                          "claim 'x': missing field(s) threshold"),
    "bad op": ("claims:\n- {id: x, metric: accuracy, op: '=>', threshold: 1, claim: c, source: s}\n",
               "claim 'x': bad op '=>'"),
    "non-numeric threshold": ("claims:\n- {id: x, metric: accuracy, op: '>', threshold: high, claim: c, source: s}\n",
                              "claim 'x': threshold must be a finite number, got 'high'"),
    "duplicate id": ("claims:\n" + "- {id: x, metric: accuracy, op: '>', threshold: 1, claim: c, source: s}\n" * 2,
                     "claim 'x': duplicate id"),
    "param not taken": ("claims:\n- {id: x, metric: accuracy, params: {freq: 3}, op: '>', threshold: 1, "
                        "claim: c, source: s}\n", "metric 'accuracy' takes no parameter(s) ['freq']"),
    "known failure naming no claim": (
        "claims:\n- {id: test-accuracy, metric: accuracy, op: '>', threshold: 1, claim: c, source: s}\n"
        "known_failures:\n- {claim: test-acuracy, sha256: '" + "0" * 64 + "', value: 0.5, reason: r}\n",
        "known_failures #1: 'test-acuracy' names no claim (did you mean 'test-accuracy'?)"),
    "bad param value": ("claims:\n- {id: x, metric: accuracy, params: {split: dev}, op: '>', threshold: 1, "
                        "claim: c, source: s}\n", "parameter split='dev' not one of"),
    "unknown architecture in gated_on": ("claims:\n- {id: x, metric: accuracy, op: '>', threshold: 1, claim: c, "
                                         "source: s, gated_on: [transfomer]}\n",
                                         "claim 'x': gated_on names 'transfomer' (did you mean 'transformer'?)"),
}


@pytest.mark.parametrize("case", sorted(BAD_CLAIMS))
def test_bad_claims_file_gets_one_clean_line(pytester, case):
    text, problem = BAD_CLAIMS[case]
    path = pytester.path / "claims.yaml"
    path.write_text(text)
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", "--claims", str(path),
                                          "-p", "no:cacheprovider")
    assert_clean_error(result, str(path), problem)


BAD_OPTIONS = {
    "key freqs text": (["--key-freqs", "one,two"], "--key-freqs: 'one' is not an integer"),
    "key freq zero": (["--key-freqs", "0,3"], "--key-freqs: frequencies start at 1"),
    "key freq above p//2": (["--key-freqs", "1,57"], "--key-freqs: [57] out of range for p=113"),
    "key freqs duplicated": (["--key-freqs", "3,3"], "--key-freqs: duplicate frequencies"),
    "report dir missing": (["--claims-report", "/nonexistent/dir/r.json"], "directory /nonexistent/dir does not exist"),
    "report path is a dir": (["--claims-report", "/"], "is a directory"),
    "claims file missing": (["--claims", "/nonexistent/claims.yaml"], "/nonexistent/claims.yaml: no such file"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_option_fails_before_the_model_runs(pytester, case):
    from interp import run as run_module

    args, problem = BAD_OPTIONS[case]
    before = run_module.FORWARD_CALLS["count"]
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", *args, "-p", "no:cacheprovider")
    assert_clean_error(result, problem)
    assert run_module.FORWARD_CALLS["count"] == before


FAMILIES = {"checkpoint": BAD_CHECKPOINTS, "claims": BAD_CLAIMS, "option": BAD_OPTIONS}
# The tests above run every case through pytest's command line in this process (fast); these run a
# few of each family as a user does, `pytest --checkpoint ...` in a fresh interpreter, where an
# uncaught exception would print a real traceback.
SUBPROCESS_CASES = [("checkpoint", "truncated file"), ("checkpoint", "text file"),
                    ("checkpoint", "activations too big"), ("claims", "YAML syntax error"),
                    ("claims", "unknown metric"), ("option", "key freq above p//2")]


def command_line(pytester, family: str, case: str) -> tuple[list[str], list[str]]:
    """The arguments that give one case of the tables above, and the words its error must hold."""
    if family == "checkpoint":
        make, problem = BAD_CHECKPOINTS[case]
        path = make(pytester.path / "model.pt")
        return [f"--checkpoint={path}"], [str(path), problem]
    if family == "claims":
        text, problem = BAD_CLAIMS[case]
        path = pytester.path / "claims.yaml"
        path.write_text(text)
        return [f"--checkpoint={BUNDLED}", "--claims", str(path)], [str(path), problem]
    args, problem = BAD_OPTIONS[case]
    return [f"--checkpoint={BUNDLED}", *args], [problem]


@pytest.mark.parametrize(("family", "case"), SUBPROCESS_CASES, ids=[f"{f}-{c}" for f, c in SUBPROCESS_CASES])
def test_real_command_line_gives_one_clean_line(pytester, family, case):
    assert case in FAMILIES[family]
    args, words = command_line(pytester, family, case)
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider")
    assert_clean_error(result, *words)


def storage_locations(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(next(n for n in archive.namelist() if n.endswith("data.pkl")))


def test_reference_was_saved_from_cuda_and_loads_on_cpu(reference_path):
    """The third-party file itself; the test below fakes the same on any machine."""
    assert b"cuda:0" in storage_locations(reference_path)
    weights = load_checkpoint(reference_path).model
    assert {t.device.type for t in weights.state_dict().values()} == {"cpu"}


def test_checkpoint_saved_from_cuda_runs_on_cpu(pytester, monkeypatch):
    """torch.save records each storage's device; fake CUDA's tag so that this needs no GPU."""
    path, report = pytester.path / "cuda.pt", pytester.path / "r.json"
    with monkeypatch.context() as patch:
        patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
        torch.save(GOOD, path)
    assert b"cuda:0" in storage_locations(path)
    if not torch.cuda.is_available():  # control: a loader without map_location would fail here
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    result = pytester.runpytest_inprocess(f"--checkpoint={path}", "--claims-report", str(report),
                                          "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # random weights: claims fail, but they ran
    assert json.loads(report.read_text())["p"] == 13


def test_unwritable_report_path_fails_up_front(pytester):
    """/proc accepts no new files, whoever runs the test (root included)."""
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc on this system")
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", "--claims-report",
                                          "/proc/r.json", "-p", "no:cacheprovider")
    assert_clean_error(result, "--claims-report: /proc/r.json cannot be written")
