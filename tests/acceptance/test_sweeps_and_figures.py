"""A training run verified as a sweep: one model run per checkpoint, the progress-measures
table, parallel workers, and the figures a person looks at."""

import csv
import importlib.util
import json

import pytest

from interp import run as run_module
from interp import train
from tests._paths import BUNDLED as DEFAULT_CHECKPOINT

RUN_DIR = DEFAULT_CHECKPOINT.parent
EPOCHS = [0, 800, 2500, 4000, 50000]


def test_directory_sweep_runs_each_model_once_and_writes_the_table(pytester):
    before = run_module.FORWARD_CALLS["count"]
    md, table_csv = pytester.path / "sweep.md", pytester.path / "sweep.csv"
    result = pytester.runpytest_inprocess(f"--checkpoint={RUN_DIR}", "--claims-table", str(md),
                                          "-p", "no:cacheprovider", "-q")
    assert result.ret == 1  # the controls fail
    assert run_module.FORWARD_CALLS["count"] - before == len(EPOCHS)
    lines = md.read_text().splitlines()
    assert [line.split(" | ")[1] for line in lines[2:7]] == [str(e) for e in EPOCHS]
    assert "| **first holds** |" in lines[7]
    pytester.runpytest_inprocess(f"--checkpoint={RUN_DIR}", "--claims-table", str(table_csv),
                                 "-p", "no:cacheprovider", "-q", "-k", "accuracy")
    rows = list(csv.DictReader(table_csv.read_text().splitlines()))
    assert [r["test-accuracy passed"] for r in rows[:-1]] == ["False", "False", "False", "True", "True"]
    assert rows[-1]["test-accuracy"] == "epoch 4000"


def test_claim_ids_carry_the_checkpoint_name(pytester):
    result = pytester.runpytest_inprocess(f"--checkpoint={RUN_DIR}", "-k", "epoch000800 and accuracy",
                                          "--co", "-q", "-p", "no:cacheprovider")
    ids = [line for line in result.outlines if "::" in line]
    assert ids == [f"{RUN_DIR.as_posix()}/epoch000800.pt::test-accuracy"]  # outside pytester's rootdir: absolute


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A tiny training run (p = 17): four checkpoints, in .pt and in .safetensors."""
    out = tmp_path_factory.mktemp("run")
    args = ["--p", "17", "--d-model", "16", "--d-mlp", "32", "--epochs", "300", "--save-every", "100",
            "--no-progress", "--eval-every", "100"]
    assert train.main([*args, "--out", str(out / "pt")]) == 0
    assert train.main([*args, "--out", str(out / "st"), "--format", "safetensors"]) == 0
    return out


RECORD_LOADS = """
import json
from pathlib import Path

import interp.targets
from interp import run

LOADED = []
_load = interp.targets.load_checkpoints


def _recording(path, *args, **kwargs):
    LOADED.append(Path(path).stem)
    return _load(path, *args, **kwargs)


interp.targets.load_checkpoints = _recording


def pytest_sessionfinish(session):
    who = getattr(session.config, "workerinput", {}).get("workerid", "main")
    record = {"loaded": LOADED, "forward": run.FORWARD_CALLS["count"]}
    (Path(__file__).parent / f"loads-{who}.json").write_text(json.dumps(record))
