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
        holds_by_construction: "why" # optional: true of every checkpoint of this architecture
    known_failures:    # optional: refuted claims recorded for one checkpoint (by sha256)
      - claim: "fve[k35-sin]"
        sha256: 8cd3...
        value: 0.835319
        reason: why it is recorded rather than fixed

``for_each`` values are lists, or ``key_freqs`` for the run's key frequencies. An expanded claim's
id is ``<id>[k<freq>-<term>]``, e.g. ``fve[k17-sin]``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from interp import metrics
from interp.errors import ClaimsError

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
}
CLAIM_FIELDS = {"id", "metric", "params", "for_each", "op", "threshold", "claim", "source",
                "family", "holds_by_construction"}
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
    holds_by_construction: str | None = None

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
    raw_kf = doc.get("known_failures") or []
    if not isinstance(raw_kf, list):
        raise ClaimsError(path, "'known_failures' must be a list")
    return ClaimsFile(Path(path), claims, [_parse_known_failure(r, i, path) for i, r in enumerate(raw_kf)])


def _parse_claim(raw: object, index: int, path: str | Path) -> Claim:
    label = f"claim #{index + 1}"
    if not isinstance(raw, dict):
        raise ClaimsError(path, f"{label}: expected a mapping, got {type(raw).__name__}")
    if isinstance(raw.get("id"), str):
        label = f"claim {raw['id']!r}"

    def fail(problem: str) -> ClaimsError:
        return ClaimsError(path, f"{label}: {problem}")

    unknown = set(map(str, raw)) - CLAIM_FIELDS
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
    by_construction = raw.get("holds_by_construction")
    if by_construction is not None and not isinstance(by_construction, str):
        raise fail("holds_by_construction must be a string giving the reason")
    family = raw.get("family", "other")
    if not isinstance(family, str):
        raise fail("family must be a string")
    return Claim(id=raw["id"], metric=raw["metric"], op=raw["op"], threshold=float(threshold),
                 statement=raw["claim"].strip(), source=raw["source"].strip(), params=params,
                 for_each=for_each, family=family, holds_by_construction=by_construction)


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
    if not isinstance(raw["sha256"], str) or not re.fullmatch(r"[0-9a-f]{64}", raw["sha256"]):
        raise ClaimsError(path, f"{label}: sha256 must be 64 lowercase hex digits")
    if not isinstance(raw["value"], int | float) or isinstance(raw["value"], bool):
        raise ClaimsError(path, f"{label}: value must be a number")
    if not isinstance(raw["reason"], str) or not isinstance(raw["claim"], str):
        raise ClaimsError(path, f"{label}: claim and reason must be strings")
    return KnownFailure(raw["claim"], raw["sha256"], float(raw["value"]), raw["reason"].strip())


def _did_you_mean(word: str, options) -> str:
    import difflib

    close = difflib.get_close_matches(str(word), list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def evaluate(case: ClaimCase, run) -> float:
    """The metric's value on a run: run attributes by name, then the case's parameters."""
    fn = metrics.METRICS[case.claim.metric]
    inputs = {name: getattr(run, name) for name in metrics.run_inputs(fn, _run_attrs())}
    return float(fn(**inputs, **case.params))
