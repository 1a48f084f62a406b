"""The claims reports: the JSON report (docs/report-schema.md; its model and schema:
:mod:`interp.schemas.report`), the terminal summary table and the sweep table."""

from __future__ import annotations

import json
import math
from pathlib import Path

from interp import algorithm, trace
from interp.checkpoint import write_atomic
from interp.claims.verdicts import FAIL, KNOWN_FAIL, NOT_APPLICABLE, NOT_GATED, PASS, format_value
from interp.schemas.report import SCHEMA_VERSION, report_json

NOISE_FLOOR = 1e-12
"""Values whose magnitude is below this are printed ``< 1e-12`` in every generated table
(docs/claims.md, the README's verdicts, ``--claims-table`` in markdown), so that the tables are
the same bytes on any x86 machine, whatever its BLAS kernel or thread count.

Why 1e-12. The values are computed from float32 activations, and a value that is zero in exact
arithmetic comes out as a square of float32 round-off, which depends on the order of the sums:
the FVE of the planted clock with collapsed phases is 7.51e-19 on one machine and 4.04e-18 on an
AMD EPYC (at most 5.6e-17 over its cases; 4e-31 in float64). A squared round-off at unit scale is
at most about ``(2**-24)**2 = 3.6e-15``; 1e-12 sits more than two orders of magnitude above it,
and four below the smallest value that means something (the clock-form restricted loss of the
transformer at epoch 10,000, 9.65e-09, the same to 3e-8 relative in float32 and float64; Nanda et
al.'s restricted loss there is 1.43e-08).

Rounding. A value is printed with three significant digits (four in the sweep table), but no
digit stands for less than 100 x NOISE_FLOOR (1e-10): noise at the floor's scale moves a value
by at most 1% of its last printed digit, so only a value within 1% of a digit of a rounding
boundary could flip, and ``tests/acceptance/test_tables_are_machine_stable.py`` fails if a
table holds one. The CSV sweep table keeps its numbers as numbers (six significant digits).
"""
FAMILY_ORDER = ("accuracy", "wu", "fve", "activations", "weights", "logits", "neurons",
                "algorithm", "causal", "other")


def totals(rows: list[dict]) -> dict[str, int]:
    """Counts of one checkpoint's rows by verdict: ``claims`` counts the gated ones (every verdict
    but NOT-GATED), ``not_gated`` the others; ``by_construction`` counts the passing claims that
    hold by construction (a subset of ``passed``).

    >>> totals([{"verdict": "PASS", "holds_by_construction": True}, {"verdict": "N/A"}, {"verdict": "NOT-GATED"}])
    {'claims': 2, 'passed': 1, 'failed': 0, 'known_failures': 0, 'not_applicable': 1, 'not_gated': 1, \
'by_construction': 1}
    """
    count = {v: sum(r["verdict"] == v for r in rows) for v in (PASS, FAIL, KNOWN_FAIL, NOT_APPLICABLE, NOT_GATED)}
    return {"claims": len(rows) - count[NOT_GATED], "passed": count[PASS], "failed": count[FAIL],
            "known_failures": count[KNOWN_FAIL], "not_applicable": count[NOT_APPLICABLE],
            "not_gated": count[NOT_GATED],
            "by_construction": sum(r["verdict"] == PASS and bool(r.get("holds_by_construction")) for r in rows)}


def checkpoint_report(target, rows: list[dict], deselected: list[str] | None = None, traced: bool = False,
                      algorithm_entry: dict | None = None) -> dict:
    """One checkpoint's report: identity, architecture, task, shapes, key frequencies, totals,
    every evaluated claim, the claims not defined for its architecture, and the claim cases the
    run did not select."""
    info = target.info
    warning = trace.key_freqs_warning(info)
    ordered = [d["row"] for d in sorted(rows, key=lambda d: d["order"])]
    evaluated = [r for r in ordered if r["verdict"] != "SKIP"]
    dims = {k: info[k] for k in ("p", "d_model", "d_mlp", "n_heads", "d_head") if k in info}
    return {
        "checkpoint": info["checkpoint"],
        **({"entry": info["entry"], "epoch": info["epoch"]} if info["entry"] is not None else {}),
        "sha256": info["sha256"],
        **dims,
        "architecture": info["architecture"],
        "n_layers": info["n_layers"],
        "gated_as": info["gated_as"],
        "format": info["layout"],
        "task": info["task"],
        "task_source": info["task_source"],
        "facts": info["facts"],
        **({"stored": info["stored"]} if info["stored"] else {}),
        "key_freqs": info["key_freqs"],
        "key_freqs_source": info["key_freqs_source"],
        **({"key_freqs_found": info["key_freqs_found"]} if info.get("key_freqs_found") is not None else {}),
        **({"warnings": [warning]} if warning else {}),
        **({"algorithm": algorithm_entry} if algorithm_entry is not None else {}),
        "totals": totals(evaluated),
        "claims": evaluated,
        "not_evaluated": [{"id": r["id"], "reason": r.get("message", "")} for r in ordered if r["verdict"] == "SKIP"],
        **({"deselected": deselected} if traced else {}),
    }


