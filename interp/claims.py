"""``claims.yaml``: load and validate the claims, expand them per key frequency, evaluate them.

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

How a claim comes out on one checkpoint (:func:`assess`):

* ``PASS`` / ``FAIL``: its value meets the threshold or not; a NaN or infinite value fails.
* ``N/A``: a claim it ``requires`` does not hold there, so what it says about *how* the model
  solves the task has nothing to describe. It never passes: the gate counts it as failed.
* ``KNOWN-FAIL``: a failure recorded in ``known_failures`` for exactly this sha256, with the same
  value (``math.isclose``, absolute tolerance 1e-4). A drifted value, a non-finite one or a
  record of a claim that now holds is a ``FAIL``.
* ``SKIP``: the metric reads something the architecture does not have (``W_E @ W_in`` of a
  transformer); not a verdict on the model, and not counted by the gate.

Whether a claim holds *by construction* is a property of the architecture
(``by_construction`` in :mod:`interp.arch`): such a claim is still measured and reported.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from interp import metrics
from interp.errors import ClaimsError

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
}
DEFAULT_CLAIMS = Path(str(resources.files("interp") / "claims.yaml"))  # shipped as package data
CLAIM_FIELDS = {"id", "metric", "params", "for_each", "op", "threshold", "claim", "source",
                "family", "requires", "references", "threshold_source"}
THRESHOLD_SOURCES = ("seed", "paper", "exact", "calibrated")
REFERENCE_KINDS = ("holds", "fails")
REQUIRED_FIELDS = ("id", "metric", "op", "threshold", "claim", "source")
KNOWN_FAILURE_FIELDS = {"claim", "sha256", "value", "reason"}
TOP_LEVEL = {"claims", "known_failures"}
KEY_FREQS = "key_freqs"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PREFIX = {"freq": "k"}  # how an expanded parameter shows in the test id


def _run_attrs() -> set[str]:
    from interp.run import Run

    return {n for n in dir(Run) if not n.startswith("_")} | {"key_freqs"}


@dataclass(frozen=True)
class Claim:
    """One claim as written in the file (before expansion)."""

    id: str
    metric: str
    op: str
    threshold: float
    statement: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    for_each: dict[str, Any] = field(default_factory=dict)
    family: str = "other"
    requires: tuple[str, ...] = ()
    references: dict[str, tuple[str, ...]] = field(default_factory=dict)
    threshold_source: str | None = None

    def expand(self, key_freqs: list[int]) -> list[ClaimCase]:
        """One :class:`ClaimCase` per combination of the ``for_each`` values."""
        if not self.for_each:
            return [ClaimCase(self.id, self, dict(self.params))]
        names = list(self.for_each)
        values = [key_freqs if v == KEY_FREQS else v for v in self.for_each.values()]
        cases = []
        for combo in product(*values):
            params = {**self.params, **dict(zip(names, combo, strict=True))}
            suffix = "-".join(f"{_PREFIX.get(n, '')}{v}" for n, v in zip(names, combo, strict=True))
            cases.append(ClaimCase(f"{self.id}[{suffix}]", self, params))
        return cases


@dataclass(frozen=True)
class ClaimCase:
    """One test: a claim with all of its parameters fixed."""

    id: str
    claim: Claim
    params: dict[str, Any]

    def judge(self, value: float) -> bool:
        return bool(OPS[self.claim.op](value, self.claim.threshold))


@dataclass(frozen=True)
class KnownFailure:
    claim: str
    sha256: str
    value: float
    reason: str


@dataclass(frozen=True)
class ClaimsFile:
    path: Path
    claims: list[Claim]
    known_failures: list[KnownFailure]

    def claim(self, claim_id: str) -> Claim:
        return next(c for c in self.claims if c.id == claim_id)

    def known_failure(self, case_id: str, sha256: str) -> KnownFailure | None:
        """The recorded failure of this claim on exactly this checkpoint, if any."""
        for kf in self.known_failures:
            if kf.claim == case_id and kf.sha256 == sha256:
                return kf
        return None


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
    prefix = _PREFIX.get(name, "")
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
        prefix, typed = _PREFIX.get(name, ""), given[i] if i < len(given) else ""
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
    accepted = metrics.claim_params(fn, _run_attrs())
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
                 references=_parse_references(raw.get("references"), fail), threshold_source=threshold_source)


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


KNOWN_VALUE_TOLERANCE = 1e-4  # absolute, as math.isclose(abs_tol=...)
PASS, FAIL, KNOWN_FAIL, NOT_APPLICABLE, SKIP = "PASS", "FAIL", "KNOWN-FAIL", "N/A", "SKIP"


class NotDefined(Exception):
    """A metric reads something the model's architecture does not have."""


def evaluate(case: ClaimCase, run) -> float:
    """The metric's value on a run: run attributes by name, then the case's parameters. Raises
    :class:`NotDefined` when an attribute the metric reads is None for this architecture."""
    fn = metrics.METRICS[case.claim.metric]
    inputs = {name: getattr(run, name) for name in metrics.run_inputs(fn, _run_attrs())}
    missing = [name for name, value in inputs.items() if value is None]
    if missing:
        why = "; ".join(f"{k}: {v}" for k, v in getattr(run.model, "undefined", {}).items())
        raise NotDefined(f"{case.claim.metric} reads {', '.join(missing)}, which the {run.architecture} does "
                         f"not have" + (f" ({why})" if why else ""))
    return float(fn(**inputs, **case.params))


