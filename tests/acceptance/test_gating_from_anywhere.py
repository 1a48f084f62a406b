"""Gating as a user does it: what a run collects, node ids that run again, the two-word form,
claims-file integrity, failures a person can read, and reports for machines."""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from interp import metrics
from interp.arch.mlp import MLP
from interp.checkpoint import save_checkpoint
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._bundled import DRIFTING, N_KEY, claims_gating_everything, claims_with_record, copied_to, known_failures
from tests._paths import BUNDLED, FIXTURES, ROOT
from tests._subprocess import child_env

QUIET = ("-p", "no:cacheprovider")


def collected(result) -> list[str]:
    return [line for line in result.outlines if "::" in line and not line.startswith(("FAILED", "ERROR"))]


def in_project(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``pytest ARGS`` in the project root, in a fresh interpreter, as a user types it there."""
    return subprocess.run([sys.executable, "-m", "pytest", *args, *QUIET], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, env=child_env())


# -- what a run gates --------------------------------------------------------------------------------
def test_pytest_alone_in_the_project_root_gates_the_bundled_checkpoint_only():
    out = in_project("--co", "-q").stdout.splitlines()
    ids = [line for line in out if "::" in line]
    assert ids and all(i.startswith("fixtures/p113/epoch050000.pt::") for i in ids), ids[:3]


def test_keyword_in_the_project_root_selects_exactly_the_claims_fve_items():
    ids = [line for line in in_project("--co", "-q", "-k", "fve").stdout.splitlines() if "::" in line]
    keys = list(range(1, N_KEY + 1))  # the bundled checkpoint's 13 key frequencies, counted, not named
    fve_claims = [c for c in load_claims(DEFAULT_CLAIMS).claims if "fve" in c.id]  # fve and its signed twin
    assert len(ids) == sum(len(c.expand(keys)) for c in fve_claims)  # each: key frequencies x (sin, cos)
    assert all(i.split("::")[1].split("[")[0] in {c.id for c in fve_claims} for i in ids)
    assert all(i.startswith("fixtures/p113/epoch050000.pt::") and "[k" in i for i in ids)


def test_checkpoint_option_without_paths_collects_its_claims_only():
    run_dir = FIXTURES / "p113"
    ids = [line for line in in_project(f"--checkpoint={run_dir / 'epoch000800.pt'}", "--co", "-q").stdout.splitlines()
           if "::" in line]
    assert ids and all(i.startswith("fixtures/p113/epoch000800.pt::") for i in ids)


def test_named_test_paths_still_run_beside_the_claims(pytester):
    pytester.makepyfile(test_mine="def test_mine():\n    assert True\n")
    result = pytester.runpytest_inprocess("test_mine.py", f"--checkpoint={BUNDLED}", "--co", "-q", *QUIET)
    ids = collected(result)
    assert "test_mine.py::test_mine" in ids and any("::test-accuracy" in i for i in ids)


# -- node ids ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("where", ["inside", "outside"])
def test_a_node_id_from_the_output_runs_that_claim_again(pytester, tmp_path_factory, where):
    folder = pytester.path / "runs" if where == "inside" else tmp_path_factory.mktemp("elsewhere")
    folder.mkdir(exist_ok=True)
    path = folder / "model.pt"
    save_checkpoint(MLP.random(13, 8, 24, seed=1), path)
    ids = collected(pytester.runpytest_inprocess(f"--checkpoint={path}", "--co", "-q", *QUIET))
    wanted = next(i for i in ids if i.endswith("::test-accuracy"))  # gated on every architecture
    assert wanted == ("runs/model.pt::test-accuracy" if where == "inside" else f"{path.as_posix()}::test-accuracy")
    again = pytester.runpytest_inprocess(wanted, *QUIET)
    outcomes = again.parseoutcomes()
    assert sum(outcomes.get(k, 0) for k in ("passed", "failed", "xfailed")) == 1, again.outlines


def test_junit_groups_claims_by_checkpoint_and_carries_value_threshold_margin(pytester, tmp_path_factory):
    path = tmp_path_factory.mktemp("elsewhere") / "model.pt"
    save_checkpoint(MLP.random(13, 8, 24, seed=1), path)
    xml = pytester.path / "junit.xml"
    pytester.runpytest_inprocess(f"--checkpoint={path}", f"--junitxml={xml}", "-k", "accuracy or ratio", *QUIET)
    cases = ET.parse(xml).getroot().findall(".//testcase")
    assert {c.get("classname") for c in cases} == {"interp.model"}
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert set(props) == {"value", "threshold", "margin"}, props
        assert math.isfinite(float(props["value"])) and math.isfinite(float(props["margin"]))


# -- the two-word form ---------------------------------------------------------------------------------
def test_two_word_form_that_would_change_the_configuration_stops_with_one_line(pytester, tmp_path_factory):
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n")
    path = tmp_path_factory.mktemp("elsewhere") / "model.pt"
    save_checkpoint(MLP.random(13, 8, 24, seed=1), path)
    result = pytester.runpytest_subprocess("--checkpoint", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1 and f"--checkpoint={path}" in errors[0], result.errlines
    assert "Traceback" not in "\n".join(result.errlines + result.outlines)


def test_two_word_form_that_changes_nothing_just_works(pytester):
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\naddopts = '-p no:cacheprovider'\n")
    (pytester.path / "runs").mkdir()
    save_checkpoint(MLP.random(13, 8, 24, seed=1), pytester.path / "runs" / "model.pt")
    result = pytester.runpytest_subprocess("--checkpoint", "runs/model.pt", "--co", "-q")
    assert result.ret == 0 and any(line.startswith("runs/model.pt::") for line in result.outlines)


# -- claims-file integrity -----------------------------------------------------------------------------
def claims_with(pytester, old: str, new: str):
    """The claims file that records the bundled checkpoint's known failures, ``old`` replaced."""
    text = claims_gating_everything(pytester.path).read_text()
    assert old in text
    path = pytester.path / "claims.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


@pytest.mark.parametrize(("old", "new", "words"), [
    ("- claim: fve[k23-sin]", "- claim: fve[k23-sni]", ["known_failures #1: 'fve[k23-sni]' names no claim case",
                                                         "did you mean 'fve[k23-sin]'?"]),
    ("- claim: fve[k35-cos]\n", "- claim: excluded-los\n", ["'excluded-los' names no claim",
                                                           "did you mean 'excluded-loss'?"]),
    ("sha256: 74cfa630a0d26504f89d969cb47bade0701a9bb74d4bebe9b66d5f7391fa2d83",
     "sha256: 74cfa630a0d26504f89d969cb47bade0701a9bb74d4bebe9b66d5f7391fa2d",
     ["known_failures #1", "64 hex characters", "(62 characters)"]),
])
def test_a_bad_known_failure_is_one_line_naming_the_file_and_entry(pytester, old, new, words):
    path = claims_with(pytester, old, new)
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", f"--claims={path}", *QUIET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.errlines if line.startswith("ERROR:")]
    assert len(errors) == 1 and str(path) in errors[0], result.errlines
    for word in words:
        assert word in errors[0], errors[0]


def test_a_drifted_known_failure_is_a_failure_everywhere(pytester):
    path = claims_with_record(pytester.path, DRIFTING, 0.5)
    report, xml = pytester.path / "r.json", pytester.path / "j.xml"
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", f"--claims={path}", "-k", "k23",
                                          f"--claims-report={report}", f"--junitxml={xml}", *QUIET)
    recorded_as_is = [c for c in known_failures() if "[k23-" in c and c != DRIFTING]  # fve[k23-cos], the twin's
    result.assert_outcomes(failed=1, xfailed=len(recorded_as_is))  # those, recorded as they are, stay known failures
    row = next(r for r in json.loads(report.read_text())["claims"] if r["id"] == DRIFTING)
    assert row["verdict"] == "FAIL" and "known_failure" not in row and "drifted" in row["message"]
    summary = next(line for line in result.outlines if line.strip().startswith(DRIFTING))
    assert summary.rstrip().endswith("FAIL")
    case = next(c for c in ET.parse(xml).getroot().iter("testcase") if c.get("name") == DRIFTING)
    assert case.find("failure") is not None


