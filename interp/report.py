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
            group = "failing" if not row["passed"] else d["family"]
            if group != family:
                family = group
                lines.append(f"  -- {group}")
            m = margin(row["value"], row["op"], row["threshold"]) + 0.0
            lines.append(f"  {row['id']:<28} {row['value']:>12.6f} {row['op']:>2} {row['threshold']:<9.6g} "
                         f"{m:>+10.4f}  {_verdict(row)}")
            if not row["passed"]:
                lines.append(f"  {'':<28} {d['statement']}")
    return lines


def _family_rank(family: str) -> int:
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)
