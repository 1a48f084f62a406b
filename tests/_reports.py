"""Every JSON report a test writes is checked against the shipped schema
(``interp/schemas/report.schema.json``) with ``jsonschema``, a validator that knows nothing of the
models the writer uses: ``tests/conftest.py`` runs :func:`invalid_reports` over the session's
temporary directories when the session ends."""

from __future__ import annotations

import json
from pathlib import Path

from interp.schemas import REPORT_SCHEMA


def validator():
    """A Draft 2020-12 validator of the shipped report schema (the ``test`` extra's jsonschema)."""
    import jsonschema

    schema = json.loads(REPORT_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def report_problem(data: object, check=None) -> str | None:
    """None if ``data`` is a valid report, else the most relevant error, as one line with where it is."""
    import jsonschema

    error = jsonschema.exceptions.best_match((check or validator()).iter_errors(data))
    if error is None:
        return None
    where = "/".join(map(str, error.absolute_path)) or "(top level)"
    return f"{where}: {error.message[:300]}"


def is_report(path: Path) -> dict | None:
    """The file's data if it is one of this project's JSON reports (a mapping with ``schema_version``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and "schema_version" in data else None


def invalid_reports(root: Path) -> tuple[int, list[str]]:
    """How many reports lie under ``root``, and ``<file>: <problem>`` for each that the schema refuses."""
    check, count, problems = validator(), 0, []
    for path in sorted(root.rglob("*.json")):
        data = is_report(path) if path.is_file() else None
        if data is None:
            continue
        count += 1
        problem = report_problem(data, check)
        if problem is not None:
            problems.append(f"{path}: {problem}")
    return count, problems
