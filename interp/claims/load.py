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
        thresholds: {mlp: 0.36}       # optional: the threshold on these architectures (placed by
                                      # the calibration population); ``threshold`` on the others
        population_negatives: [full-data]  # optional: kinds of population models that are its
                                      # negatives (docs/claims.md, "The calibration rule")
        population_negatives_on: {full-data: [mlp]}  # optional: a kind's negatives only of these
                                      # architectures (default: every architecture)
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

The structure above is defined once, by the pydantic models of :mod:`interp.schemas.claims_file`:
the loader validates with them, and ``interp/schemas/claims.schema.json`` (for editors; README,
"Editing a claims file") is generated from them. This module adds what a schema cannot check.
How a claim comes out on one checkpoint: :mod:`interp.claims.verdicts`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

import interp.metrics as metrics
from interp.claims.claim import KEY_FREQS, PREFIX, Claim, ClaimsFile, KnownFailure, run_attrs
from interp.errors import ClaimsError
from interp.schemas import claims_file
from interp.schemas.claims_file import ClaimEntry, ClaimsDocument, KnownFailureEntry, did_you_mean

DEFAULT_CLAIMS = Path(str(resources.files("interp") / "claims.yaml"))  # shipped as package data


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
    """Validate the text of a claims file (see the module docstring for the format): its structure
    with :class:`interp.schemas.claims_file.ClaimsDocument` (the model the JSON Schema is generated
    from), then what a schema cannot say: each metric's parameters, unique ids, and the claims that
    ``requires`` and ``known_failures`` name."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ClaimsError(where, f"YAML syntax error: {problem}") from None
    if doc is None:
        raise ClaimsError(path, "empty file: expected a mapping with a 'claims' list")
    try:
        document = ClaimsDocument.model_validate(doc)
    except ValidationError as exc:  # pydantic's dump has a line per error: the first, as one line
        raise ClaimsError(path, claims_file.problem(exc, doc)) from None
    claims, seen = [], set()
    for entry in document.claims:
        claim = _claim(entry, path)
        if claim.id in seen:
            raise ClaimsError(path, f"claim {claim.id!r}: duplicate id")
        seen.add(claim.id)
        claims.append(claim)
    by_id = {c.id: c for c in claims}
    for claim in claims:
        _check_requires(claim, by_id, path)
    known = [_known_failure(entry) for entry in document.known_failures or []]
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
                              f"{did_you_mean(rid, by_id)}")
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
        raise ClaimsError(path, f"{label}: {case_id!r} {problem}{did_you_mean(case_id, candidates)}")


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


def _claim(entry: ClaimEntry, path: str | Path) -> Claim:
    """The :class:`Claim` of a validated entry, once its parameters fit its metric."""

    def fail(problem: str) -> ClaimsError:
        return ClaimsError(path, f"claim {entry.id!r}: {problem}")

    fn = metrics.METRICS[entry.metric]
    params, for_each = entry.params or {}, entry.for_each or {}
    accepted = metrics.claim_params(fn, run_attrs())
    given = set(params) | set(for_each)
    both = set(params) & set(for_each)
    if both:
        raise fail(f"{sorted(both)} set in both params and for_each")
    extra = given - set(accepted)
    if extra:
        raise fail(f"metric {entry.metric!r} takes no parameter(s) {sorted(map(str, extra))}; "
                   f"it takes: {', '.join(accepted) or 'none'}")
    unset = [n for n, p in accepted.items() if p.default is p.empty and n not in given]
    if unset:
        raise fail(f"metric {entry.metric!r} needs parameter(s) {', '.join(unset)}")
    _check_literals(fn, params, for_each, fail)
    unnamed = sorted(set(entry.population_negatives_on or {}) - set(entry.population_negatives or ()))
    if unnamed:
        raise fail(f"population_negatives_on names {', '.join(map(repr, unnamed))}, which population_negatives "
                   "does not")
    requires = [entry.requires] if isinstance(entry.requires, str) else entry.requires or []
    references = entry.references.model_dump(exclude_unset=True) if entry.references is not None else {}
    return Claim(id=entry.id, metric=entry.metric, op=entry.op, threshold=entry.threshold,
                 statement=entry.claim.strip(), source=entry.source.strip(), params=params, for_each=for_each,
                 family=entry.family, requires=tuple(requires),
                 references={kind: tuple(names) for kind, names in references.items()},
                 threshold_source=entry.threshold_source,
                 gated_on=None if entry.gated_on == "all" else tuple(entry.gated_on),
                 thresholds=dict(entry.thresholds or {}), population_negatives=tuple(entry.population_negatives or ()),
                 population_negatives_on={kind: tuple(archs)
                                          for kind, archs in (entry.population_negatives_on or {}).items()})


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


def _known_failure(entry: KnownFailureEntry) -> KnownFailure:
    return KnownFailure(entry.claim, entry.sha256.lower(), entry.value, entry.reason.strip())
