"""The project's two contracts as JSON Schema, each generated from one set of pydantic models:

* ``claims.schema.json``: a claims file (``claims.yaml``), from
  :class:`interp.schemas.claims_file.ClaimsDocument`, the model the loader validates with;
* ``report.schema.json``: the JSON report (``--claims-report``), from
  :mod:`interp.schemas.report`, the models the report's writer builds it with.

Both files are shipped in the package (``interp/schemas/``). ``python -m interp.schemas`` writes
them again from the models; ``tests/unit/test_schemas.py`` fails if a shipped file differs from
what the models give.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLAIMS_SCHEMA = HERE / "claims.schema.json"
REPORT_SCHEMA = HERE / "report.schema.json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def claims_schema() -> dict:
    """The claims file's JSON Schema, from :class:`interp.schemas.claims_file.ClaimsDocument`."""
    from interp.schemas.claims_file import ClaimsDocument

    return {"$schema": DIALECT, **ClaimsDocument.model_json_schema()}


def report_schema() -> dict:
    """The JSON report's JSON Schema: one checkpoint's report or several checkpoints' (the
    models of :mod:`interp.schemas.report`)."""
    from pydantic import TypeAdapter

    from interp.schemas.report import SCHEMA_VERSION, OneCheckpointReport, SweepReport

    schema = TypeAdapter(OneCheckpointReport | SweepReport).json_schema()
    return {"$schema": DIALECT, "title": f"interp claims report, schema_version {SCHEMA_VERSION}",
            "description": "What pytest --claims-report=OUT.json writes (docs/report-schema.md).", **schema}


def generated() -> dict[Path, str]:
    """Each shipped schema file and the text the models give for it."""
    return {path: json.dumps(make(), indent=2, ensure_ascii=False) + "\n"
            for path, make in ((CLAIMS_SCHEMA, claims_schema), (REPORT_SCHEMA, report_schema))}
