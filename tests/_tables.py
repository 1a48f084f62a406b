"""The tables of docs/claims.md and README.md, computed from the reference models
(``tests/_references.py``).

``python docs/make_claims_tables.py`` writes them into docs/claims.md between the markers
``<!-- <name>:begin -->`` and ``<!-- <name>:end -->``; ``tests/acceptance/test_thresholds.py``
checks that the files hold what these functions give. Every measured value is printed by
:func:`interp.report.format_number` (``< 1e-12`` below :data:`interp.report.NOISE_FLOOR`).

Without the third-party reference checkpoint (``reference_path`` None) the tables leave it out:
no ``reference`` column, and the bundled and planted models alone as calibration references.
:func:`without_reference` and :func:`with_reference_from` compare and merge such a table with one
that has it.
"""

from __future__ import annotations

import math
import re
from functools import partial
from pathlib import Path

from interp.claims.claim import ClaimsFile
from interp.claims.verdicts import KNOWN_FAIL, NOT_APPLICABLE, NOT_GATED, PASS, assess
from interp.report import format_number
from tests._references import (
    architecture_of,
    calibration,
    case_values,
    placed_by_population,
    reference_names,
    rule_threshold,
    run_of,
)


def _number(value: float | None) -> str:
    return "–" if value is None else format_number(value)


def thresholds_table(claims: ClaimsFile, reference_path: Path | None) -> str:
    """One row per claim: threshold, its source, the worst value on the positive references (known
    failures left out), the nearest value on a negative reference, and the rule's threshold."""
    lines = ["| claim | threshold | source | worst positive reference | nearest negative reference | rule gives |",
             "|---|---|---|---|---|---|"]
    for claim in claims.claims:
        numbers = calibration(claim, claims, reference_path)
        pos, neg = numbers["worst_positive"], numbers["nearest_negative"]
        rule = rule_threshold(pos[1], neg[1]) if pos and neg and claim.threshold_source == "calibrated" else None
        placed = "–" if rule is None else f"{claim.op} {rule:g}"
        if placed_by_population(claim):
            placed += "; population: " + ", ".join(f"{a} {claim.op} {t:g}" for a, t in claim.thresholds.items())
        lines.append(
            f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {claim.threshold_source or '–'} | "
            + (f"{_number(pos[1])} ({pos[2]})" if pos else "–") + " | "
            + (f"{_number(neg[1])} ({neg[2]})" if neg else "–") + " | " + placed + " |")
    return "\n".join(lines)


def _cell(claim, claims: ClaimsFile, run) -> str:
    """The claim's worst case on a run: its value and ✓ (every case holds), ✗ known (the failing
    cases are all recorded known failures of that checkpoint), ✗ (fails), n/a, or –."""
    values = case_values(claim, run)
    if values is None:
        return "–"
    verdicts = [assess(case, run, claims, run.checkpoint.sha256) for case in claim.expand(run.key_freqs)]
    worst = min(verdicts, key=lambda v: -math.inf if v.margin is None or not math.isfinite(v.margin) else v.margin)
    statuses = {v.status for v in verdicts}
    if statuses == {NOT_GATED}:  # measured where the claim does not gate: whether the value holds
        held = sum(v.passed for v in verdicts)
        count = f" {held}/{len(verdicts)}" if len(verdicts) > 1 else ""
        return f"{_number(worst.value)} {'✓' if held == len(verdicts) else '✗'} ng{count}"
    mark = ("n/a" if NOT_APPLICABLE in statuses else "✓" if statuses == {PASS} else
            "✗ known" if statuses <= {PASS, KNOWN_FAIL} else "✗")
    count = f" {sum(v.status == PASS for v in verdicts)}/{len(verdicts)}" if len(verdicts) > 1 else ""
    return f"{_number(worst.value)} {mark}{count}"


