"""The claims file's structure, as one set of pydantic models: :class:`ClaimsDocument` (its two
top-level keys), :class:`ClaimEntry` (one claim), :class:`KnownFailureEntry` and
:class:`ReferencesEntry`.

These models are the one definition of what a claims file may hold. The loader
(:func:`interp.claims.load.parse_claims`) validates every file with them, and
``interp/schemas/claims.schema.json`` (for editors: docs/claims.md) is generated from them, so
the two cannot disagree. What JSON Schema cannot say stays in the loader: that a metric takes the
parameters a claim gives it, that ids are unique, that ``requires`` and ``known_failures`` name
existing claims.

A bad file gets one line, never pydantic's multi-line dump: :func:`problem` turns pydantic's
first error into ``<which claim or entry>: <what is wrong with which field>``, with the message
that each field carries (:class:`Problem`, in the field's ``Annotated`` metadata).

>>> ClaimsDocument.model_validate({"claims": [{"id": "x", "metric": "accuracy", "op": ">",
...     "threshold": 1, "claim": "c", "source": "s"}]}).claims[0].threshold
1.0
"""

import difflib
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

# The metrics register themselves on import. Imported by module name, not as attributes of the
# package: an in-process pytest run that restored sys.modules leaves those attributes stale.
import interp.metrics as metrics
import interp.metrics_causal  # noqa: F401  (registers the causal metrics)
from interp.claims.claim import GATE_ARCHITECTURES, KEY_FREQS, OPS, POPULATION_NEGATIVE_KINDS

THRESHOLD_SOURCES = ("seed", "paper", "exact", "calibrated")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"


@dataclass(frozen=True)
class Failure:
    """What :class:`Problem` is told about one bad field: the field's name, its value as written,
    the part of it that failed (``input``; the same, or an element), the key under the field where
    the failure is (``key``: ``for_each.<key>``), pydantic's error type, and the values the field's
    type allows (``allowed``, from its ``Literal``)."""

    field: str
    value: Any
    input: Any
    key: str | None
    kind: str
    allowed: tuple

    def hint(self) -> str:
        """`` (did you mean 'x'?)`` for the allowed value nearest to ``input``, or nothing."""
        return did_you_mean(self.input, self.allowed)


@dataclass(frozen=True)
class Problem:
    """A field's one-line message, after ``<field> `` unless it starts with ``!`` (then it is the
    whole message): a function of the :class:`Failure`."""

    say: Callable[[Failure], str]


def did_you_mean(word: object, options) -> str:
    """`` (did you mean 'fve'?)`` where one option is close to ``word``.

    >>> did_you_mean("fvee", ["fve", "accuracy"]), did_you_mean("zzz", ["fve"])
    (" (did you mean 'fve'?)", '')
    """
    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


NonEmpty = Annotated[str, Field(pattern=r"\S")]


def _known_metric(name: str) -> str:
    """A metric of the registry as it is when the file is read (the schema lists the same names)."""
    if name not in metrics.METRICS:
        raise PydanticCustomError("unknown_metric", "unknown metric")
    return name


