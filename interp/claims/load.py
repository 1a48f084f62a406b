"""``claims.yaml``: read and validate a claims file (its format is below).

A claims file has two top-level keys::

    claims:            # list of claims
      - id: fve                       # unique; letters, digits, '-' and '_'
        metric: fve                   # a function in interp.metrics (``def fve``)
        for_each: {freq: key_freqs, term: [sin, cos]}   # optional: one test per combination
        params: {}                    # optional: the metric's other parameters
        op: ">"                       # one of >, >=, <, <=, ==
        threshold: 0.84
        family: fve                   # optional: groups the summary
        claim: one line saying what it claims
        source: where the claim comes from
        requires: [test-accuracy]     # optional: evaluated only where these claims hold
        threshold_source: seed        # optional: seed, paper, exact or calibrated (docs/claims.md)
        gated_on: [mlp, transformer]  # optional (default: all): the architectures it gates; on the
                                      # others it is measured and reported as NOT-GATED
        references:                   # optional: models it must hold on, and fail on
          holds: [bundled-mlp]
          fails: [control-epoch000000]
    known_failures:    # optional: refuted claims recorded for one checkpoint (by sha256)
      - claim: "fve[k35-sin]"
        sha256: 8cd3...
        value: 0.835319
        reason: why it is recorded rather than fixed

``for_each`` values are lists, or ``key_freqs`` for the run's key frequencies. An expanded claim's
id is ``<id>[k<freq>-<term>]``, e.g. ``fve[k17-sin]``.
How a claim comes out on one checkpoint: :mod:`interp.claims.verdicts`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from interp import metrics, metrics_causal  # noqa: F401  (importing them registers every metric)
from interp.claims.claim import (
    GATE_ARCHITECTURES,
    KEY_FREQS,
    OPS,
    PREFIX,
    Claim,
    ClaimsFile,
    KnownFailure,
    run_attrs,
)
from interp.errors import ClaimsError

DEFAULT_CLAIMS = Path(str(resources.files("interp") / "claims.yaml"))  # shipped as package data
CLAIM_FIELDS = {"id", "metric", "params", "for_each", "op", "threshold", "claim", "source",
                "family", "requires", "references", "threshold_source", "gated_on"}
THRESHOLD_SOURCES = ("seed", "paper", "exact", "calibrated")
REFERENCE_KINDS = ("holds", "fails")
REQUIRED_FIELDS = ("id", "metric", "op", "threshold", "claim", "source")
KNOWN_FAILURE_FIELDS = {"claim", "sha256", "value", "reason"}
TOP_LEVEL = {"claims", "known_failures"}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def load_claims(path: str | Path) -> ClaimsFile:
    """Read and validate a claims file; every problem is a one-line :class:`ClaimsError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ClaimsError(path, "no such file") from None
    except IsADirectoryError:
        raise ClaimsError(path, "is a directory, not a claims file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ClaimsError(path, f"cannot be read ({exc})") from None
    return parse_claims(text, path)


def parse_claims(text: str, path: str | Path = "<claims>") -> ClaimsFile:
    """Validate the text of a claims file (see the module docstring for the format)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ClaimsError(where, f"YAML syntax error: {problem}") from None
    if doc is None:
        raise ClaimsError(path, "empty file: expected a mapping with a 'claims' list")
    if not isinstance(doc, dict):
        raise ClaimsError(path, f"expected a mapping with a 'claims' list, got a {type(doc).__name__}")
    unknown = set(map(str, doc)) - TOP_LEVEL
    if unknown:
        raise ClaimsError(path, f"unknown top-level key(s) {sorted(unknown)}; allowed: {sorted(TOP_LEVEL)}")
    raw_claims = doc.get("claims")
    if not isinstance(raw_claims, list) or not raw_claims:
        raise ClaimsError(path, "'claims' must be a non-empty list")
    claims, seen = [], set()
    for i, raw in enumerate(raw_claims):
        claim = _parse_claim(raw, i, path)
        if claim.id in seen:
            raise ClaimsError(path, f"claim {claim.id!r}: duplicate id")
        seen.add(claim.id)
        claims.append(claim)
    by_id = {c.id: c for c in claims}
    for claim in claims:
        _check_requires(claim, by_id, path)
    raw_kf = doc.get("known_failures") or []
    if not isinstance(raw_kf, list):
        raise ClaimsError(path, "'known_failures' must be a list")
    known = [_parse_known_failure(r, i, path) for i, r in enumerate(raw_kf)]
    for i, kf in enumerate(known):
        _check_known_claim(kf.claim, by_id, f"known_failures #{i + 1}", path)
    return ClaimsFile(Path(path), claims, known)


def _check_requires(claim: Claim, by_id: dict[str, Claim], path: str | Path) -> None:
    """Each required claim exists, and no chain of ``requires`` comes back to ``claim``."""
    seen, todo = set(), list(claim.requires)
    while todo:
        rid = todo.pop()
        if rid == claim.id:
            raise ClaimsError(path, f"claim {claim.id!r}: requires itself (through {sorted(seen)})")
        if rid not in by_id:
            raise ClaimsError(path, f"claim {claim.id!r}: requires {rid!r}, which names no claim"
                              f"{_did_you_mean(rid, by_id)}")
        if rid not in seen:
            seen.add(rid)
            todo.extend(by_id[rid].requires)


def _check_known_claim(case_id: str, by_id: dict[str, Claim], label: str, path: str | Path) -> None:
    """A known failure must name a claim case: ``<id>`` for a plain claim, ``<id>[<suffix>]`` with
    one part per ``for_each`` parameter (``k<int>`` for ``key_freqs``, else a listed value)."""
    found = re.fullmatch(r"([^\[\]]+)(?:\[([^\[\]]*)\])?", case_id)
    base, suffix = (found.group(1), found.group(2)) if found else (case_id, None)
    claim = by_id.get(base)
    problem = None
    if claim is None:
        problem = "names no claim"
    elif bool(claim.for_each) != (suffix is not None):
        problem = "names no claim case" + (f" (claim {base!r} has one case per {', '.join(claim.for_each)})"
                                           if claim.for_each else f" (claim {base!r} has one case, {base!r})")
    elif suffix is not None:
        parts = suffix.split("-")
        ok = len(parts) == len(claim.for_each) and all(
            _case_part_ok(part, name, values)
            for part, (name, values) in zip(parts, claim.for_each.items(), strict=False))
        problem = None if ok else "names no claim case"
    if problem is not None:
        candidates = [c.id for c in by_id.values()] + [_example_case(c, suffix) for c in by_id.values() if c.for_each]
        raise ClaimsError(path, f"{label}: {case_id!r} {problem}{_did_you_mean(case_id, candidates)}")


def _case_part_ok(part: str, name: str, values: Any) -> bool:
    prefix = PREFIX.get(name, "")
    if not part.startswith(prefix):
        return False
    value = part[len(prefix):]
    if values == KEY_FREQS:
        return value.isdigit() and int(value) >= 1
    return value in {str(v) for v in values}


def _example_case(claim: Claim, suffix: str | None) -> str:
    """The case of ``claim`` nearest to a mistyped ``suffix``: each part replaced by the closest
    allowed value (``key_freqs`` parts keep their number)."""
    import difflib

    given = (suffix or "").split("-")
    parts = []
    for i, (name, values) in enumerate(claim.for_each.items()):
        prefix, typed = PREFIX.get(name, ""), given[i] if i < len(given) else ""
        if values == KEY_FREQS:
            digits = "".join(ch for ch in typed if ch.isdigit()) or "1"
            parts.append(f"{prefix}{digits}")
        else:
            options = [f"{prefix}{v}" for v in values]
            parts.append((difflib.get_close_matches(typed, options, n=1, cutoff=0) or options)[0])
    return f"{claim.id}[{'-'.join(parts)}]"


def _parse_claim(raw: object, index: int, path: str | Path) -> Claim:
    label = f"claim #{index + 1}"
    if not isinstance(raw, dict):
        raise ClaimsError(path, f"{label}: expected a mapping, got {type(raw).__name__}")
    if isinstance(raw.get("id"), str):
        label = f"claim {raw['id']!r}"

    def fail(problem: str) -> ClaimsError:
        return ClaimsError(path, f"{label}: {problem}")

    unknown = set(map(str, raw)) - CLAIM_FIELDS
    if "holds_by_construction" in unknown:
        raise fail("holds_by_construction is no longer a claims-file field: whether a metric holds by "
                   "construction is a property of the architecture (interp/arch/); remove the field")
    if unknown:
        hints = [f"{u!r}{_did_you_mean(u, CLAIM_FIELDS)}" for u in sorted(unknown)]
        raise fail(f"unknown field(s) {', '.join(hints)}; allowed: {', '.join(sorted(CLAIM_FIELDS))}")
    missing = [f for f in REQUIRED_FIELDS if f not in raw]
    if missing:
        raise fail(f"missing field(s) {', '.join(missing)}")
    for name in ("id", "metric", "claim", "source"):
        if not isinstance(raw[name], str) or not raw[name].strip():
            raise fail(f"{name} must be a non-empty string")
    if not _ID.match(raw["id"]):
        raise fail("id may hold only letters, digits, '-' and '_'")
    fn = metrics.METRICS.get(raw["metric"])
    if fn is None:
        raise fail(f"unknown metric {raw['metric']!r}{_did_you_mean(raw['metric'], metrics.METRICS)}; "
                   f"known: {', '.join(sorted(metrics.METRICS))}")
    if not isinstance(raw["op"], str) or raw["op"] not in OPS:
        raise fail(f"bad op {raw['op']!r}; allowed: {' '.join(OPS)}")
    threshold = raw["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise fail(f"threshold must be a finite number, got {threshold!r}")
    params = raw.get("params") or {}
    for_each = raw.get("for_each") or {}
    for name, value in (("params", params), ("for_each", for_each)):
        if not isinstance(value, dict):
            raise fail(f"{name} must be a mapping, got {type(value).__name__}")
    for name, values in for_each.items():
        if values != KEY_FREQS and (not isinstance(values, list) or not values):
            raise fail(f"for_each.{name} must be a non-empty list or {KEY_FREQS!r}")
    accepted = metrics.claim_params(fn, run_attrs())
    given = set(params) | set(for_each)
    both = set(params) & set(for_each)
    if both:
        raise fail(f"{sorted(both)} set in both params and for_each")
    extra = given - set(accepted)
    if extra:
        raise fail(f"metric {raw['metric']!r} takes no parameter(s) {sorted(map(str, extra))}; "
                   f"it takes: {', '.join(accepted) or 'none'}")
    unset = [n for n, p in accepted.items() if p.default is p.empty and n not in given]
    if unset:
        raise fail(f"metric {raw['metric']!r} needs parameter(s) {', '.join(unset)}")
    _check_literals(fn, params, for_each, fail)
    family = raw.get("family", "other")
    if not isinstance(family, str):
        raise fail("family must be a string")
    requires = raw.get("requires") or []
    if isinstance(requires, str):
        requires = [requires]
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise fail("requires must be a claim id or a list of claim ids")
    threshold_source = raw.get("threshold_source")
    if threshold_source is not None and threshold_source not in THRESHOLD_SOURCES:
        raise fail(f"threshold_source {threshold_source!r} not one of {list(THRESHOLD_SOURCES)}")
    return Claim(id=raw["id"], metric=raw["metric"], op=raw["op"], threshold=float(threshold),
                 statement=raw["claim"].strip(), source=raw["source"].strip(), params=params,
                 for_each=for_each, family=family, requires=tuple(requires),
                 references=_parse_references(raw.get("references"), fail), threshold_source=threshold_source,
                 gated_on=_parse_gated_on(raw.get("gated_on", "all"), fail))


def _parse_gated_on(raw: object, fail: Callable[[str], ClaimsError]) -> tuple[str, ...] | None:
    """``gated_on: all`` (the default) or a list of architectures (``GATE_ARCHITECTURES``)."""
    if raw == "all":
        return None
    if not isinstance(raw, list) or not all(isinstance(a, str) for a in raw):
        raise fail(f"gated_on must be 'all' or a list of architectures ({', '.join(GATE_ARCHITECTURES)})")
    bad = [a for a in raw if a not in GATE_ARCHITECTURES]
    if bad:
        raise fail(f"gated_on names {bad[0]!r}{_did_you_mean(bad[0], GATE_ARCHITECTURES)}; "
                   f"allowed: {', '.join(GATE_ARCHITECTURES)}")
    return tuple(raw)


def _parse_references(raw: object, fail: Callable[[str], ClaimsError]) -> dict[str, tuple[str, ...]]:
    """``references: {holds: [names], fails: [names]}``: names of models, resolved by the tests."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or set(map(str, raw)) - set(REFERENCE_KINDS):
        raise fail(f"references must be a mapping with keys {' and '.join(REFERENCE_KINDS)}")
    out = {}
    for kind, names in raw.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise fail(f"references.{kind} must be a list of model names")
        out[kind] = tuple(names)
    return out


def _check_literals(fn: Callable[..., float], params: dict, for_each: dict,
                    fail: Callable[[str], ClaimsError]) -> None:
    """Check values of parameters annotated ``Literal[...]`` or ``int``."""
    import typing

    hints = typing.get_type_hints(fn)
    values = {n: [v] for n, v in params.items()} | {
        n: v for n, v in for_each.items() if v != KEY_FREQS}
    for name, vals in values.items():
        hint = hints.get(name)
        if typing.get_origin(hint) is typing.Literal:
            allowed = typing.get_args(hint)
            bad = [v for v in vals if v not in allowed]
            if bad:
                raise fail(f"parameter {name}={bad[0]!r} not one of {list(allowed)}")
        elif hint in (int, float):
            bad = [v for v in vals if isinstance(v, bool) or not isinstance(v, int | (float if hint is float else int))]
            if bad:
                raise fail(f"parameter {name}={bad[0]!r} must be a {hint.__name__}")


def _parse_known_failure(raw: object, index: int, path: str | Path) -> KnownFailure:
    label = f"known_failures #{index + 1}"
    if not isinstance(raw, dict):
        raise ClaimsError(path, f"{label}: expected a mapping")
    if set(raw) != KNOWN_FAILURE_FIELDS:
        raise ClaimsError(path, f"{label}: needs exactly the fields {sorted(KNOWN_FAILURE_FIELDS)}, "
                          f"got {sorted(map(str, raw))}")
    if not isinstance(raw["reason"], str) or not isinstance(raw["claim"], str):
        raise ClaimsError(path, f"{label}: claim and reason must be strings")
    label = f"{label} ({raw['claim']!r})"
    if not isinstance(raw["sha256"], str) or not re.fullmatch(r"[0-9a-fA-F]{64}", raw["sha256"]):
        shown = raw["sha256"] if isinstance(raw["sha256"], str) else type(raw["sha256"]).__name__
        raise ClaimsError(path, f"{label}: sha256 must be 64 hex characters, got {shown!r}"
                          + (f" ({len(shown)} characters)" if isinstance(raw["sha256"], str) else ""))
    value = raw["value"]
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise ClaimsError(path, f"{label}: value must be a finite number")
    return KnownFailure(raw["claim"], raw["sha256"].lower(), float(value), raw["reason"].strip())


def _did_you_mean(word: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
