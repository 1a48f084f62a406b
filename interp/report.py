"""The claims report: a JSON file (schema in SPEC, Interface) and the terminal summary table."""

from __future__ import annotations

import json
from pathlib import Path

from interp.checkpoint import write_atomic

FAMILY_ORDER = ("accuracy", "wu", "fve", "activations", "weights", "logits", "neurons",
                "algorithm", "causal", "other")


def margin(value: float, op: str, threshold: float) -> float:
    """How far ``value`` is on the passing side of ``threshold`` (negative: failing).

    >>> margin(0.9, ">", 0.84), margin(0.5, "<", 1.0), margin(0.99, "==", 1.0)
    (0.06000000000000005, 0.5, -0.010000000000000009)
    """
    if op in (">", ">="):
        return value - threshold
    if op in ("<", "<="):
        return threshold - value
    return -abs(value - threshold)


def checkpoint_report(target, rows: list[dict]) -> dict:
    """One checkpoint's report: identity, shapes, key frequencies and every evaluated claim."""
    w = target.checkpoint.weights
    run = target.run
    return {
        "checkpoint": str(target.checkpoint.path),
        "sha256": target.checkpoint.sha256,
        "p": w.p, "d_model": w.d_model, "d_mlp": w.d_mlp,
        "key_freqs": run.key_freqs,
        "key_freqs_source": run.key_freqs_source,
        "claims": [d["row"] for d in sorted(rows, key=lambda d: d["order"])],
    }


def build_report(state) -> dict:
    reports = [checkpoint_report(t, state.rows.get(t.name, [])) for t in state.targets]
    return reports[0] if len(reports) == 1 else {"checkpoints": reports}


def write_report(state, path: Path) -> None:
    """Write the JSON report atomically (a temporary file, then a rename)."""
    text = json.dumps(build_report(state), indent=2) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))


def _verdict(row: dict) -> str:
    if row.get("known_failure"):
        return "KNOWN-FAIL"
    verdict = "PASS" if row["passed"] else "FAIL"
    return verdict + (" (by construction)" if row.get("holds_by_construction") else "")


def summary_lines(state) -> list[str]:
    """The terminal table: per checkpoint, claims grouped by family, failing claims first."""
    lines = []
    for target in state.targets:
        rows = state.rows.get(target.name)
        if not rows:
            continue
        n_fail = sum(not d["row"]["passed"] for d in rows)
        lines.append(f"{target.name} (sha256 {target.checkpoint.sha256[:12]}, p={target.checkpoint.weights.p}, "
                     f"key freqs {target.run.key_freqs} [{target.run.key_freqs_source}]): "
                     f"{len(rows) - n_fail} of {len(rows)} claims hold")
        header = f"  {'claim':<28} {'value':>12} {'threshold':>12} {'margin':>10}  verdict"
        lines.append(header)
        ranked = sorted(rows, key=lambda d: (d["row"]["passed"], _family_rank(d["family"]), d["order"]))
        family = None
        for d in ranked:
            row = d["row"]
            group = d["family"] if row["passed"] else f"FAILING: {d['family']}"
            if group != family:
                family = group
                lines.append(f"  -- {group}")
            m = margin(row["value"], row["op"], row["threshold"]) + 0.0
            lines.append(f"  {row['id']:<28} {_number(row['value']):>12} {row['op']:>2} {row['threshold']:<9.6g} "
                         f"{m:>+10.4f}  {_verdict(row)}")
            if not row["passed"]:
                lines.append(f"  {'':<28} {d['statement']}")
    return lines


def _number(value: float) -> str:
    """Six decimals, or scientific notation for values too small to show that way."""
    return f"{value:.3e}" if value != 0 and abs(value) < 1e-3 else f"{value:.6f}"


def _family_rank(family: str) -> int:
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def sweep_table(state) -> tuple[list[str], list[dict]]:
    """Per checkpoint (in epoch order, else by name) and per claim of the claims file: the worst
    value over its expanded cases (the smallest margin), whether all of them hold, and how many."""
    claim_ids = [c.id for c in state.claims.claims]
    targets = sorted(state.targets, key=lambda t: (t.epoch is None, t.epoch or 0, t.name))
    table = []
    for target in targets:
        rows = state.rows.get(target.name)
        if not rows:
            continue
        cells = {}
        for claim_id in claim_ids:
            cases = [d["row"] for d in rows if d["row"]["id"].split("[")[0] == claim_id]
            if cases:
                worst = min(cases, key=lambda r: margin(r["value"], r["op"], r["threshold"]))
                cells[claim_id] = {"value": worst["value"], "passed": all(r["passed"] for r in cases),
                                   "n_passed": sum(r["passed"] for r in cases), "n": len(cases)}
        table.append({"checkpoint": target.name, "epoch": target.epoch, "cells": cells})
    return [c for c in claim_ids if any(c in r["cells"] for r in table)], table


def first_holds(columns: list[str], table: list[dict]) -> dict[str, str]:
    """Per claim: the first checkpoint where it holds, and whether it holds from there on."""
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


def write_table(state, path: Path) -> None:
    """The "progress measures" view as markdown (``.md``) or CSV (``.csv``), written atomically."""
    import csv
    import io

    columns, table = sweep_table(state)
    firsts = first_holds(columns, table)
    if path.suffix == ".csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["checkpoint", "epoch", *(f"{c}{s}" for c in columns for s in ("", " passed"))])
        for r in table:
            writer.writerow([r["checkpoint"], "" if r["epoch"] is None else r["epoch"], *(
                x for c in columns for x in (
                    (f"{r['cells'][c]['value']:.6g}", r["cells"][c]["passed"]) if c in r["cells"] else ("", "")))])
        writer.writerow(["first holds", "", *(x for c in columns for x in (firsts[c], ""))])
        text = buffer.getvalue()
    else:
        def cell(c: dict) -> str:
            count = f" {c['n_passed']}/{c['n']}" if c["n"] > 1 else ""
            return f"{c['value']:.4g} {'✓' if c['passed'] else '✗'}{count}"

        lines = ["| checkpoint | epoch | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
        for r in table:
            lines.append(f"| {r['checkpoint']} | {'' if r['epoch'] is None else r['epoch']} | " + " | ".join(
                cell(r["cells"][c]) if c in r["cells"] else "" for c in columns) + " |")
        lines.append("| **first holds** | | " + " | ".join(firsts[c] for c in columns) + " |")
        text = "\n".join(lines) + "\n\nEach cell: the claim's worst value over its cases (per key frequency and "
        text += "term), ✓ if every case holds, and how many hold.\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))