"""


def test_parallel_workers_load_only_their_checkpoints_and_agree_with_a_serial_run(pytester, small_run):
    from conftest import require_or_skip  # the project root's: skips, or fails under INTERP_REQUIRE_EXTRAS=1

    for extra in ("xdist", "matplotlib"):
        if importlib.util.find_spec(extra) is None:
            require_or_skip(f"{extra} is not installed (the test extra: pip install -e '.[test]')")
    pytester.makeconftest(RECORD_LOADS)
    serial, parallel = pytester.path / "serial.json", pytester.path / "parallel.json"
    run_dir = str(small_run / "pt")
    pytester.runpytest_subprocess(f"--checkpoint={run_dir}", "--claims-report", str(serial), "-p", "no:cacheprovider")
    (pytester.path / "loads-main.json").unlink()
    result = pytester.runpytest_subprocess(
        f"--checkpoint={run_dir}", "--claims-report", str(parallel), "--claims-figures", str(pytester.path / "figs"),
        "-n", "2", "--dist", "loadfile", "-p", "no:cacheprovider")  # a checkpoint is a file: one worker each
    assert result.ret == 1  # the untrained checkpoints fail
    assert json.loads(parallel.read_text()) == json.loads(serial.read_text())
    names = ["epoch000000", "epoch000100", "epoch000200", "epoch000300"]
    main = json.loads((pytester.path / "loads-main.json").read_text())
    assert sorted(main["loaded"]) == names and main["forward"] == 0  # validates all, runs none
    workers = [json.loads(f.read_text()) for f in pytester.path.glob("loads-gw*.json")]
    assert len(workers) == 2
    loaded = [name for w in workers for name in w["loaded"]]
    assert sorted(loaded) == names  # each checkpoint loaded by exactly one worker
    assert all(w["forward"] == len(w["loaded"]) for w in workers)  # and its model run once, there
    index = (pytester.path / "figs" / "index.html").read_text()
    for name in names:  # each worker drew the checkpoints it ran; the main process wrote the index
        assert (pytester.path / "figs" / name / "readout.png").is_file()
        assert f"data-checkpoint='{name}'" in index and f"{name}/neurons.png" in index
    assert (pytester.path / "figs" / "sweep.png").is_file()


def test_summary_groups_by_family_with_failing_claims_first(pytester, small_run):
    result = pytester.runpytest_inprocess(f"--checkpoint={small_run / 'pt' / 'epoch000000.pt'}",
                                          "-k", "pre-relu-linear or test-accuracy", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines([
        "*interp claims*",
        "epoch000000 (interp-mlp: mlp, task add, sha256 *, p=17, key freqs *): 0 of 2 claims hold; 1 failed, "
        "1 not applicable",
        "*N/A (not applicable, counted as failing): it describes how a model solves the task, and this one does "
        "not (test-accuracy 0.* == 1 is false)",
        "*claim*value*threshold*margin*verdict",
        "*-- FAILING: accuracy",
        "*test-accuracy *== 1 *-0.* FAIL",
        "*The model answers every held-out pair*",
        "*-- NOT APPLICABLE: activations",
        "*pre-relu-linear *1.000000 >= 0.9999 *+0.0001  N/A",
    ])


def test_safetensors_checkpoints_give_the_same_claims_as_pytorch_files(pytester, small_run):
    reports = {}
    for fmt in ("pt", "st"):
        out = pytester.path / f"{fmt}.json"
        pytester.runpytest_inprocess(f"--checkpoint={small_run / fmt}", "--claims-report", str(out),
                                     "-p", "no:cacheprovider", "-q")
        reports[fmt] = json.loads(out.read_text())["checkpoints"]
    assert [r["checkpoint"].endswith(".safetensors") for r in reports["st"]] == [True] * 4
    for pt, st in zip(reports["pt"], reports["st"], strict=True):
        assert pt["sha256"] != st["sha256"]  # other bytes, the same weights
        assert pt["claims"] == st["claims"] and pt["key_freqs"] == st["key_freqs"]


def test_figures_and_index(pytester):
    from conftest import require_or_skip  # the project root's: skips, or fails under INTERP_REQUIRE_EXTRAS=1

    if importlib.util.find_spec("matplotlib") is None:
        require_or_skip("matplotlib is not installed (the test extra: pip install -e '.[test]')")
    out = pytester.path / "figs"
    checkpoint = RUN_DIR / "epoch050000.pt"
    pytester.runpytest_inprocess(f"--checkpoint={checkpoint}", "--claims-figures", str(out),
                                 "-p", "no:cacheprovider", "-q")
    pngs = sorted(p.name for p in (out / "epoch050000").glob("*.png"))
    assert pngs == ["embedding.png", "fve.png", "logits.png", "neurons.png", "pre_post.png", "readout.png", "wneur.png"]
    for name in pngs:
        assert (out / "epoch050000" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    index = (out / "index.html").read_text()
    assert index.count("<img ") == len(pngs)
    assert "fve[*] (26 cases)" in index and "NOT-GATED (does not hold)" in index and ">PASS<" in index