def test_a_nan_measurement_fails_and_is_never_excused_by_a_known_failure(pytester, monkeypatch):
    """The drift check is math.isclose, false for NaN; without it the strict xfail took a NaN."""
    @functools.wraps(metrics.fve)
    def nan_fve(*args, **kwargs) -> float:
        return math.nan

    monkeypatch.setitem(metrics.METRICS, "fve", nan_fve)
    report = pytester.path / "r.json"
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", "-k", "fve and not signed",
                                          f"--claims={claims_gating_everything(pytester.path)}",
                                          f"--claims-report={report}", *QUIET)
    result.assert_outcomes(failed=2 * N_KEY)
    rows = json.loads(report.read_text())["claims"]
    known = next(r for r in rows if r["id"] == "fve[k35-sin]")
    assert known["verdict"] == "FAIL" and known["value"] is None and "non-finite" in known["message"]


# -- failures a person can read, reports for machines ---------------------------------------------------
def test_each_statement_is_printed_once_per_claim(pytester):
    """The bundled checkpoint has four failing FVE cases (known failures where every claim gates
    it): one statement."""
    claims = claims_gating_everything(pytester.path)
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", f"--claims={claims}", *QUIET)
    text = "\n".join(result.outlines)
    fve_statement = next(c.statement for c in load_claims(DEFAULT_CLAIMS).claims if c.id == "fve")
    assert text.count(fve_statement) == 1
    assert len([line for line in result.outlines if line.strip().startswith("fve[k") and "KNOWN-FAIL" in line]) == 4


