"""The two contracts as JSON Schema: the shipped files equal what their models give, the
project's own files match them, and a standard validator (jsonschema) refuses what the loader
and the writer refuse."""

import copy
import json
import re

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from interp.claims.load import DEFAULT_CLAIMS
from interp.schemas import CLAIMS_SCHEMA, REPORT_SCHEMA, generated
from interp.schemas.__main__ import main
from interp.schemas.report import SCHEMA_VERSION, report_json, report_model
from tests._extras import import_extra
from tests.acceptance.test_bad_inputs import BAD_CLAIMS


@pytest.fixture(scope="module")
def jsonschema():
    return import_extra("jsonschema", "test")


def test_shipped_schemas_equal_what_the_models_give():
    for path, text in generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run python -m interp.schemas"
    assert main(["--check"]) == 0


def test_check_notices_a_stale_schema(tmp_path, monkeypatch):
    """Mutation: a shipped schema that lost a field is reported (and nothing is written)."""
    stale = tmp_path / "claims.schema.json"
    stale.write_text(CLAIMS_SCHEMA.read_text(encoding="utf-8").replace('"threshold_source"', '"source_of"'))
    import interp.schemas as schemas

    monkeypatch.setattr(schemas, "CLAIMS_SCHEMA", stale)
    texts = {stale if path.name == stale.name else path: text for path, text in generated().items()}
    monkeypatch.setattr("interp.schemas.__main__.generated", lambda: texts)
    before = stale.read_text()
    assert main(["--check"]) == 1 and stale.read_text() == before


def test_the_claims_file_names_its_schema_for_editors():
    first = DEFAULT_CLAIMS.read_text(encoding="utf-8").splitlines()[0]
    named = re.fullmatch(r"# yaml-language-server: \$schema=(\S+)", first)
    assert named, first
    assert (DEFAULT_CLAIMS.parent / named.group(1)).resolve() == CLAIMS_SCHEMA.resolve()


def claims_validator(jsonschema):
    schema = json.loads(CLAIMS_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_project_claims_file_matches_the_schema(jsonschema):
    doc = yaml.safe_load(DEFAULT_CLAIMS.read_text(encoding="utf-8"))
    assert list(claims_validator(jsonschema).iter_errors(doc)) == []


# The bad claims files of tests/acceptance/test_bad_inputs.py whose problem a schema can state (the
# rest need the claims' metrics' signatures, or other claims: only the loader sees them).
SCHEMA_STATES = {"empty file", "unknown metric", "misspelt field", "missing threshold", "bad op",
                 "non-numeric threshold", "unknown architecture in gated_on"}


@pytest.mark.parametrize("case", sorted(set(BAD_CLAIMS) - {"YAML syntax error"}))  # that one is no document
def test_schema_refuses_what_it_can_state(jsonschema, case):
    text, _ = BAD_CLAIMS[case]
    doc = yaml.safe_load(text)
    errors = list(claims_validator(jsonschema).iter_errors(doc))
    assert bool(errors) == (case in SCHEMA_STATES), [e.message for e in errors]


def a_report() -> dict:
    """A one-checkpoint report as the writer gives it (through its model)."""
    row = {"id": "test-accuracy", "metric": "accuracy", "params": {"split": "test"}, "value": 1.0, "op": "==",
           "threshold": 1.0, "passed": True, "margin": 0.0, "verdict": "PASS", "statement": "s", "family": "accuracy"}
    return report_json({
        "schema_version": SCHEMA_VERSION, "gate": "population", "options": {},
        "checkpoint": "/x/model.pt", "sha256": "0" * 64, "p": 13, "d_model": 4, "d_mlp": 8, "architecture": "mlp",
        "n_layers": 1, "gated_as": "mlp", "format": "interp-mlp", "task": "add", "task_source": "default",
        "facts": {"p": {"value": 13, "source": "shapes (W_E rows)"}}, "key_freqs": [1, 2],
        "key_freqs_source": "auto",
        "totals": {"claims": 1, "passed": 1, "failed": 0, "known_failures": 0, "not_applicable": 0, "not_gated": 0,
                   "by_construction": 0},
        "claims": [row], "not_evaluated": [], "deselected": []})


BROKEN = {  # a deliberately broken report: what is done to it
    "schema version 4": lambda r: r.update(schema_version=4),
    "no gate": lambda r: r.pop("gate"),
    "unknown gate mode": lambda r: r.update(gate="popluation"),
    "no totals": lambda r: r.pop("totals"),
    "unknown verdict": lambda r: r["claims"][0].update(verdict="OK"),
    "value as text": lambda r: r["claims"][0].update(value="1.0"),
    "a field the schema lacks": lambda r: r["claims"][0].update(confidence=0.9),
    "null where a field is absent": lambda r: r.update(entry=None),
    "both layouts": lambda r: r.update(checkpoints=[]),
}


def test_a_valid_report_passes(jsonschema):
    from tests._reports import report_problem

    report = a_report()
    assert report_problem(report) is None
    assert list(report) == ["schema_version", "gate", "options", "checkpoint", "sha256", "p", "d_model", "d_mlp",
                            "architecture", "n_layers", "gated_as", "format", "task", "task_source", "facts",
                            "key_freqs", "key_freqs_source", "totals", "claims", "not_evaluated", "deselected"]


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_report_fails_the_schema_and_the_writer(jsonschema, case):
    """What CI's validation (tests/conftest.py) and the writer's model both refuse."""
    from tests._reports import report_problem

    report = copy.deepcopy(a_report())
    BROKEN[case](report)
    assert report_problem(report) is not None
    with pytest.raises(ValidationError):
        report_model(report)


def test_the_conftest_check_finds_a_broken_report_file(jsonschema):
    """The session's check (tests/_reports.py) reads files: a broken one among good ones is named.
    Written outside the session's temporary directories, so that the session itself stays green."""
    import tempfile
    from pathlib import Path

    from tests._reports import invalid_reports

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "good.json").write_text(json.dumps(a_report()))
        broken = a_report()
        broken["claims"][0]["verdict"] = "OK"
        (root / "run" / "bad.json").parent.mkdir()
        (root / "run" / "bad.json").write_text(json.dumps(broken))
        (root / "config.json").write_text(json.dumps({"p": 13}))  # not a report: not counted
        count, problems = invalid_reports(root)
    assert count == 2 and len(problems) == 1 and "bad.json: claims/0/verdict" in problems[0], problems
    assert REPORT_SCHEMA.name in {p.name for p in generated()}