def values_table(claims: ClaimsFile, reference_path: Path | None, architecture: str) -> str:
    """Each claim's worst case on every reference model of one architecture."""
    names = [n for n in reference_names(reference_path is not None) if architecture_of(n) == architecture]
    lines = ["| claim | threshold | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for claim in claims.claims:
        cells = [_cell(claim, claims, run_of(n, reference_path)) for n in names]
        lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


GATED = {"reference": "reference MLP", "mlp-50000": "bundled MLP", "transformer-add-15000": "transformer, add",
         "transformer-sub-25000": "transformer, sub"}


def verdicts_table(claims: ClaimsFile, reference_path: Path | None, models: dict[str, str]) -> str:
    """The README's table: each claim's verdict and worst value on the models a user would gate."""
    models = {name: label for name, label in models.items() if name != "reference" or reference_path}
    lines = ["| claim | " + " | ".join(models.values()) + " |", "|---|" + "---|" * len(models)]
    for claim in claims.claims:
        cells = []
        for name in models:
            run = run_of(name, reference_path)
            if case_values(claim, run) is None:
                cells.append("not defined")
                continue
            verdicts = [assess(case, run, claims, run.checkpoint.sha256) for case in claim.expand(run.key_freqs)]
            failing = [v for v in verdicts if v.status != PASS]
            shown = min(verdicts, key=lambda v: v.margin)
            if all(v.status == NOT_GATED for v in verdicts):  # measured, not gated: whether it holds
                missing = [v for v in verdicts if not v.passed]
                cases = ", ".join(f"{v.case.id.split('[')[-1].rstrip(']')} {_number(v.value)}" for v in missing)
                cells.append(f"NOT-GATED: {_number(shown.value)}, " + (
                    "holds" if not missing else f"fails ({cases})" if len(verdicts) > 1 else "fails"))
                continue
            if not failing:
                detail = " (by construction)" if shown.by_construction else (
                    f" ({len(verdicts)} cases)" if len(verdicts) > 1 else "")
                cells.append(f"{_number(shown.value)} PASS{detail}")
            else:
                words = sorted({v.status for v in failing})
                cases = ", ".join(f"{v.case.id.split('[')[-1].rstrip(']')} {_number(v.value)}" for v in failing)
                cells.append(f"**{'/'.join(words)}**: " + (cases if len(verdicts) > 1 else _number(shown.value)))
        lines.append(f"| `{claim.id}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


BLOCKS = {  # block name: (the file that holds it, what writes it)
    "thresholds": ("docs/claims.md", thresholds_table),
    "values-mlp": ("docs/claims.md", partial(values_table, architecture="mlp")),
    "values-transformer": ("docs/claims.md", partial(values_table, architecture="transformer")),
    "verdicts": ("README.md", partial(verdicts_table, models=GATED)),
}


def blocks_of(doc: str, claims: ClaimsFile, reference_path: Path | None) -> dict[str, str]:
    """The generated blocks of one file (``docs/claims.md`` or ``README.md``)."""
    return {name: write(claims, reference_path) for name, (where, write) in BLOCKS.items() if where == doc}


def tables(claims: ClaimsFile, reference_path: Path | None) -> dict[str, str]:
    """The blocks of docs/claims.md."""
    return blocks_of("docs/claims.md", claims, reference_path)


def readme_tables(claims: ClaimsFile, reference_path: Path | None) -> dict[str, str]:
    """The blocks of README.md."""
    return blocks_of("README.md", claims, reference_path)


def block_in(text: str, name: str) -> str:
    """What ``text`` holds between ``<!-- name:begin -->`` and ``<!-- name:end -->``."""
    found = re.search(rf"<!-- {name}:begin -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    if found is None:
        raise KeyError(f"no block {name!r}")
    return found.group(1)


# -- tables with and without the reference -----------------------------------------------------------
REFERENCE_HEADERS = ("reference", GATED["reference"])  # its column in the values and verdicts tables
CITES_REFERENCE = "(reference)"  # how the thresholds table names it as the worst positive


def _rows(table: str) -> list[list[str]]:
    """The cells of a markdown table's rows (the separator line left out)."""
    return [line[2:-2].split(" | ") for i, line in enumerate(table.splitlines()) if i != 1]


def _table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join([lines[0], "|" + "---|" * len(rows[0]), *lines[1:]])


def _reference_column(rows: list[list[str]]) -> int | None:
    return next((i for i, h in enumerate(rows[0]) if h in REFERENCE_HEADERS), None)


def rows_citing_the_reference(table: str) -> set[str]:
    """The first cells (claim ids) of the rows that name the reference as a calibration value."""
    return {row[0] for row in _rows(table)[1:] if any(CITES_REFERENCE in cell for cell in row)}


def without_reference(table: str, rows: set[str] = frozenset()) -> str:
    """The table less its reference column and less the rows whose first cell is in ``rows``: the
    part of a table that does not depend on the reference checkpoint."""
    kept = [row for row in _rows(table) if row[0] not in rows]
    column = _reference_column(kept)
    return _table([row[:column] + row[column + 1:] for row in kept] if column is not None else kept)


def with_reference_from(old: str, new: str) -> str:
    """``new``, a table made without the reference, with the reference's cells kept from ``old``:
    its column, and the rows that cite it (a claim ``old`` lacks gets ``?`` there)."""
    old_rows = {row[0]: row for row in _rows(old)}
    cited, column = rows_citing_the_reference(old), _reference_column(_rows(old))
    merged = []
    for row in _rows(new):
        before = old_rows.get(row[0])
        if row[0] in cited:
            row = before
        elif column is not None:
            row = [*row[:column], before[column] if before else "?", *row[column:]]
        merged.append(row)
    return _table(merged)


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each ``<!-- name:begin -->...<!-- name:end -->`` block holding ``blocks[name]``."""
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise KeyError(f"no block {name!r}")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text
