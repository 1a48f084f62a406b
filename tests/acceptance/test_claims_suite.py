"""The claims suite as a user runs it: pytest from another directory, with the plugin's options.

On the bundled checkpoint, except the test of the seed's numbers, which needs the third-party
reference checkpoint."""

import json
import re
import xml.etree.ElementTree as ET

import pytest

from interp import run as run_module
from interp.arch.mlp import MLP
from interp.checkpoint import load_checkpoint, save_checkpoint
from tests._bundled import DRIFTING, N_KEY, claims_gating_everything, claims_with_record, known_failures
from tests._paths import BUNDLED


@pytest.fixture
def report_of(pytester):
    """Run the suite in-process on some checkpoints; return (outcome, parsed JSON report)."""

    def run(*args: str):
        out = pytester.path / "report.json"
        result = pytester.runpytest_inprocess(*args, "--claims-report", str(out), "-p", "no:cacheprovider")
        return result, json.loads(out.read_text()) if out.exists() else None

    return run


def test_selecting_by_keyword_runs_exactly_the_per_frequency_claims(pytester):
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", "-k", "fve", "--co", "-q")
    ids = [line for line in result.outlines if "::" in line]
    assert len(ids) == 2 * 2 * N_KEY  # the seed's fve and its sign-aware twin, (sin, cos) per key frequency
    assert any(i.endswith("::fve[k17-sin]") for i in ids) and any(i.endswith("::fve-signed[k17-sin]") for i in ids)
    assert all("::fve[k" in i or "::fve-signed[k" in i for i in ids)


def test_report_holds_the_seed_numbers(report_of, reference_path):
    result, report = report_of(f"--checkpoint={reference_path}")
    assert result.ret == 0  # the refuted cases (fve and its twin at 35-sin) are NOT-GATED on an MLP
    totals = report["totals"]
    assert totals["passed"] == totals["claims"] and totals["not_gated"] == len(report["claims"]) - totals["claims"]
    result.assert_outcomes(passed=totals["passed"])
    last = result.outlines[-1]  # pytest's last line counts them apart
    assert re.search(rf"\b{totals['not_gated']} not-gated\b", last), last
    assert {k: report[k] for k in ("p", "d_model", "d_mlp", "key_freqs_source")} == {
        "p": 113, "d_model": 128, "d_mlp": 512, "key_freqs_source": "auto"}
    rows = {r["id"]: r for r in report["claims"]}
    assert rows["wu-key-norm-ratio"]["value"] == pytest.approx(0.982413, abs=1e-6)
    assert rows["fve[k35-sin]"]["passed"] is False and rows["fve[k35-sin]"]["verdict"] == "NOT-GATED"
    assert rows["fve[k35-sin]"]["params"] == {"freq": 35, "term": "sin"}
    assert rows["pre-relu-linear"]["holds_by_construction"] is True
    for row in rows.values():
        assert set(row) >= {"id", "metric", "params", "value", "op", "threshold", "passed"}


def test_model_runs_once_per_checkpoint(pytester, tmp_path):
    other = tmp_path / "other.pt"
    save_checkpoint(MLP.random(17, 8, 24, seed=3), other)
    before = run_module.FORWARD_CALLS["count"]
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", "-p", "no:cacheprovider", "-q")
    assert result.ret == 0
    assert run_module.FORWARD_CALLS["count"] - before == 1
    before = run_module.FORWARD_CALLS["count"]
    pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", f"--checkpoint={other}",
                                 "-p", "no:cacheprovider", "-q")
    assert run_module.FORWARD_CALLS["count"] - before == 2


def test_known_failure_never_excuses_another_checkpoint(report_of, tmp_path):
    """The same weights saved again have another sha256: the refuted claims fail outright."""
    copy = tmp_path / "resaved.pt"
    save_checkpoint(load_checkpoint(BUNDLED).model, copy)
    known = known_failures()
    result, report = report_of(f"--checkpoint={copy}", f"--claims={claims_gating_everything(tmp_path)}")
    assert result.ret == 1
    result.assert_outcomes(failed=len(known), passed=len(report["claims"]) - len(known))
    rows = {r["id"]: r for r in report["claims"]}
    for case in known:
        assert rows[case]["verdict"] == "FAIL" and "known_failure" not in rows[case]


def test_other_shapes_work_unchanged_and_untrained_fails(report_of, tmp_path):
    path = tmp_path / "untrained_p31.pt"
    save_checkpoint(MLP.random(31, 16, 40, seed=1), path)
    result, report = report_of(f"--checkpoint={path}")
    assert result.ret == 1
    assert (report["p"], report["d_model"], report["d_mlp"]) == (31, 16, 40)
    assert next(r for r in report["claims"] if r["id"] == "test-accuracy")["passed"] is False


def test_pinned_key_freqs(report_of):
    _, report = report_of(f"--checkpoint={BUNDLED}", "--key-freqs", "1,3,17", "-k", "fve")
    assert report["key_freqs"] == [1, 3, 17]
    assert report["key_freqs_source"] == "given"
    assert [r["id"] for r in report["claims"]] == [f"{c}[k{k}-{t}]" for c in ("fve", "fve-signed") for k in (1, 3, 17)
                                                   for t in ("sin", "cos")]


def test_summary_table_and_junit_properties(report_of, pytester):
    """The measured value, as the report has it, in the summary line and the JUnit property (read
    back as numbers: their last printed digit is the machine's; ``--gate=all``, so that it gates
    whatever the population decides for it)."""
    xml = pytester.path / "junit.xml"
    result, report = report_of(f"--checkpoint={BUNDLED}", "-k", "logits-linear", "--gate=all", f"--junitxml={xml}")
    value = report["claims"][0]["value"]
    line = next(line for line in result.outlines if line.strip().startswith("logits-linear-share"))
    printed = re.fullmatch(r"\s*logits-linear-share\s+(\S+)\s+< \S+\s+\+\S+\s+PASS", line)
    assert printed and float(printed.group(1)) == pytest.approx(value, abs=1e-6), line
    assert any("interp claims" in line for line in result.outlines)
    case = next(c for c in ET.parse(xml).getroot().iter("testcase") if c.get("name") == "logits-linear-share")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert float(properties["value"]) == pytest.approx(value, abs=1e-6)


def test_known_failure_with_a_drifted_value_fails(pytester):
    """A record whose value no longer matches the measurement is reported, not silently xfailed."""
    recorded = known_failures()[DRIFTING]
    claims = claims_with_record(pytester.path, DRIFTING, 0.5)
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", "--claims", str(claims),
                                          "-k", "k23 and not signed", "-p", "no:cacheprovider")
    assert result.ret == 1
    result.assert_outcomes(failed=1, xfailed=1)  # the other case, fve[k23-cos], is still a known failure
    row = next(line for line in result.outlines if line.strip().startswith(DRIFTING))
    value, margin = re.fullmatch(r"\s*\S+\s+(\S+)\s+> 0\.84\s+(\S+)\s+FAIL", row).groups()
    assert float(value) == pytest.approx(recorded, abs=1e-4)
    assert float(margin) == pytest.approx(recorded - 0.84, abs=1e-4)
    drifted = next(line for line in result.outlines if "known failure drifted" in line)
    measured = re.search(r"known_failures records 0\.5 for this checkpoint, measured (\S+);", drifted)
    assert measured and float(measured.group(1)) == pytest.approx(recorded, abs=1e-4), drifted
