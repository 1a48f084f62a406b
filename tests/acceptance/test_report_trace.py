"""A green gate leaves a trace of what it gated (issue 16, item 8): the report records the claims
file (path and sha256), every option that changes a verdict, and the claim cases the run did not
select; ``--key-freqs`` that differ from the model's own are a warning in the summary and the
report."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil

import pytest

from interp.claims.load import DEFAULT_CLAIMS
from tests._bundled import N_KEY
from tests._paths import BUNDLED

QUIET = ("-p", "no:cacheprovider")


def gate(pytester, *args: str) -> tuple[pytest.RunResult, dict]:
    report = pytester.path / "r.json"
    if report.exists():
        report.unlink()
    result = pytester.runpytest_inprocess(*args, f"--claims-report={report}", *QUIET)
    return result, json.loads(report.read_text())


def case_ids(pytester) -> list[str]:
    """Every claim case on the bundled checkpoint, in the claims file's order (``--co``)."""
    result = pytester.runpytest_inprocess(f"--checkpoint={BUNDLED}", "--co", "-q", *QUIET)
    return [line.split("::", 1)[1] for line in result.outlines if "::" in line]


def summary(result: pytest.RunResult) -> list[str]:
    lines = result.outlines
    return lines[next(i for i, line in enumerate(lines) if "interp claims" in line):]


# -- the claims file ---------------------------------------------------------------------------------
def test_the_report_records_the_default_claims_file_and_its_sha256(pytester):
    result, data = gate(pytester, f"--checkpoint={BUNDLED}", "-k", "test-accuracy")
    sha = hashlib.sha256(DEFAULT_CLAIMS.read_bytes()).hexdigest()
    assert data["claims_file"] == {"path": str(DEFAULT_CLAIMS.resolve()), "sha256": sha,
                                   "source": "default (shipped with interp)"}
    assert "claims" not in data["options"] and "key_freqs" not in data["options"]
    lines = [line for line in summary(result) if line.startswith("claims file:")]
    assert lines == [f"claims file: {DEFAULT_CLAIMS.resolve()}, sha256 {sha[:12]}, default (shipped with interp)"]


def test_a_claims_option_is_recorded_with_its_path_and_sha256(pytester):
    mine = pytester.path / "mine.yaml"
    shutil.copyfile(DEFAULT_CLAIMS, mine)
    with mine.open("a", encoding="utf-8") as fh:
        fh.write("# mine\n")  # other bytes, the same claims
    _, data = gate(pytester, f"--checkpoint={BUNDLED}", "--claims=mine.yaml", "-k", "test-accuracy")
    sha = hashlib.sha256(mine.read_bytes()).hexdigest()
    assert sha != hashlib.sha256(DEFAULT_CLAIMS.read_bytes()).hexdigest()
    assert data["claims_file"] == {"path": str(mine.resolve()), "sha256": sha, "source": "option --claims"}
    assert data["options"]["claims"] == {"value": str(mine.resolve()), "source": "option --claims"}


# -- what was not run ----------------------------------------------------------------------------------
def test_keyword_deselection_lists_exactly_the_cases_not_run(pytester):
    every = case_ids(pytester)
    result, data = gate(pytester, f"--checkpoint={BUNDLED}", "-k", "fve")
    ran = [r["id"] for r in data["claims"]] + [r["id"] for r in data["not_evaluated"]]
    assert sum(i.startswith("fve[") for i in ran) == 2 * N_KEY and all("fve" in i for i in ran)
    assert data["deselected"] == [i for i in every if i not in ran]
    assert data["deselected"] and not any("fve" in i for i in data["deselected"])
    n = len(every) - len(ran)
    assert any(line.strip().startswith(f"{n} of {len(every)} claim cases deselected") for line in summary(result))


def test_node_ids_naming_some_claims_deselect_the_others(pytester):
    every = case_ids(pytester)
    named = ("test-accuracy", "fve[k1-sin]")
    _, data = gate(pytester, *(f"{BUNDLED}::{i}" for i in named))
    assert [r["id"] for r in data["claims"]] == list(named)
    assert data["deselected"] == [i for i in every if i not in named]


def test_a_full_run_deselects_nothing_and_says_nothing_of_it(pytester):
    result, data = gate(pytester, f"--checkpoint={BUNDLED}")
    totals = data["totals"]
    assert data["deselected"] == [] and totals["claims"] + totals["not_gated"] == len(data["claims"]) > 0
    assert not any("deselected" in line for line in summary(result))


def test_under_xdist_the_main_process_reports_the_same_deselected_cases(pytester):
    from conftest import require_or_skip  # the project root's: skips, or fails under INTERP_REQUIRE_EXTRAS=1

    if importlib.util.find_spec("xdist") is None:
        require_or_skip("xdist is not installed (the test extra: pip install -e '.[test]')")
    _, serial = gate(pytester, f"--checkpoint={BUNDLED}", "-k", "fve or accuracy")
    result, parallel = gate(pytester, f"--checkpoint={BUNDLED}", "-k", "fve or accuracy", "-n", "2")
    assert parallel["deselected"] == serial["deselected"] != []
    assert [r["id"] for r in parallel["claims"]] == [r["id"] for r in serial["claims"]]
    assert any(line.strip().startswith(f"{len(serial['deselected'])} of ") for line in summary(result))


# -- given key frequencies -------------------------------------------------------------------------------
def test_key_freqs_equal_to_the_found_ones_give_no_warning(pytester):
    _, auto = gate(pytester, f"--checkpoint={BUNDLED}", "-k", "test-accuracy")
    found = auto["key_freqs"]
    assert auto["key_freqs_source"] == "auto" and "key_freqs_found" not in auto and "warnings" not in auto
    result, data = gate(pytester, f"--checkpoint={BUNDLED}", f"--key-freqs={','.join(map(str, found))}",
                        "-k", "test-accuracy")
    assert data["key_freqs"] == data["key_freqs_found"] == found and "warnings" not in data
    assert data["options"]["key_freqs"] == {"value": found, "source": "option --key-freqs"}
    assert not any("WARNING" in line for line in summary(result))


def test_key_freqs_that_differ_from_the_found_ones_are_a_warning_in_the_summary_and_the_report(pytester):
    """Issue 16: every frequency given turns failing FVE cases into passes, with no warning."""
    every = list(range(1, 113 // 2 + 1))
    _, auto = gate(pytester, f"--checkpoint={BUNDLED}", "-k", "test-accuracy")
    result, data = gate(pytester, f"--checkpoint={BUNDLED}", f"--key-freqs={','.join(map(str, every))}",
                        "-k", "fve and k1-")
    assert data["key_freqs"] == every and data["key_freqs_found"] == auto["key_freqs"] != every
    assert len(data["warnings"]) == 1
    for text in (data["warnings"][0], next(line for line in summary(result) if "WARNING" in line)):
        assert "--key-freqs" in text and str(every) in text and str(auto["key_freqs"]) in text
