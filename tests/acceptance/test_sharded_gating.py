"""Gating across machines: the bundled run directory gated in two pytest-split shards, each
loading and running only the checkpoints whose claims it runs, and the shards' reports merged by
``python -m interp.report merge`` into the report, sweep table and figure page of one unsharded
run, byte for byte; and the merge refusing shards of different runs, in one line."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from interp import merge
from tests._paths import FIXTURES
from tests._subprocess import child_env

RUN_DIR = FIXTURES / "p113"
NAMES = ["epoch000000", "epoch000800", "epoch002500", "epoch004000", "epoch050000"]
OUTPUTS = ("report.json", "table.md", "figs")

RECORD_LOADS = """
import json
from pathlib import Path

import interp.targets
from interp import run

LOADS = {"up front": [], "to run": []}
PHASE = ["up front"]
_load = interp.targets.load_checkpoints


def _recording(path, *args, **kwargs):
    LOADS[PHASE[0]].append(Path(path).stem)
    return _load(path, *args, **kwargs)


interp.targets.load_checkpoints = _recording


def pytest_collection_finish(session):
    PHASE[0] = "to run"


def pytest_sessionfinish(session):
    report = Path(session.config.getoption("claims_report"))
    record = {**LOADS, "forward": run.FORWARD_CALLS["count"]}
    (report.parent / "loads.json").write_text(json.dumps(record))
"""


def gate(cwd: Path, out: str, *args: str) -> subprocess.CompletedProcess:
    """``pytest --checkpoint=fixtures/p113`` in ``cwd``, its report, table and figures in ``cwd/out``."""
    (cwd / out).mkdir()
    outputs = [f"--claims-report={out}/report.json", f"--claims-table={out}/table.md", f"--claims-figures={out}/figs"]
    return subprocess.run([sys.executable, "-m", "pytest", f"--checkpoint={RUN_DIR}", *outputs, *args,
                           "-p", "no:cacheprovider", "-q"], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env=child_env())


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """One unsharded run (``whole/``) and the two shards of the same run (``shard1/``, ``shard2/``)."""
    from conftest import require_or_skip  # the project root's: skips, or fails under INTERP_REQUIRE_EXTRAS=1

    for extra in ("pytest_split", "matplotlib"):
        if importlib.util.find_spec(extra) is None:
            require_or_skip(f"{extra} is not installed (the test extra: pip install -e '.[test]')")
    root = tmp_path_factory.mktemp("sharded")
    (root / "conftest.py").write_text(RECORD_LOADS)
    whole = gate(root, "whole")
    assert whole.returncode == 1, whole.stdout[-3000:] + whole.stderr  # the bundled controls fail
    for group in (1, 2):
        shard = gate(root, f"shard{group}", "--splits=2", f"--group={group}",
                     "--splitting-algorithm=duration_based_chunks", f"--durations-path={root / 'none.json'}")
        assert shard.returncode in (0, 1), shard.stdout[-3000:] + shard.stderr
    return root


def merged(root: Path, *shards: Path, out: str = "merged") -> subprocess.CompletedProcess:
    """``python -m interp.report merge`` of ``shards`` into ``root/out``, the shards' figures gathered there."""
    (root / out / "figs").mkdir(parents=True)
    for shard in shards:
        shutil.copytree(shard.parent / "figs", root / out / "figs", dirs_exist_ok=True)
    return subprocess.run([sys.executable, "-m", "interp.report", "merge", f"--out={out}/report.json",
                           f"--table={out}/table.md", f"--figures={out}/figs", *map(str, shards)],
                          cwd=root, capture_output=True, text=True, timeout=300, env=child_env())


def reports(root: Path) -> list[dict]:
    return [json.loads((root / f"shard{g}" / "report.json").read_text()) for g in (1, 2)]


def ran(entry: dict) -> list[str]:
    return [row["id"] for row in entry["claims"]] + [row["id"] for row in entry["not_evaluated"]]


def test_each_shard_runs_part_of_the_run_and_lists_the_rest_as_deselected(runs):
    whole = json.loads((runs / "whole" / "report.json").read_text())
    every = {e["checkpoint"]: set(ran(e)) for e in whole["checkpoints"]}
    shards = reports(runs)
    for report in shards:
        assert [e["checkpoint"] for e in report["checkpoints"]] == list(every)  # every checkpoint, in order
        for entry in report["checkpoints"]:
            assert set(ran(entry)) | set(entry["deselected"]) == every[entry["checkpoint"]]
            assert not set(ran(entry)) & set(entry["deselected"])
    straddling = [path for path in every if all(ran(next(e for e in r["checkpoints"] if e["checkpoint"] == path))
                                                for r in shards)]
    assert len(straddling) == 1  # duration_based_chunks keeps the order: whole checkpoints but one at the edge


