"""The claims suite as a user runs it: pytest from another directory, with the plugin's options."""

import json

import pytest

from interp import run as run_module
from interp.arch.mlp import MLP
from interp.checkpoint import save_checkpoint

N_KEY = 13  # key frequencies the rule finds on the reference (SPEC)


@pytest.fixture
def report_of(pytester):
    """Run the suite in-process on some checkpoints; return (outcome, parsed JSON report)."""

    def run(*args: str):
        out = pytester.path / "report.json"
        result = pytester.runpytest_inprocess(*args, "--claims-report", str(out), "-p", "no:cacheprovider")
        return result, json.loads(out.read_text()) if out.exists() else None

    return run


def test_selecting_by_keyword_runs_exactly_the_per_frequency_claims(pytester, reference_path):
    result = pytester.runpytest_inprocess(f"--checkpoint={reference_path}", "-k", "fve", "--co", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert len(ids) == 2 * N_KEY
    assert any(i.endswith("::fve[k17-sin]") for i in ids)
    assert all("::fve[k" in i for i in ids)


def test_report_holds_the_seed_numbers(report_of, reference_path):
    result, report = report_of(f"--checkpoint={reference_path}")
    assert result.ret == 0  # the one refuted claim is a known failure of exactly this checkpoint
    result.assert_outcomes(passed=len(report["claims"]) - 1, xfailed=1)
    assert {k: report[k] for k in ("p", "d_model", "d_mlp", "key_freqs_source")} == {
        "p": 113, "d_model": 128, "d_mlp": 512, "key_freqs_source": "auto"}
    rows = {r["id"]: r for r in report["claims"]}
    assert rows["wu-key-norm-ratio"]["value"] == pytest.approx(0.982413, abs=1e-6)
    assert rows["fve[k35-sin]"]["passed"] is False
    assert "known_failure" in rows["fve[k35-sin]"]
    assert rows["fve[k35-sin]"]["params"] == {"freq": 35, "term": "sin"}
    assert rows["pre-relu-linear"]["holds_by_construction"] is True
    for row in rows.values():
        assert set(row) >= {"id", "metric", "params", "value", "op", "threshold", "passed"}


def test_model_runs_once_per_checkpoint(pytester, reference_path, tmp_path):
    other = tmp_path / "other.pt"
    save_checkpoint(MLP.random(17, 8, 24, seed=3), other)
    before = run_module.FORWARD_CALLS["count"]
    result = pytester.runpytest_inprocess(f"--checkpoint={reference_path}", "-p", "no:cacheprovider", "-q")
    assert result.ret == 0
    assert run_module.FORWARD_CALLS["count"] - before == 1
    before = run_module.FORWARD_CALLS["count"]
    pytester.runpytest_inprocess(f"--checkpoint={reference_path}", f"--checkpoint={other}",
                                 "-p", "no:cacheprovider", "-q")
    assert run_module.FORWARD_CALLS["count"] - before == 2


def test_known_failure_never_excuses_another_checkpoint(report_of, reference_run, tmp_path):
    """The same weights saved again have another sha256: the refuted claim fails outright."""
    copy = tmp_path / "resaved.pt"
    save_checkpoint(reference_run.model, copy)
    result, report = report_of(f"--checkpoint={copy}")
    assert result.ret == 1
    result.assert_outcomes(failed=1, passed=len(report["claims"]) - 1)
    rows = {r["id"]: r for r in report["claims"]}
    assert rows["fve[k35-sin]"]["passed"] is False
    assert "known_failure" not in rows["fve[k35-sin]"]


def test_other_shapes_work_unchanged_and_untrained_fails(report_of, tmp_path):
    path = tmp_path / "untrained_p31.pt"
    save_checkpoint(MLP.random(31, 16, 40, seed=1), path)
    result, report = report_of(f"--checkpoint={path}")
    assert result.ret == 1
    assert (report["p"], report["d_model"], report["d_mlp"]) == (31, 16, 40)
    assert next(r for r in report["claims"] if r["id"] == "test-accuracy")["passed"] is False


def test_pinned_key_freqs(report_of, reference_path):
    _, report = report_of(f"--checkpoint={reference_path}", "--key-freqs", "1,3,17", "-k", "fve")
    assert report["key_freqs"] == [1, 3, 17]
    assert report["key_freqs_source"] == "given"
    assert [r["id"] for r in report["claims"]] == [f"fve[k{k}-{t}]" for k in (1, 3, 17) for t in ("sin", "cos")]


def test_summary_table_and_junit_properties(pytester, reference_path):
    xml = pytester.path / "junit.xml"
    result = pytester.runpytest_inprocess(f"--checkpoint={reference_path}", "-k", "ratio",
                                          f"--junitxml={xml}", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*interp claims*", "*wu-key-norm-ratio*0.982413*> 0.98*PASS*"])
    assert 'name="value" value="0.982413' in xml.read_text()


def test_known_failure_with_a_drifted_value_fails(pytester, reference_path):
    """A record whose value no longer matches the measurement is reported, not silently xfailed."""
    from interp.claims.load import DEFAULT_CLAIMS

    text = DEFAULT_CLAIMS.read_text().replace("value: 0.835319", "value: 0.8")
    claims = pytester.path / "drifted.yaml"
    claims.write_text(text)
    result = pytester.runpytest_inprocess(f"--checkpoint={reference_path}", "--claims", str(claims),
                                          "-k", "k35", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines([
        "*fve[[]k35-sin[]] *0.835319 *> 0.84 *-0.0047  FAIL",
        "*known failure drifted: known_failures records 0.8 for this checkpoint, measured 0.835319*"])
