"""The tables of docs/claims.md, computed from the reference models (``tests/_references.py``).

``python docs/make_claims_tables.py`` writes them into docs/claims.md between the markers
``<!-- <name>:begin -->`` and ``<!-- <name>:end -->``; ``tests/acceptance/test_thresholds.py``
checks that the file holds what these functions give.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from interp.claims.claim import ClaimsFile
from interp.claims.verdicts import KNOWN_FAIL, NOT_APPLICABLE, PASS, assess
from tests._references import calibration, case_values, reference_names, rule_threshold, run_of


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def thresholds_table(claims: ClaimsFile, reference_path: Path | None) -> str:
    """One row per claim: threshold, its source, the worst value on the positive references (known
    failures left out), the nearest value on a negative reference, and the rule's threshold."""
    lines = ["| claim | threshold | source | worst positive reference | nearest negative reference | rule gives |",
             "|---|---|---|---|---|---|"]
    for claim in claims.claims:
        numbers = calibration(claim, claims, reference_path)
        pos, neg = numbers["worst_positive"], numbers["nearest_negative"]
        rule = rule_threshold(pos[1], neg[1]) if pos and neg and claim.threshold_source == "calibrated" else None
        lines.append(
            f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {claim.threshold_source or '–'} | "
            + (f"{_number(pos[1])} ({pos[2]})" if pos else "–") + " | "
            + (f"{_number(neg[1])} ({neg[2]})" if neg else "–") + " | "
            + ("–" if rule is None else f"{claim.op} {rule:g}") + " |")
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
    mark = ("n/a" if NOT_APPLICABLE in statuses else "✓" if statuses == {PASS} else
            "✗ known" if statuses <= {PASS, KNOWN_FAIL} else "✗")
    count = f" {sum(v.status == PASS for v in verdicts)}/{len(verdicts)}" if len(verdicts) > 1 else ""
    return f"{_number(worst.value)} {mark}{count}"


def values_table(claims: ClaimsFile, reference_path: Path | None, architecture: str) -> str:
    """Each claim's worst case on every reference model of one architecture."""
    names = [n for n in reference_names() if run_of(n, reference_path).architecture == architecture]
    lines = ["| claim | threshold | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for claim in claims.claims:
        cells = [_cell(claim, claims, run_of(n, reference_path)) for n in names]
        lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


GATED = {"reference": "reference MLP", "mlp-50000": "bundled MLP", "transformer-add-15000": "transformer, add",
         "transformer-sub-25000": "transformer, sub"}


def verdicts_table(claims: ClaimsFile, reference_path: Path | None, models: dict[str, str]) -> str:
    """The README's table: each claim's verdict and worst value on the models a user would gate."""
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


def tables(claims: ClaimsFile, reference_path: Path | None) -> dict[str, str]:
    """The blocks of docs/claims.md."""
    return {"thresholds": thresholds_table(claims, reference_path),
            "values-mlp": values_table(claims, reference_path, "mlp"),
            "values-transformer": values_table(claims, reference_path, "transformer")}


def readme_tables(claims: ClaimsFile, reference_path: Path | None) -> dict[str, str]:
    """The blocks of README.md."""
    return {"verdicts": verdicts_table(claims, reference_path, GATED)}


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each ``<!-- name:begin -->...<!-- name:end -->`` block holding ``blocks[name]``."""
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise KeyError(f"docs/claims.md has no block {name!r}")
        text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text