@pytest.mark.parametrize("ci", [False, True], ids=["terminal", "ci"])
def test_a_model_where_most_claims_fail_prints_one_line_per_claim(pytester, monkeypatch, ci):
    """All but one claim N/A: their cases fold into one row per claim, the reason printed once,
    and no FAILURES section (each failing item is one line of pytest's short summary). With CI
    set, pytest prints summary lines whole, so each N/A line names only the unmet requirement."""
    monkeypatch.delenv("BUILD_NUMBER", raising=False)
    if ci:
        monkeypatch.setenv("CI", "true")
    else:
        monkeypatch.delenv("CI", raising=False)
    path = pytester.path / "model.pt"
    save_checkpoint(MLP.random(113, 128, 512, seed=56), path)  # untrained, 30 key frequencies
    result = pytester.runpytest_inprocess(f"--checkpoint={path}", *QUIET)
    text = "\n".join(result.outlines)
    assert "FAILURES" not in text and text.count("it describes how a model solves the task") == 1
    summary = [line for line in result.outlines if line.startswith("FAILED ")]
    gating = [claim for claim in load_claims(DEFAULT_CLAIMS).claims if claim.gates("mlp")]
    cases = sum(len(claim.expand(list(range(1, 31)))) for claim in gating)
    assert len(summary) == cases  # every case that gates an MLP fails: test accuracy, the others N/A
    if ci:
        assert all(line.endswith("N/A -- not applicable: test-accuracy 0.008166 == 1 is false")
                   for line in summary if "::test-accuracy " not in line)
    assert any(line.strip().startswith("restricted-loss[*] (2 cases)") for line in result.outlines)
    n_claims = len(load_claims(DEFAULT_CLAIMS).claims)  # one folded row per claim, one summary line per case
    # 380 at 80 cases before folding (issue 10's closing note); since issue 16 the NOT-GATED claims
    # are folded too, one row each, under headings of their own
    assert len(result.outlines) < cases + 2 * n_claims + 30