def build_report(state) -> dict:
    traced = state.trace is not None
    reports = [checkpoint_report(t, state.rows.get(t.name, []), trace.deselected(state, t), traced,
                                 state.algorithms.get(t.name)) for t in state.targets]
    options = dict(sorted({**state.options.summary(), **(state.trace.options() if traced else {})}.items()))
    mode = getattr(state, "gate_mode", "population")
    if mode != "population" or getattr(state, "gate_source", "default") != "default":
        options["gate"] = {"value": mode, "source": state.gate_source}
    run = {"gate": mode, **({"claims_file": state.trace.claims_file()} if traced else {}), "options": options,
           **({"notes": list(state.notes)} if state.notes else {})}
    if len(reports) == 1:
        return {"schema_version": SCHEMA_VERSION, **run, **reports[0]}
    return {"schema_version": SCHEMA_VERSION, **run, "checkpoints": reports}


def write_report(state, path: Path) -> None:
    """Write the JSON report atomically (a temporary file, then a rename), through its model
    (:mod:`interp.schemas.report`, from which ``report.schema.json`` is generated): a field the
    model does not define, or a value of the wrong type, stops the writer instead of reaching
    the file."""
    text = json.dumps(report_json(build_report(state)), indent=2, allow_nan=False) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))


def verdict_word(row: dict) -> str:
    """The verdict as the terminal summary prints it (``PASS (by construction)``, ``NOT-GATED
    (holds)``, ...)."""
    if row["verdict"] == NOT_GATED:  # N/A where the model does not solve the task: the value says nothing
        return f"{NOT_GATED} ({'N/A' if row.get('not_applicable') else 'holds' if row['passed'] else 'does not hold'})"
    return row["verdict"] + (" (by construction)" if row.get("holds_by_construction") and row["passed"] else "")


