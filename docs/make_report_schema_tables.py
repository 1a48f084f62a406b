"""Regenerate the field tables of docs/report-schema.md from the shipped JSON Schema of the report
(``interp/schemas/report.schema.json``, itself generated from the report's models by
``python -m interp.schemas``):

    python docs/make_report_schema_tables.py

``tests/unit/test_schemas.py`` fails when the document no longer holds what this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests._tables import replace_blocks  # noqa: E402  (the one block writer of every generated doc)

DOC = ROOT / "docs" / "report-schema.md"
SCHEMA = ROOT / "interp" / "schemas" / "report.schema.json"
TABLES = {"report-fields": "OneCheckpointReport", "row-fields": "ClaimRow"}  # block: the schema's definition


def type_of(prop: dict) -> str:
    """A property's type in words: ``integer``, ``number or null``, ``list of string``, an enum's
    values, or the name of the object it refers to."""
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " or ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    if "$ref" in prop:
        return "object (" + prop["$ref"].rsplit("/", 1)[-1] + ")"
    if "anyOf" in prop:
        return " or ".join(type_of(p) for p in prop["anyOf"])
    kind = prop.get("type", "any")
    if kind == "array":
        return f"list of {type_of(prop.get('items', {}))}"
    if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
        return f"mapping of {type_of(prop['additionalProperties'])}"
    return kind


def table(schema: dict, name: str) -> str:
    """One definition's fields, in the report's order: name, type, whether it is always there, and
    what it means (the field's description)."""
    definition = schema["$defs"][name]
    required = set(definition.get("required", ()))
    lines = ["| field | type | present | meaning |", "|---|---|---|---|"]
    for field, prop in definition["properties"].items():
        meaning = prop.get("description", "").replace("|", "\\|")
        lines.append(f"| `{field}` | {type_of(prop)} | {'always' if field in required else 'where it applies'} "
                     f"| {meaning} |")
    return "\n".join(lines)


def blocks() -> dict[str, str]:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return {block: table(schema, name) for block, name in TABLES.items()}


if __name__ == "__main__":
    DOC.write_text(replace_blocks(DOC.read_text(encoding="utf-8"), blocks()), encoding="utf-8")
    print(f"wrote {DOC}", file=sys.stderr)
