"""The project's two contracts as JSON Schema, each generated from one set of pydantic models:

* ``claims.schema.json``: a claims file (``claims.yaml``), from
  :class:`interp.schemas.claims_file.ClaimsDocument`, the model the loader validates with;
* ``report.schema.json``: the JSON report (``--claims-report``), from
  :mod:`interp.schemas.report`, the models the report's writer builds it with.

Both files are shipped in the package (``interp/schemas/``). ``python -m interp.schemas`` writes
them again from the models; ``tests/unit/test_schemas.py`` fails if a shipped file differs from
what the models give.
"""
