"""Gate modes (``--gate``, ini ``interp_gate``): which claims decide the exit status.

``population`` gates each claim where the calibration population bears it out; ``seed`` adds the
seed notebook's four claims on one-hidden-layer ReLU MLPs at its thresholds; ``all`` gates every
claim defined for the architecture. Run on the bundled checkpoints, as a user runs the suite."""

import json
import shutil

import pytest

from interp.checkpoint import load_checkpoint, save_checkpoint
from interp.claims.claim import SEED_CLAIMS
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._paths import BUNDLED, FIXTURES

TRANSFORMER = FIXTURES / "transformer" / "add" / "epoch015000.pt"


def _gate(pytester, *args: str) -> tuple[object, dict]:
    out = pytester.path / "report.json"
    out.unlink(missing_ok=True)
    result = pytester.runpytest_inprocess(*args, "--claims-report", str(out), "-p", "no:cacheprovider")
    return result, (json.loads(out.read_text()) if out.exists() else None)


def _verdicts(report: dict) -> dict[str, str]:
    return {row["id"]: row["verdict"] for row in report["claims"]}


@pytest.fixture
def resaved_bundled(tmp_path):
    """The bundled MLP's weights saved again, in another container (safetensors): the same
    model, another sha256, so no known failure of the shipped claims file applies to it."""
    path = tmp_path / "grokked.safetensors"
    save_checkpoint(load_checkpoint(BUNDLED).model, path)
    assert load_checkpoint(path).sha256 != load_checkpoint(BUNDLED).sha256
    return path


def test_seed_gate_fails_a_grokked_mlp_that_the_population_gate_passes(pytester, resaved_bundled):
    result, report = _gate(pytester, f"--checkpoint={resaved_bundled}")
    assert result.ret == 0 and report["gate"] == "population"
    assert {_verdicts(report)[c] for c in _verdicts(report) if c.startswith("fve[")} == {"NOT-GATED"}

    result, report = _gate(pytester, f"--checkpoint={resaved_bundled}", "--gate=seed")
    assert result.ret == 1 and report["gate"] == "seed"
    verdicts = _verdicts(report)
    failing = sorted(c for c, v in verdicts.items() if v == "FAIL")
    # the notebook's "> 84% for each key frequency" is refuted at 23 and 35 on this run, nothing else fails
    assert failing == ["fve[k23-cos]", "fve[k23-sin]", "fve[k35-cos]", "fve[k35-sin]"]
    for claim in SEED_CLAIMS:  # the notebook's four claims now gate the MLP
        cases = [v for c, v in verdicts.items() if c.split("[")[0] == claim]
        assert cases and "NOT-GATED" not in cases, claim
    assert all(v == "NOT-GATED" for c, v in verdicts.items() if c.startswith("fve-signed["))  # not the twin
    assert report["totals"]["failed"] == 4


def test_seed_gate_changes_nothing_on_a_transformer(pytester):
    results = {mode: _gate(pytester, f"--checkpoint={TRANSFORMER}", f"--gate={mode}")[1]
               for mode in ("population", "seed")}
    assert _verdicts(results["population"]) == _verdicts(results["seed"])  # the notebook describes the MLP


def test_all_gates_every_defined_claim(pytester, resaved_bundled):
    result, report = _gate(pytester, f"--checkpoint={resaved_bundled}", "--gate=all")
    assert report["gate"] == "all" and report["totals"]["not_gated"] == 0
    assert result.ret == 1  # the notebook's refuted FVE cases at least, now gated
    assert report["totals"]["claims"] == len(report["claims"])


def test_known_failures_apply_in_every_mode(pytester):
    """The bundled checkpoint's recorded refutations are KNOWN-FAIL under seed, as `pytest` in
    this repository's root runs it, and NOT-GATED under population."""
    result, report = _gate(pytester, f"--checkpoint={BUNDLED}", "--gate=seed")
    assert result.ret == 0
    known = sorted(c for c, v in _verdicts(report).items() if v == "KNOWN-FAIL")
    assert known == ["fve[k23-cos]", "fve[k23-sin]", "fve[k35-cos]", "fve[k35-sin]"]
    recorded = {kf.claim for kf in load_claims(DEFAULT_CLAIMS).known_failures if kf.sha256 == report["sha256"]}
    assert set(known) == recorded


def test_ini_option_sets_the_mode_and_the_option_wins(pytester, resaved_bundled):
    pytester.makeini("[pytest]\ninterp_gate = seed\n")
    result, report = _gate(pytester, f"--checkpoint={resaved_bundled}")
    assert result.ret == 1 and report["gate"] == "seed"
    assert report["options"]["gate"]["source"].startswith("ini interp_gate")
    result.stdout.fnmatch_lines(["gate: seed (ini interp_gate (tox.ini)*"])
    result, report = _gate(pytester, f"--checkpoint={resaved_bundled}", "--gate=population")
    assert result.ret == 0 and report["gate"] == "population"
    assert report["options"]["gate"] == {"value": "population", "source": "option --gate"}


def test_a_misspelt_ini_mode_is_one_line_and_exit_4(pytester, tmp_path):
    pytester.makeini("[pytest]\ninterp_gate = seeds\n")
    shutil.copyfile(BUNDLED, tmp_path / "x.pt")
    result = pytester.runpytest_inprocess(f"--checkpoint={tmp_path / 'x.pt'}", "-p", "no:cacheprovider")
    assert result.ret == 4
    errors = [line for line in result.errlines if "interp_gate" in line]
    assert len(errors) == 1 and "unknown gate mode 'seeds'" in errors[0] and "tox.ini" in errors[0]