def summary_lines(state, verbose: bool = False) -> list[str]:
    """The terminal table: per checkpoint, every claim grouped by family, failing claims first, one
    line per case. A claim whose cases are all N/A is one line (its worst case), and the reason
    for N/A is printed once per checkpoint; a failing claim's statement is printed once, under its
    first failing case, and what went wrong where the row alone does not say it (drift, a
    non-finite value, a task hint).

    A sweep (several checkpoints) is one line per checkpoint, its counts and its first failing
    claim, then the full table of the last checkpoint only; ``verbose`` (``-v``) prints every
    checkpoint's table."""
    lines = [f"note: {note}" for note in state.notes] + trace.run_lines(state)
    gated = [t for t in state.targets if state.rows.get(t.name)]
    compact = len(gated) > 1 and not verbose
    if compact:
        lines.append(f"{len(gated)} checkpoints: one line each, then the last one's table, a line per claim "
                     "(-v: every table, every case)")
        lines.extend(_checkpoint_line(t, state.rows[t.name]) for t in gated)
        gated = gated[-1:]
    for target in gated:
        data = state.rows[target.name]
        rows = [dict(d["row"], order=d["order"]) for d in data]
        evaluated = [r for r in rows if r["verdict"] != "SKIP"]
        t = totals(evaluated)
        extra = _count_words(t)
        skipped = len(rows) - len(evaluated)
        info = target.info
        architecture = info["architecture"]
        extra += [f"{skipped} not defined for the {architecture}"] if skipped else []
        lines.append(f"{target.name} ({info['layout']}: {architecture}, task {info['task']}, sha256 "
                     f"{info['sha256'][:12]}, p={info['p']}, key freqs {info['key_freqs']} "
                     f"[{info['key_freqs_source']}]): {t['passed']} of {t['claims']} claims hold"
                     + (f"; {', '.join(extra)}" if extra else ""))
        lines.extend(trace.checkpoint_lines(state, target))
        if target.name in state.algorithms:
            lines.append(f"  {algorithm.line(state.algorithms[target.name])}")
        for reason in dict.fromkeys(r["not_applicable"] for r in rows if r["verdict"] == NOT_APPLICABLE):
            lines.append(f"  N/A (not applicable, counted as failing): {reason}")
        not_gated = {r["id"].split("[")[0] for r in rows if r["verdict"] == NOT_GATED}
        if not_gated:
            lines.append(f"  NOT-GATED (measured, not counted): claims not gated on {info['gated_as']}: the "
                         f"calibration population does not bear them out there, or has no such models (docs/claims.md)"
                         + (f"; {len(not_gated)} claims, listed with -v or in --claims-report" if compact else ""))
        lines.append(f"  {'claim':<28} {'value':>12} {'threshold':>12} {'margin':>10}  verdict")
        group, explained = None, set()
        shown = [r for r in rows if not (compact and r["verdict"] == NOT_GATED)]
        for row in _collapse_not_applicable(shown, every_verdict=compact):
            heading = {FAIL: "FAILING: ", KNOWN_FAIL: "FAILING: ", NOT_APPLICABLE: "NOT APPLICABLE: ",
                       NOT_GATED: "NOT GATED: "}.get(row["verdict"], "") + row["family"]
            if heading != group:
                group = heading
                lines.append(f"  -- {group}")
            value = "" if row["value"] is None else format_value(row["value"])
            margin = "" if row["margin"] is None else f"{row['margin'] + 0.0:+.4f}"
            lines.append(f"  {row['id']:<28} {value:>12} {row['op']:>2} {row['threshold']:<9.6g} "
                         f"{margin:>10}  {verdict_word(row)}")
            base = row["id"].split("[")[0]
            if row["verdict"] in (FAIL, KNOWN_FAIL) and base not in explained:
                explained.add(base)
                lines.append(f"  {'':<4}{row['statement']}")
            if row["verdict"] in (FAIL, "SKIP") and row.get("message"):
                lines.append(f"  {'':<4}{row['message']}")
    return lines


def _count_words(t: dict[str, int], short: bool = False) -> list[str]:
    """The non-zero counts besides the passing ones, in words."""
    labels = (("failed", "failed"), ("not_applicable", "N/A" if short else "not applicable"),
              ("known_failures", "known failure"),
              ("not_gated", "not gated" if short else "measured but not gated on this architecture"))
    return [f"{t[k]} {label}" + ("s" if k == "known_failures" and t[k] > 1 else "") for k, label in labels if t[k]]


def _checkpoint_line(target, data: list[dict]) -> str:
    """One checkpoint of a sweep in one line: its counts, and its first failing claim (table
    order: failing before N/A, then by family).

    The line reads ``<name>: <passed> of <gated> hold[; counts][; first failing: <case> <value> <op> <threshold>]``.
    """
    rows = [dict(d["row"], order=d["order"]) for d in data]
    evaluated = [r for r in rows if r["verdict"] != "SKIP"]
    t = totals(evaluated)
    line = f"  {target.name}: {t['passed']} of {t['claims']} hold"
    counts = _count_words(t, short=True)
    line += f"; {', '.join(counts)}" if counts else ""
    failing = [r for r in _collapse_not_applicable(evaluated) if r["verdict"] in (FAIL, NOT_APPLICABLE)]
    if failing:
        r = failing[0]
        value = "" if r["value"] is None else f" {format_value(r['value'])}"
        word = " (N/A)" if r["verdict"] == NOT_APPLICABLE else ""
        line += f"; first failing: {r['id']}{value} {r['op']} {r['threshold']:g}{word}"
    return line