@dataclass(frozen=True)
class Verdict:
    """How one claim case came out on one checkpoint (see the module docstring)."""

    case: ClaimCase
    status: str
    value: float | None
    message: str = ""
    by_construction: str | None = None
    known_failure: KnownFailure | None = None
    unmet: tuple[str, ...] = ()  # on N/A: the required claim cases that do not hold, as "id value op threshold"

    @property
    def passed(self) -> bool:
        """The claim's comparison holds on a finite, applicable value (SPEC's ``passed``)."""
        return self.value is not None and math.isfinite(self.value) and self.status != NOT_APPLICABLE and \
            self.case.judge(self.value)

    @property
    def margin(self) -> float | None:
        """How far the value is on the passing side of the threshold (negative: failing)."""
        if self.value is None:
            return None
        return margin(self.value, self.case.claim.op, self.case.claim.threshold) + 0.0  # no -0.0

    def line(self) -> str:
        """One line for a person: id, value, op, threshold, margin, and what went wrong."""
        c = self.case.claim
        if self.value is None:
            return f"{self.case.id}: {self.status} -- {self.message}"
        head = f"{self.case.id}: {format_value(self.value)} {c.op} {c.threshold:g} (margin {self.margin:+.4g})"
        # an N/A line names only what it lacks: dozens of them share one explanation, which the
        # summary prints once (pytest does not shorten summary lines when CI is set)
        reason = f"not applicable: {'; '.join(self.unmet)} is false" if self.unmet else self.message
        return f"{head} {self.status}" + (f" -- {reason}" if reason else "")


def margin(value: float, op: str, threshold: float) -> float:
    """How far ``value`` is on the passing side of ``threshold`` (negative: failing; NaN stays NaN).

    >>> margin(0.9, ">", 0.84), margin(0.5, "<", 1.0), margin(0.99, "==", 1.0)
    (0.06000000000000005, 0.5, -0.010000000000000009)
    """
    if op in (">", ">="):
        return value - threshold
    if op in ("<", "<="):
        return threshold - value
    return -abs(value - threshold)


def format_value(value: float) -> str:
    """Six decimals, or scientific notation for values too small to show that way.

    >>> format_value(0.5), format_value(1.5e-6), format_value(float("nan"))
    ('0.500000', '1.500e-06', 'nan')
    """
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3e}" if value != 0 and abs(value) < 1e-3 else f"{value:.6f}"


def requirement_failures(claim: Claim, claims: ClaimsFile, run) -> list[str]:
    """The claims ``claim`` requires that do not hold on ``run``, each as ``id value op threshold``."""
    failing = []
    for rid in claim.requires:
        required = claims.claim(rid)
        for case in required.expand(run.key_freqs):
            value = evaluate(case, run)
            if not (math.isfinite(value) and case.judge(value)) or requirement_failures(required, claims, run):
                failing.append(f"{case.id} {format_value(value)} {required.op} {required.threshold:g}")
    return failing


def assess(case: ClaimCase, run, claims: ClaimsFile, sha256: str) -> Verdict:
    """Evaluate one claim case on a run and decide its verdict (the module docstring's rules)."""
    claim = case.claim
    try:
        value = evaluate(case, run)
    except NotDefined as exc:
        return Verdict(case, SKIP, None, f"not defined for this architecture: {exc}")
    constructed = run.model.by_construction.get(claim.metric)
    by_construction = constructed.reason if constructed and case.judge(constructed.value) else None
    unmet = requirement_failures(claim, claims, run)
    if unmet:
        return Verdict(case, NOT_APPLICABLE, value, f"it describes how a model solves the task, and this one "
                       f"does not ({'; '.join(unmet)} is false)", by_construction, unmet=tuple(unmet))
    known = claims.known_failure(case.id, sha256)
    finite = math.isfinite(value)
    holds = finite and case.judge(value)
    if not finite:
        message = f"the measured value is {value}: a non-finite measurement fails" + (
            " (never excused by a known failure)" if known else "")
        return Verdict(case, FAIL, value, message, by_construction)
    if known is not None:
        if holds:
            return Verdict(case, FAIL, value, f"recorded in known_failures for this checkpoint ({known.value:.6g}) "
                           "but it now holds: remove the record", by_construction)
        if not math.isclose(value, known.value, rel_tol=0.0, abs_tol=KNOWN_VALUE_TOLERANCE):
            return Verdict(case, FAIL, value, f"known failure drifted: known_failures records {known.value:.6g} for "
                           f"this checkpoint, measured {value:.6g}; update the record", by_construction)
        return Verdict(case, KNOWN_FAIL, value, f"known failure of this checkpoint (recorded {known.value:.6g})",
                       by_construction, known)
    if holds:
        return Verdict(case, PASS, value, "", by_construction)
    return Verdict(case, FAIL, value, run.task_hint() if claim.metric == "accuracy" else "", by_construction)