def test_report_rows_carry_margin_statement_family_and_totals(pytester):
    report = pytester.path / "r.json"
    pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", f"--claims-report={report}", *QUIET)
    data = json.loads(report.read_text())
    assert data["schema_version"] == 5 and data["gate"] in ("population", "seed", "all")
    assert {"checkpoint", "sha256", "p", "d_model", "d_mlp", "key_freqs", "key_freqs_source", "claims",
            "architecture", "task", "totals", "format", "facts", "options"} <= set(data)
    assert data["format"] == "interp-mlp" and data["facts"]["split"]["value"] == "project"
    t = data["totals"]
    assert t["passed"] + t["failed"] + t["known_failures"] + t["not_applicable"] == t["claims"]
    assert t["claims"] + t["not_gated"] == len(data["claims"]) and t["not_gated"] > 0
    assert t["known_failures"] == 0 and t["by_construction"] == 1  # pre-relu-linear
    assert data["algorithm"]["algorithm"] == "undetermined"  # its gradient symmetricity is fixed (1)
    for row in data["claims"]:
        assert {"id", "metric", "params", "value", "op", "threshold", "passed", "margin", "statement", "family",
                "verdict"} <= set(row)


def test_interp_fixtures_work_in_a_users_own_test_and_fail_clearly_without_a_checkpoint(pytester):
    pytester.makepyfile(test_mine="""
        def test_uses_the_run(interp_run, interp_session):
            assert interp_run.p == 113 and interp_session.targets[0].run is interp_run
            assert interp_run.predictions.shape == (113 * 113,)
    """)
    result = pytester.runpytest_inprocess("test_mine.py", f"--checkpoint={BUNDLED}", "-k", "uses_the_run", *QUIET)
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_inprocess("test_mine.py", *QUIET)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the interp fixtures need a checkpoint: run pytest with --checkpoint=PATH*"])


# -- tasks ---------------------------------------------------------------------------------------------
GROKKED_ADD = FIXTURES / "transformer" / "add" / "epoch015000.pt"


def test_the_task_comes_from_the_option_else_the_metadata_else_add(pytester):
    copy = pytester.path / "no-metadata.pt"
    copy.write_bytes(GROKKED_ADD.read_bytes())
    for args, task, source in (([f"--checkpoint={GROKKED_ADD}"], "add", f"file ({GROKKED_ADD.stem}.json)"),
                               ([f"--checkpoint={GROKKED_ADD}", "--task=sub"], "sub", "option --task"),
                               ([f"--checkpoint={copy}"], "add", "default")):
        report = pytester.path / "r.json"
        pytester.runpytest_inprocess(*args, "-k", "test-accuracy", f"--claims-report={report}", *QUIET)
        data = json.loads(report.read_text())
        assert (data["architecture"], data["task"], data["task_source"]) == ("transformer", task, source)


def test_a_model_gated_under_the_other_task_gets_a_hint_not_a_switch(pytester):
    report = pytester.path / "r.json"
    result = pytester.runpytest_inprocess(f"--checkpoint={GROKKED_ADD}", "--task=sub", "-k", "test-accuracy",
                                          f"--claims-report={report}", *QUIET)
    result.assert_outcomes(failed=1)
    row = json.loads(report.read_text())["claims"][0]
    assert row["value"] < 0.1 and row["verdict"] == "FAIL"
    assert "test accuracy under task 'add' is 1.000: was it trained on add? (gate it with --task add)" in row["message"]
    assert any("gate it with --task add" in line for line in result.outlines)


def test_in_the_project_root_the_two_word_form_is_one_line_not_a_wall_of_errors(tmp_path):
    """The observed case: a path outside the project made pytest skip pyproject.toml, and 67
    unrelated errors followed. Inside the project the two-word form changes nothing and works."""
    elsewhere = copied_to(tmp_path)
    outside = in_project("--checkpoint", str(elsewhere))
    assert outside.returncode == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in outside.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and f"--checkpoint={elsewhere}" in errors[0], outside.stderr
    assert "Traceback" not in outside.stdout + outside.stderr
    inside = in_project("--checkpoint", "fixtures/p113/epoch000800.pt", "--co", "-q")
    assert inside.returncode == 0
    first = next(line for line in inside.stdout.splitlines() if "::" in line)
    assert first.startswith("fixtures/p113/epoch000800.pt::")