def folded(cases: list[dict], every_verdict: bool = False) -> list[dict]:
    """One claim's rows: one row, ``<id>[*] (n cases)``, carrying the worst case's value, when they
    are all N/A or all NOT-GATED (a NOT-GATED one holds if every case does), or, with
    ``every_verdict``, all of any one verdict; else as they are."""
    verdicts = {r["verdict"] for r in cases}
    if len(cases) < 2 or len(verdicts) > 1 or not (every_verdict or verdicts & {NOT_APPLICABLE, NOT_GATED}):
        return cases
    worst = min(cases, key=lambda r: -math.inf if r["margin"] is None else r["margin"])
    return [dict(worst, id=f"{worst['id'].split('[')[0]}[*] ({len(cases)} cases)",
                 passed=all(r["passed"] for r in cases))]


def _collapse_not_applicable(rows: list[dict], every_verdict: bool = False) -> list[dict]:
    """Rows in table order (failing first, then by family and claim order), each claim's cases
    :func:`folded`."""
    by_claim: dict[str, list[dict]] = {}
    for row in rows:
        by_claim.setdefault(row["id"].split("[")[0], []).append(row)
    out = [row for cases in by_claim.values() for row in folded(cases, every_verdict)]
    rank = {FAIL: 0, KNOWN_FAIL: 0, NOT_APPLICABLE: 1, PASS: 2, NOT_GATED: 3}
    return sorted(out, key=lambda r: (rank.get(r["verdict"], 3), _family_rank(r["family"]), r["order"]))


def _family_rank(family: str) -> int:
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def run_names(targets) -> dict[str, str] | None:
    """Per checkpoint name, the run it belongs to (its directory's name) when the checkpoints come
    from several run directories (a folder of runs: a population of seeds, a sweep); else None."""
    if len({t.path.parent for t in targets}) < 2:
        return None
    return {t.name: t.path.parent.name for t in targets}


def sweep_table(state) -> tuple[list[str], list[dict]]:
    """Per checkpoint (run by run for a folder of runs, in each run by epoch, else by name) and
    per claim of the claims file: the worst value over its expanded cases (the smallest margin),
    whether all of them hold, how many, and whether the claim was not applicable there (its
    measured value is still shown; it does not hold). Claims not defined for a checkpoint's
    architecture leave the cell empty. Each row names its ``run`` when there are several."""
    claim_ids = [c.id for c in state.claims.claims]
    runs = run_names(state.targets)
    run_order = {} if runs is None else {r: i for i, r in enumerate(dict.fromkeys(runs.values()))}
    targets = sorted(state.targets, key=lambda t: (run_order.get((runs or {}).get(t.name), 0),
                                                   t.epoch is None, t.epoch or 0, t.name))
    table = []
    for target in targets:
        rows = state.rows.get(target.name)
        if not rows:
            continue
        cells = {}
        for claim_id in claim_ids:
            cases = [d["row"] for d in rows
                     if d["row"]["id"].split("[")[0] == claim_id and d["row"]["verdict"] != "SKIP"]
            if cases:
                worst = min(cases, key=lambda r: -math.inf if r["margin"] is None else r["margin"])
                held = [r["verdict"] == PASS or (r["verdict"] == NOT_GATED and r["passed"]) for r in cases]
                cells[claim_id] = {"value": worst["value"], "passed": all(held), "n_passed": sum(held), "n": len(cases),
                                   "not_applicable": any(r["verdict"] == NOT_APPLICABLE or r.get("not_applicable")
                                                         for r in cases),
                                   "not_gated": any(r["verdict"] == NOT_GATED for r in cases)}
        row = {"checkpoint": target.name, "epoch": target.epoch, "cells": cells}
        table.append(row if runs is None else {"run": runs[target.name], **row})
    return [c for c in claim_ids if any(c in r["cells"] for r in table)], table


def first_holds(columns: list[str], table: list[dict]) -> dict[str, str]:
    """Per claim: the first checkpoint where it holds, and whether it holds from there on (over
    the rows given: one run's)."""
    out = {}
    for claim_id in columns:
        held = [r["cells"].get(claim_id, {}).get("passed", False) for r in table]
        if True not in held:
            out[claim_id] = "never"
            continue
        first = held.index(True)
        label = table[first]["checkpoint"] if table[first]["epoch"] is None else f"epoch {table[first]['epoch']}"
        out[claim_id] = label + ("" if all(held[first:]) else " (not kept)")
    return out