class ReferencesEntry(BaseModel):
    """The named models a claim must hold on and must fail on (resolved by the project's tests)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    holds: list[NonEmpty] = Field(default=[], description="models the claim must hold on")
    fails: list[NonEmpty] = Field(default=[], description="models the claim must fail on")


class ClaimEntry(BaseModel):
    """One claim: a metric, compared with a threshold, on each case of its ``for_each`` values."""

    model_config = ConfigDict(extra="forbid", strict=True, title="claim")

    id: Annotated[str, Field(pattern=ID_PATTERN, description="unique; letters, digits, '-' and '_'; an expanded "
                             "case's id is <id>[k<freq>-<term>]"),
                  Problem(lambda f: "must be a non-empty string" if not isinstance(f.value, str) or not f.value.strip()
                          else "may hold only letters, digits, '-' and '_'")]
    metric: Annotated[str, Field(description="a function in interp.metrics (def <metric>), its docstring the formula",
                                 json_schema_extra=lambda schema: schema.update(enum=sorted(metrics.METRICS))),
                      AfterValidator(_known_metric),
                      Problem(lambda f: f"!unknown metric {f.input!r}{did_you_mean(f.input, metrics.METRICS)}; "
                              f"known: {', '.join(sorted(metrics.METRICS))}")]
    params: Annotated[dict[str, Any] | None, Field(description="the metric's other parameters")] = None
    for_each: Annotated[dict[str, Literal[KEY_FREQS] | Annotated[list[int | float | str], Field(min_length=1)]] | None,
                        Field(description="one test per combination of these values: a list, or 'key_freqs' for the "
                                          "run's key frequencies")] = None
    op: Annotated[Literal[tuple(OPS)], Field(description="how the value compares with the threshold"),
                  Problem(lambda f: f"!bad op {f.input!r}; allowed: {' '.join(f.allowed)}")]
    threshold: Annotated[float, Field(allow_inf_nan=False, description="the number the value is compared with"),
                         Problem(lambda f: f"must be a finite number, got {f.value!r}")]
    claim: Annotated[NonEmpty, Field(description="one line saying what the claim claims")]
    source: Annotated[NonEmpty, Field(description="where the claim comes from")]
    family: Annotated[str, Field(description="groups the summary's rows (accuracy, wu, fve, ...)")] = "other"
    requires: Annotated[str | list[str] | None, Field(description="claim ids: this claim is evaluated only where "
                                                                  "they hold, else it is N/A"),
                        Problem(lambda f: "must be a claim id or a list of claim ids")] = None
    references: Annotated[ReferencesEntry | None, Field(description="models it must hold on, and fail on"),
                          Problem(lambda f: f"!references.{f.key} must be a list of model names"
                                  if f.key in ReferencesEntry.model_fields and f.kind != "extra_forbidden"
                                  else "must be a mapping with keys holds and fails")] = None
    threshold_source: Annotated[Literal[THRESHOLD_SOURCES] | None,
                                Field(description="where the threshold comes from (docs/claims.md)"),
                                Problem(lambda f: f"{f.input!r} not one of {list(f.allowed)}")] = None
    gated_on: Annotated[Literal["all"] | list[Literal[GATE_ARCHITECTURES]],
                        Field(description="the architectures the claim gates; on the others it is measured and "
                                          "reported as NOT-GATED"),
                        Problem(lambda f: f"names {f.input!r}{f.hint()}; allowed: {', '.join(GATE_ARCHITECTURES)}"
                                if f.key is not None else
                                f"must be 'all' or a list of architectures ({', '.join(GATE_ARCHITECTURES)})")] = "all"
    thresholds: Annotated[dict[Literal[GATE_ARCHITECTURES], Annotated[float, Field(allow_inf_nan=False)]] | None,
                          Field(description="the threshold on these architectures (placed by the calibration "
                                            "population); threshold on the others"),
                          Problem(lambda f: f"names {f.input!r}{f.hint()}; allowed: {', '.join(GATE_ARCHITECTURES)}"
                                  if f.key is not None and f.kind == "literal_error" else
                                  f"!thresholds.{f.key} must be a finite number, got {f.input!r}"
                                  if f.key is not None else "must be a mapping of architectures to numbers")] = None
    population_negatives: Annotated[list[Literal[POPULATION_NEGATIVE_KINDS]] | None,
                                    Field(description="kinds of the calibration population's models that are its "
                                                      "negatives (docs/claims.md, 'The calibration rule')"),
                                    Problem(lambda f: f"names {f.input!r}{f.hint()}; allowed: "
                                            f"{', '.join(POPULATION_NEGATIVE_KINDS)}" if f.key is not None
                                            else "must be a list of kinds of population models")] = None
    population_negatives_on: Annotated[
        dict[Literal[POPULATION_NEGATIVE_KINDS], list[Literal[GATE_ARCHITECTURES]]] | None,
        Field(description="the architectures whose population models of a kind are its negatives, for a kind "
                          "named in population_negatives; a kind not listed: every architecture"),
        Problem(lambda f: f"names {f.input!r}{did_you_mean(f.input, POPULATION_NEGATIVE_KINDS)}; allowed: "
                f"{', '.join(POPULATION_NEGATIVE_KINDS)}" if f.key is not None and f.key == str(f.input) else
                f"!population_negatives_on.{f.key} names {f.input!r}{did_you_mean(f.input, GATE_ARCHITECTURES)}"
                if f.kind == "literal_error" and f.key is not None else
                f"!population_negatives_on.{f.key} must be a list of architectures" if f.key is not None
                else "must be a mapping of kinds to lists of architectures")] = None


class KnownFailureEntry(BaseModel):
    """A claim case refuted on exactly one checkpoint, recorded rather than fixed: a strict xfail
    there while the value stays within 1e-4 of the one recorded."""

    model_config = ConfigDict(extra="forbid", strict=True, title="known failure")

    claim: Annotated[str, Field(description="the claim case: <id>, or <id>[k<freq>-<term>]"),
                     Problem(lambda f: "must be a string")]
    sha256: Annotated[str, Field(pattern=SHA256_PATTERN, description="the checkpoint's sha256"),
                      Problem(lambda f: f"must be 64 hex characters, got {f.value!r} ({len(f.value)} characters)"
                              if isinstance(f.value, str) else
                              f"must be 64 hex characters, got {type(f.value).__name__!r}")]
    value: Annotated[float, Field(allow_inf_nan=False, description="the value measured there"),
                     Problem(lambda f: "must be a finite number")]
    reason: Annotated[str, Field(description="why it is recorded rather than fixed"),
                      Problem(lambda f: "must be a string")]


class ClaimsDocument(BaseModel):
    """A claims file (``claims.yaml``): its claims, and the failures recorded on given checkpoints."""

    model_config = ConfigDict(extra="forbid", strict=True, title="interp claims file")

    claims: Annotated[list[ClaimEntry], Field(min_length=1, description="the claims, in the order they run")]
    known_failures: Annotated[list[KnownFailureEntry] | None,
                              Field(description="refuted claim cases recorded for one checkpoint each")] = None


# -- one line from pydantic's errors ---------------------------------------------------------------
SCOPES = {"claims": ("claim", ClaimEntry), "known_failures": ("known_failures", KnownFailureEntry)}
UNKNOWN_KEY = ("extra_forbidden", "invalid_key")  # a key no field has; one that is not even a string


def problem(exc: ValidationError, doc: object) -> str:
    """The first of pydantic's errors for ``doc`` as one line: which claim or entry, which field,
    what is wrong with it. Errors of the document come first, then the first entry with any; in an
    entry, unknown fields, then missing ones, then the first bad field.

    >>> doc = {"claims": [{"id": "x", "metric": "accuracy", "op": "=>", "threshold": "high", "claim": "c"}]}
    >>> try:
    ...     ClaimsDocument.model_validate(doc)
    ... except ValidationError as exc:
    ...     print(len(exc.errors()), "errors;", problem(exc, doc))
    3 errors; claim 'x': missing field(s) source
    """
    errors = exc.errors(include_url=False)
    top = [e for e in errors if not (len(e["loc"]) >= 2 and e["loc"][0] in SCOPES and isinstance(e["loc"][1], int))]
    if top:
        return _document_problem(top, doc)
    scope = errors[0]["loc"][:2]
    return _entry_problem([e for e in errors if e["loc"][:2] == scope], scope, doc[scope[0]][scope[1]])


def _document_problem(errors: list[dict], doc: object) -> str:
    allowed = sorted(ClaimsDocument.model_fields)
    extra = [e["loc"][0] for e in errors if e["loc"] and (e["type"] in UNKNOWN_KEY or e["loc"][0] not in allowed)]
    if not isinstance(doc, dict):
        return f"expected a mapping with a 'claims' list, got a {type(doc).__name__}"
    if extra:
        return f"unknown top-level key(s) {sorted(map(str, extra))}; allowed: {allowed}"
    if errors[0]["loc"][0] == "claims":
        return "'claims' must be a non-empty list"
    return "'known_failures' must be a list"


def _entry_problem(errors: list[dict], scope: tuple, raw: object) -> str:
    kind, model = SCOPES[scope[0]]
    index = scope[1]
    named = kind == "claim" and isinstance(raw, dict) and isinstance(raw.get("id"), str)
    label = f"claim {raw['id']!r}" if named else f"{kind} #{index + 1}"
    if not isinstance(raw, dict):
        return f"{label}: expected a mapping, got {type(raw).__name__}"
    fields = model.model_fields
    extra = sorted({str(e["loc"][2]) for e in errors
                    if len(e["loc"]) == 3 and (e["type"] in UNKNOWN_KEY or e["loc"][2] not in fields)})
    missing = [name for name in fields if any(e["loc"][2:] == (name,) and e["type"] == "missing" for e in errors)]
    if kind == "known_failures" and (extra or missing):
        return f"{label}: needs exactly the fields {sorted(fields)}, got {sorted(map(str, raw))}"
    if kind == "known_failures" and isinstance(raw.get("claim"), str):
        label = f"{label} ({raw['claim']!r})"
    if "holds_by_construction" in extra:
        return (f"{label}: holds_by_construction is no longer a claims-file field: whether a metric holds by "
                "construction is a property of the architecture (interp/arch/); remove the field")
    if extra:
        hints = [f"{name!r}{did_you_mean(name, fields)}" for name in extra]
        return f"{label}: unknown field(s) {', '.join(hints)}; allowed: {', '.join(sorted(fields))}"
    if missing:
        return f"{label}: missing field(s) {', '.join(missing)}"
    if len(errors[0]["loc"]) < 3:  # the entry as a whole (no check of the models is made there now)
        return f"{label}: {errors[0]['msg']}"
    return f"{label}: {_field_problem(errors, model, raw)}"


def _field_problem(errors: list[dict], model: type[BaseModel], raw: dict) -> str:
    """What is wrong with the entry's first bad field, as that field's :class:`Problem` says."""
    name = errors[0]["loc"][2]
    at = [e for e in errors if e["loc"][2] == name]
    deep = [e for e in at if any(isinstance(part, int) for part in e["loc"][3:])] or at  # an element of a list
    error = deep[0]
    info = model.model_fields[name]
    rest = error["loc"][3:]
    if rest and rest[-1] == "[key]":  # a key of a mapping field
        if error["type"] != "literal_error":
            return f"{name} keys must be strings, got {error['input']!r}"
        key = error["input"]
    elif _is_union(info.annotation):  # pydantic names the member that failed: only an index is a key
        key = next((part for part in rest if isinstance(part, int)), None)
    else:
        key = rest[0] if rest else None
    say = next((m for m in info.metadata if isinstance(m, Problem)), None)
    failure = Failure(name, raw.get(name), error["input"], None if key is None else str(key), error["type"],
                      _literals(info.annotation))
    if say is None:
        return _default_problem(failure)
    text = say.say(failure)
    return text[1:] if text.startswith("!") else f"{name} {text}"


def _default_problem(failure: Failure) -> str:
    if failure.field == "for_each" and failure.key is not None:
        return f"for_each.{failure.key} must be a non-empty list or {KEY_FREQS!r}"
    if failure.field in ("params", "for_each"):
        return f"{failure.field} must be a mapping, got {type(failure.value).__name__}"
    if failure.field in ("claim", "source"):
        return f"{failure.field} must be a non-empty string"
    return f"{failure.field} must be a string"


def _is_union(annotation: object) -> bool:
    """Whether a type is a union of two or more types besides None."""
    return typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(
        [a for a in typing.get_args(annotation) if a is not type(None)]) > 1


def _literals(annotation: object) -> tuple:
    """The values of every ``Literal`` in a type (``Literal['all'] | list[Literal['mlp', ...]]``)."""
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return tuple(v for arg in typing.get_args(annotation) for v in _literals(arg))