def test_a_shard_loads_and_runs_only_the_checkpoints_whose_claims_it_runs(runs):
    for group, report in zip((1, 2), reports(runs), strict=True):
        loads = json.loads((runs / f"shard{group}" / "loads.json").read_text())
        mine = [Path(e["checkpoint"]).stem for e in report["checkpoints"] if ran(e)]
        assert 0 < len(mine) < len(NAMES)
        assert loads["up front"] == NAMES  # each read once and validated before any claim runs
        assert sorted(loads["to run"]) == mine  # read again only where one of its claims runs
        assert loads["forward"] == len(mine)  # and its model run there, once


def test_shards_merged_equal_one_unsharded_run(runs):
    result = merged(runs, runs / "shard1" / "report.json", runs / "shard2" / "report.json")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("merged 2 shard reports into merged/report.json: 5 checkpoints")
    assert "ran in no shard" not in result.stdout
    for name in ("report.json", "table.md", "figs/index.html"):  # values, verdicts, totals; the same bytes
        assert (runs / "merged" / name).read_text() == (runs / "whole" / name).read_text(), name
    figures = sorted(p.relative_to(runs / "whole").as_posix() for p in (runs / "whole" / "figs").rglob("*.png"))
    assert figures and figures == sorted(p.relative_to(runs / "merged").as_posix()
                                         for p in (runs / "merged" / "figs").rglob("*.png"))
    report = json.loads((runs / "merged" / "report.json").read_text())
    assert all(entry["deselected"] == [] for entry in report["checkpoints"])


def test_a_missing_shard_leaves_its_cases_deselected_and_says_so(runs, tmp_path):
    out = tmp_path / "one.json"
    line = merge.merge([runs / "shard1" / "report.json"], out)
    assert "claim cases ran in no shard (listed as deselected)" in line
    report, shard = json.loads(out.read_text()), reports(runs)[0]
    assert [e["deselected"] for e in report["checkpoints"]] == [e["deselected"] for e in shard["checkpoints"]]


# -- refusals ---------------------------------------------------------------------------------------
def _edit_gate(report: dict) -> None:
    report["gate"] = "all"
    report["options"]["gate"] = {"value": "all", "source": "option --gate"}


def _edit_claims_file(report: dict) -> None:
    report["claims_file"]["sha256"] = "0" * 64


def _edit_options(report: dict) -> None:
    report["options"]["key_freqs"] = {"value": [1, 2], "source": "option --key-freqs"}


def _edit_checkpoint(report: dict) -> None:
    report["checkpoints"][0]["sha256"] = "f" * 64


def _edit_result(report: dict) -> None:
    row = next(row for e in report["checkpoints"] for row in e["claims"])
    row["value"] += 1e-6


REFUSALS = {
    "another gate mode": (_edit_gate, "gated in gate mode all, {first} in population"),
    "another claims file": (_edit_claims_file, "gated with the claims file"),
    "other options": (_edit_options, "gated with other options than {first}: key_freqs is [1, 2] (option "
                                     "--key-freqs) there, not given in {first}"),
    "another checkpoint at the same path": (_edit_checkpoint, "epoch000000.pt: sha256 is"),
    "another result for a case": (_edit_result, "came out otherwise in {first}"),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_merge_refuses_shards_of_another_run_in_one_line(runs, tmp_path, capsys, case):
    edit, expected = REFUSALS[case]
    first = runs / "shard1" / "report.json"
    other = copy.deepcopy(reports(runs)[0])
    edit(other)
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    out = tmp_path / "merged.json"
    assert merge.main(["merge", f"--out={out}", str(first), str(path)]) == 4
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {path}: "), err
    assert expected.format(first=first) in err[0]
    assert not out.exists()  # nothing written


def test_merge_refuses_a_file_that_is_not_a_report(runs, tmp_path, capsys):
    bad = tmp_path / "junit.xml"
    bad.write_text("<testsuites/>")
    assert merge.main(["merge", f"--out={tmp_path / 'm.json'}", str(runs / "shard1" / "report.json"), str(bad)]) == 4
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {bad}: not a JSON report"), err


def test_the_claims_file_is_found_again_by_its_sha256_and_never_another(runs, tmp_path, capsys):
    moved = []
    for group, report in zip((1, 2), reports(runs), strict=True):  # gated where the claims file was elsewhere
        report["claims_file"]["path"] = "/nowhere/claims.yaml"
        moved.append(tmp_path / f"shard{group}.json")
        moved[-1].write_text(json.dumps(report))
    out = tmp_path / "merged.json"
    assert merge.main(["merge", f"--out={out}", *map(str, moved)]) == 0  # the one shipped with interp: same sha256
    assert json.loads(out.read_text())["claims_file"]["path"] == "/nowhere/claims.yaml"  # as the shards recorded it
    other = tmp_path / "claims.yaml"
    other.write_text("claims: []\n")
    out.unlink()
    assert merge.main(["merge", f"--out={out}", f"--claims={other}", *map(str, moved)]) == 4
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (f"error: {other}: is not here, or not the claims file the shards gated with (sha256 "
                       f"{reports(runs)[0]['claims_file']['sha256'][:12]}): give that file with --claims FILE")
    assert not out.exists()