def _by_run(table: list[dict]) -> dict[str | None, list[dict]]:
    """The table's rows per run, in order (one group, ``None``, when there is one run)."""
    groups: dict[str | None, list[dict]] = {}
    for r in table:
        groups.setdefault(r.get("run"), []).append(r)
    return groups


def write_table(state, path: Path) -> None:
    """The "progress measures" view as markdown (``.md``) or CSV (``.csv``), written atomically:
    one row per checkpoint, one column per claim, then the epoch at which each claim first holds
    (per run, with a ``run`` column, for a folder of runs)."""
    import csv
    import io

    columns, table = sweep_table(state)
    groups = _by_run(table)
    lead = ["run"] if None not in groups else []
    if path.suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*lead, "checkpoint", "epoch", *(f"{c}{s}" for c in columns for s in ("", " passed"))])
        for run, rows in groups.items():
            for r in rows:
                writer.writerow([*([run] if lead else []), r["checkpoint"], "" if r["epoch"] is None else r["epoch"],
                                 *(x for c in columns for x in (_csv_cell(r["cells"][c]) if c in r["cells"]
                                                                else ("", "")))])
            firsts = first_holds(columns, rows)
            writer.writerow([*([run] if lead else []), "first holds", "",
                             *(x for c in columns for x in (firsts[c], ""))])
        text = buffer.getvalue()
    else:
        def cell(c: dict) -> str:
            count = f" {c['n_passed']}/{c['n']}" if c["n"] > 1 else ""
            mark = "n/a" if c["not_applicable"] else ("✓" if c["passed"] else "✗") + (" ng" if c["not_gated"] else "")
            return f"{_short(c['value'])} {mark}{count}"

        head = "".join(f"{x} | " for x in lead)
        lines = [f"| {head}checkpoint | epoch | " + " | ".join(columns) + " |",
                 "|" + "---|" * (len(lead) + 2 + len(columns))]
        for run, rows in groups.items():
            first = "".join(f"{run} | " for _ in lead)
            for r in rows:
                lines.append(f"| {first}{r['checkpoint']} | {'' if r['epoch'] is None else r['epoch']} | " + " | ".join(
                    cell(r["cells"][c]) if c in r["cells"] else "" for c in columns) + " |")
            firsts = first_holds(columns, rows)
            lines.append(f"| {first}**first holds** | | " + " | ".join(firsts[c] for c in columns) + " |")
        text = "\n".join(lines) + "\n\nEach cell: the claim's worst value over its cases (per key frequency and "
        text += ("term), ✓ if every case holds, and how many hold; n/a: not applicable, the model does not solve "
                 "the task (the value is measured, the claim does not hold); ng: measured, not gated on this "
                 "architecture.\n")
    write_atomic(path, lambda tmp: tmp.write_text(text))


def format_number(value: float, digits: int = 3) -> str:
    """A measured value as the generated tables print it: ``< 1e-12`` below :data:`NOISE_FLOOR`,
    else ``digits`` significant digits, fewer where a digit would stand for less than 100 x
    NOISE_FLOOR.

    >>> [format_number(v) for v in (0.98241, 24.1016, 3.1e-4, 1.4857e-06, 9.65496e-09, 2.318e-10)]
    ['0.982', '24.1', '0.00031', '1.49e-06', '9.7e-09', '2e-10']
    >>> format_number(7.51e-19), format_number(-4.04e-18), format_number(0.0), format_number(float("nan"))
    ('< 1e-12', '< 1e-12', '< 1e-12', 'nan')
    """
    if not math.isfinite(value):
        return str(value)
    if abs(value) < NOISE_FLOOR:
        return f"< {NOISE_FLOOR:g}"
    above = math.floor(math.log10(abs(value) / NOISE_FLOOR)) - 1  # digits down to 100 x the floor
    return f"{value:.{max(1, min(digits, above))}g}"


def _short(value: float | None) -> str:
    return "nan" if value is None else format_number(value, 4)


def _csv_cell(cell: dict) -> tuple[str, str]:
    return ("" if cell["value"] is None else f"{cell['value']:.6g}",
            "n/a" if cell["not_applicable"] else str(cell["passed"]) + (" (not gated)" if cell["not_gated"] else ""))


if __name__ == "__main__":  # python -m interp.report merge ... (interp.merge)
    import sys

    from interp.merge import main

    sys.exit(main())