def test_report_schema_doc_tables_are_generated_from_the_schema():
    """docs/report-schema.md's field tables are what docs/make_report_schema_tables.py writes."""
    import importlib.util

    from tests._paths import ROOT

    spec = importlib.util.spec_from_file_location("make_tables", ROOT / "docs" / "make_report_schema_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    text = tables.DOC.read_text(encoding="utf-8")
    assert tables.replace_blocks(text, tables.blocks()) == text, "run python docs/make_report_schema_tables.py"


OK = "{id: x, metric: accuracy, op: '>', threshold: 1, claim: c, source: s"
KF = "known_failures:\n- {claim: x, sha256: '" + "0" * 64 + "', value: 0.5, reason: r"
MESSAGES = {  # claims file text: the one line the loader gives (after the file's name)
    "[1, 2]": "expected a mapping with a 'claims' list, got a list",
    "claims: []": "'claims' must be a non-empty list",
    "claims: {a: 1}": "'claims' must be a non-empty list",
    "claims:\n- " + OK + "}\nextra: 1": "unknown top-level key(s) ['extra']; allowed: ['claims', 'known_failures']",
    "claims:\n- 3": "claim #1: expected a mapping, got int",
    "{1: 2}": "unknown top-level key(s) ['1']; allowed: ['claims', 'known_failures']",
    "claims:\n- {1: x, id: x}": "claim 'x': unknown field(s) '1'; allowed: claim, family",
    "claims:\n- " + OK + ", holds_by_construction: true}": "claim 'x': holds_by_construction is no longer",
    "claims:\n- {id: x, metric: accuracy}": "claim 'x': missing field(s) op, threshold, claim, source",
    "claims:\n- {id: 'a b', metric: accuracy, op: '>', threshold: 1, claim: c, source: s}":
        "claim 'a b': id may hold only letters, digits, '-' and '_'",
    "claims:\n- {id: 3, metric: accuracy, op: '>', threshold: 1, claim: c, source: s}":
        "claim #1: id must be a non-empty string",
    "claims:\n- {id: x, metric: accuracy, op: [a], threshold: 1, claim: c, source: s}": "claim 'x': bad op ['a']",
    "claims:\n- {id: x, metric: accuracy, op: '>', threshold: .inf, claim: c, source: s}":
        "claim 'x': threshold must be a finite number, got inf",
    "claims:\n- {id: x, metric: accuracy, op: '>', threshold: true, claim: c, source: s}":
        "claim 'x': threshold must be a finite number, got True",
    "claims:\n- {id: x, metric: accuracy, op: '>', threshold: 1, claim: ' ', source: s}":
        "claim 'x': claim must be a non-empty string",
    "claims:\n- " + OK + ", params: [1]}": "claim 'x': params must be a mapping, got list",
    "claims:\n- " + OK + ", for_each: {split: []}}": "claim 'x': for_each.split must be a non-empty list or 'key_",
    "claims:\n- " + OK + ", for_each: {split: all}}": "claim 'x': for_each.split must be a non-empty list or 'key_",
    "claims:\n- " + OK + ", family: 3}": "claim 'x': family must be a string",
    "claims:\n- " + OK + ", requires: [1]}": "claim 'x': requires must be a claim id or a list of claim ids",
    "claims:\n- " + OK + ", references: [a]}": "claim 'x': references must be a mapping with keys holds and",
    "claims:\n- " + OK + ", references: {holdz: [a]}}": "claim 'x': references must be a mapping with keys holds",
    "claims:\n- " + OK + ", references: {holds: a}}": "claim 'x': references.holds must be a list of model names",
    "claims:\n- " + OK + ", threshold_source: guess}":
        "claim 'x': threshold_source 'guess' not one of ['seed', 'paper', 'exact', 'calibrated']",
    "claims:\n- " + OK + ", gated_on: mlp}": "claim 'x': gated_on must be 'all' or a list of architectures (mlp,",
    "claims:\n- " + OK + ", thresholds: {mpl: 0.5}}": "claim 'x': thresholds names 'mpl' (did you mean 'mlp'?)",
    "claims:\n- " + OK + ", thresholds: {mlp: high}}": "claim 'x': thresholds.mlp must be a finite number, got 'high'",
    "claims:\n- " + OK + ", population_negatives: [piza]}":
        "claim 'x': population_negatives names 'piza' (did you mean 'pizza'?)",
    "claims:\n- " + OK + ", population_negatives: [grokking], population_negatives_on: {groking: [mlp]}}":
        "claim 'x': population_negatives_on names 'groking' (did you mean 'grokking'?)",
    "claims:\n- " + OK + ", population_negatives: [grokking], population_negatives_on: {grokking: [mpl]}}":
        "claim 'x': population_negatives_on.grokking names 'mpl' (did you mean 'mlp'?)",
    "claims:\n- " + OK + ", population_negatives: [grokking], population_negatives_on: {grokking: mlp}}":
        "claim 'x': population_negatives_on.grokking must be a list of architectures",
    "claims:\n- " + OK + ", population_negatives: [grokking], population_negatives_on: [mlp]}":
        "claim 'x': population_negatives_on must be a mapping of kinds to lists of architectures",
    "claims:\n- " + OK + ", population_negatives: [pizza], population_negatives_on: {grokking: [mlp]}}":
        "claim 'x': population_negatives_on names 'grokking', which population_negatives does not",
    "claims:\n- " + OK + "}\n- " + OK.replace("x", "y") + ", params: {freq: 3}}":
        "claim 'y': metric 'accuracy' takes no parameter(s) ['freq']",
    "claims:\n- " + OK + "}\n" + KF + ", extra: 1}": "known_failures #1: needs exactly the fields ['claim', 'reason', "
                                                     "'sha256', 'value'], got ['claim', 'extra', 'reason', 'sha256', "
                                                     "'value']",
    "claims:\n- " + OK + "}\nknown_failures:\n- {claim: x, sha256: abc, value: 0.5, reason: r}":
        "known_failures #1 ('x'): sha256 must be 64 hex characters, got 'abc' (3 characters)",
    "claims:\n- " + OK + "}\n" + KF.replace("0.5", ".nan") + "}": "known_failures #1 ('x'): value must be a finite",
    "claims:\n- " + OK + "}\n" + KF.replace("reason: r", "reason: 3") + "}": "known_failures #1 ('x'): reason must be",
    "claims:\n- " + OK + "}\nknown_failures: {}": "'known_failures' must be a list",
}


@pytest.mark.parametrize("text", sorted(MESSAGES))
def test_each_problem_is_one_line_naming_the_claim_and_the_field(text):
    """The loader's messages through the models: the entry (claim id, else its number), the field
    and the problem, on one line; never pydantic's dump ("validation error", "For further information")."""
    from interp.claims.load import parse_claims
    from interp.errors import ClaimsError

    with pytest.raises(ClaimsError) as info:
        parse_claims(text, "mine.yaml")
    message = str(info.value)
    assert message.startswith("mine.yaml: " + MESSAGES[text]), message
    assert "\n" not in message and "validation error" not in message and "errors.pydantic.dev" not in message


KEYS = st.text(max_size=6) | st.integers(-2, 2) | st.booleans() | st.none()
ANY = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                   lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3), max_leaves=8)
VALID = {"id": "x", "metric": "fve", "for_each": {"freq": "key_freqs", "term": ["sin", "cos"]}, "op": ">",
         "threshold": 0.84, "claim": "c", "source": "s"}


@settings(max_examples=5 * settings().max_examples)
@given(st.dictionaries(KEYS, ANY, max_size=3), st.sampled_from(["claim", "document", "known failure"]))
def test_any_keys_and_values_get_one_line(fragment, where):
    """Found by this test: a key that is not a string (YAML's ``1:``) raised KeyError."""
    from interp.claims.load import parse_claims
    from interp.errors import ClaimsError

    doc = {"claims": [{**VALID, **fragment}]} if where == "claim" else {"claims": [VALID], **fragment}
    if where == "known failure":
        doc = {"claims": [VALID], "known_failures": [{"claim": "x[k1-sin]", **fragment}]}
    try:
        parse_claims(yaml.safe_dump(doc, sort_keys=False), "fuzz.yaml")
    except ClaimsError as exc:
        assert str(exc).startswith("fuzz.yaml") and "\n" not in str(exc), str(exc)
