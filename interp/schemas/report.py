"""The JSON report (``--claims-report=OUT.json``) as pydantic models: one definition, from which
the writer (:func:`interp.report.write_report`) builds every report and
``interp/schemas/report.schema.json`` is generated, so that what is written and what is
documented cannot drift. docs/report-schema.md explains the fields; their meanings are the
``description`` of each field here, and so in the schema.

A report of one checkpoint is :class:`OneCheckpointReport` (the run's fields, then the
checkpoint's); of several, :class:`SweepReport` (the run's fields, then ``checkpoints``). Fields
written only in some reports (``entry``, ``warnings``, ...) are left out, not written ``null``,
where they do not apply: the models are dumped with ``exclude_unset``.

>>> row = {"id": "fve[k3-sin]", "metric": "fve", "params": {"freq": 3, "term": "sin"}, "value": 0.9,
...        "op": ">", "threshold": 0.84, "passed": True, "margin": 0.06, "verdict": "PASS",
...        "statement": "s", "family": "fve"}
>>> ClaimRow.model_validate(row).verdict
'PASS'
>>> try:
...     ClaimRow.model_validate({**row, "verdict": "OK", "confidence": 0.9})
... except ValueError as exc:
...     print([(e["loc"], e["type"]) for e in exc.errors()])
[(('verdict',), 'literal_error'), (('confidence',), 'extra_forbidden')]
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from interp.claims.claim import GATE_MODES, OPS
from interp.claims.verdicts import FAIL, KNOWN_FAIL, NOT_APPLICABLE, NOT_GATED, PASS

SCHEMA_VERSION = 5
"""5: the top-level ``gate`` (the gate mode). docs/report-schema.md lists what each version added."""
VERDICTS = (PASS, FAIL, KNOWN_FAIL, NOT_APPLICABLE, NOT_GATED)  # SKIP rows go to not_evaluated


def _absent(schema: dict) -> None:
    """A field that is left out where it does not apply has no default in the schema."""
    schema.pop("default", None)


def optional(description: str, **kwargs) -> Any:
    """A field written only where it applies (absent, never ``null``, elsewhere)."""
    return Field(default=None, description=description, json_schema_extra=_absent, **kwargs)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Sourced(Strict):
    """A value and where it came from."""

    value: Any = Field(description="the value")
    source: str = Field(description="where it came from: 'option --X', 'file (...)', 'shapes (...)', 'default'")


class ClaimsFileRef(Strict):
    path: str = Field(description="the claims file's absolute path")
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="the sha256 of its bytes, taken when the "
                                                                        "run starts")]
    source: str = Field(description="'default (shipped with interp)' or 'option --claims'")


class AlgorithmThresholds(Strict):
    gradient_symmetricity: float
    distance_irrelevance: float


class Percentiles(Strict):
    gradient_symmetricity: float | None
    distance_irrelevance_wrong_logit: float | None


class Algorithm(Strict):
    """Clock or pizza, as Zhong et al. decide it (docs/claims.md, "Clock or pizza")."""

    algorithm: Literal["clock", "pizza", "undetermined"] = Field(description="the verdict")
    basis: str = Field(description="what decided it")
    thresholds: AlgorithmThresholds = Field(description="the two cut points")
    gradient_symmetricity: float | None = Field(description="null where not finite")
    distance_irrelevance: float | None = Field(description="null where not finite")
    distance_irrelevance_wrong_logit: float | None = Field(description="null where not finite")
    published_percentile: Percentiles = Field(
        description="the numbers' percentiles among Zhong et al.'s published_n solved 1-layer runs (distance "
                    "irrelevance through its wrong-logit version, the number their tables hold)")
    published_n: int = Field(description="how many published runs the percentiles are among")


class Totals(Strict):
    """Counts of the checkpoint's rows by verdict. The gate (pytest's exit status) fails exactly
    when ``failed + not_applicable > 0``."""

    claims: int = Field(description="the gated rows (every verdict but NOT-GATED)")
    passed: int
    failed: int
    known_failures: int
    not_applicable: int
    not_gated: int = Field(description="the rows not gated on this architecture")
    by_construction: int = Field(description="passing rows that hold by construction (a subset of passed)")


class ClaimRow(Strict):
    """One claim case evaluated on the checkpoint."""

    id: str = Field(description="the claim case, as in the pytest node id <checkpoint>::<id>")
    metric: str = Field(description="the function in interp/metrics.py (or interp/metrics_causal.py)")
    params: dict[str, int | float | str] = Field(description="its parameters, the case's for_each values included")
    value: float | None = Field(description="the measurement (null if not finite)")
    op: Literal[tuple(OPS)] = Field(description="the comparison the claim makes")
    threshold: float = Field(description="the number value is compared with (the claim's threshold on this "
                                         "architecture)")
    passed: bool = Field(description="value op threshold is true on a finite value, and the claim is applicable "
                                     "(SPEC's field)")
    margin: float | None = Field(
        description="how far value is on the passing side of threshold: value - threshold for > and >=, threshold - "
                    "value for < and <=, -abs(value - threshold) for ==; negative: failing; null with value")
    verdict: Literal[VERDICTS] = Field(
        description="as in the terminal summary; NOT-GATED: measured, but the claim's gated_on leaves this "
                    "architecture out: passed says whether the value holds, and the gate does not count it")
    statement: str = Field(description="what the claim says")
    family: str = Field(description="the claim's group")
    holds_by_construction: Literal[True] = optional(
        "present (true) when the architecture fixes this metric's value so that the claim cannot fail")
    known_failure: str = optional("present on a KNOWN-FAIL: the reason recorded for exactly this sha256")
    not_applicable: str = optional("present on an N/A, and on a NOT-GATED row of a model that does not solve the "
                                   "task: which required claim does not hold")
    message: str = optional("present on a FAIL that the numbers alone do not explain (a drifted known failure, a "
                            "non-finite value, a task hint), and on a NOT-GATED row where they do not")


class NotEvaluated(Strict):
    id: str = Field(description="the claim case")
    reason: str = Field(description="what the architecture does not have")


class CheckpointReport(Strict):
    """One checkpoint: identity, architecture, task, shapes, key frequencies, totals, every
    evaluated claim case, those not defined for its architecture, and those not selected."""

    checkpoint: str = Field(description="the file as given")
    entry: str = optional("present for a snapshot of a full-run file: its name within the file (epoch000100, final)")
    epoch: int | None = optional("present with entry: the snapshot's epoch")
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="the sha256 of the file's bytes (known "
                                                                        "failures are bound to it)")]
    p: int = Field(description="the modulus, read from the weights' shapes (or from the files or --p: facts)")
    d_model: int = optional("from the weights' shapes")
    d_mlp: int = optional("from the weights' shapes")
    n_heads: int = optional("a transformer's number of heads, from the shapes")
    d_head: int = optional("a transformer's head size, from the shapes")
    architecture: str = Field(description="the computation, 'mlp' or 'transformer' (or an adapter's name)")
    n_layers: int = Field(description="its number of layers; the claims read the last")
    gated_as: str = Field(description="the architecture as the claims' gated_on names it (docs/claims.md): mlp, "
                                      "transformer, deep-mlp, mlp-quad, adapted, ...")
    format: str = Field(description="the layout read (docs/formats.md): interp-mlp, transformerlens, nanda, zhong, "
                                    "chughtai, onehot, or pytest_interp_model")
    task: Literal["add", "sub"] = Field(description="(a + b) mod p or (a - b) mod p")
    task_source: str = Field(description="where the task came from: 'option --task', 'file (...)' (the file's "
                                         "config or a sidecar, named) or 'default'")
    facts: dict[str, Sourced] = Field(
        description="every fact known of the model with its source: p, task, input_form, attn_coeff, act, split, "
                    "split_seed, split_fraction, layout, epoch, ... (docs/formats.md)")
    stored: dict[str, Any] = optional(
        "present when the file stored its own numbers (test_accuracy, train_accuracy, losses): the one-hot study's "
        "epoch files")
    key_freqs: list[int] = Field(description="the key frequencies the claims used")
    key_freqs_source: Literal["auto", "given"] = Field(description="'auto' (found by the rule) or 'given' "
                                                                   "(--key-freqs)")
    key_freqs_found: list[int] = optional(
        "present with --key-freqs: the key frequencies the model's readout gives by the rule")
    warnings: list[str] = optional("present when any: one line each; now only --key-freqs that differ from "
                                   "key_freqs_found (the same line is printed in the terminal summary)")
    algorithm: Algorithm = optional("present when any claim of the checkpoint ran: clock or pizza as Zhong et al. "
                                    "decide it (docs/claims.md, 'Clock or pizza'): the verdict, what decided it, the "
                                    "two cut points, the two numbers and the wrong-logit distance irrelevance, and "
                                    "their percentiles among Zhong et al.'s published_n solved 1-layer runs")
    totals: Totals = Field(description="counts of claims by verdict: claims the gated rows (every verdict but "
                                       "NOT-GATED), not_gated the others; by_construction counts passing rows that "
                                       "hold by construction (a subset of passed). The gate (pytest's exit status) "
                                       "fails exactly when failed + not_applicable > 0")
    claims: list[ClaimRow] = Field(description="one row per evaluated claim case, in the claims file's order")
    not_evaluated: list[NotEvaluated] = Field(
        description="claim cases the architecture has nothing for (verdict SKIP), with the reason; not in claims "
                    "or totals")
    deselected: list[str] | None = optional(
        "the claim cases of this checkpoint that the run did not select (-k, -m, --deselect, node ids of only some "
        "claims), in the claims file's order; not in claims, not_evaluated or totals; [] when every case was "
        "selected; null only where no collection reached the process that wrote the report")


class RunReport(Strict):
    """What the whole run gated with: the same for every checkpoint of the run."""

    schema_version: Literal[SCHEMA_VERSION] = Field(description="this schema's version")
    gate: Literal[GATE_MODES] = Field(
        description="the gate mode (--gate, ini interp_gate), which changes verdicts: population (the default), "
                    "seed or all")
    claims_file: ClaimsFileRef = optional("the claims file the run read: path (absolute), sha256 of its bytes, and "
                                          "source, 'default (shipped with interp)' or 'option --claims'")
    options: dict[str, Sourced] = Field(
        description="every option given that changes a verdict, each {value, source: 'option --X'}: the facts "
                    "(task, p, input_form, attn_coeff, act, split, split_seed, split_fraction), claims (--claims, the "
                    "resolved path), key_freqs (--key-freqs) and gate (--gate or the ini's interp_gate, when not the "
                    "default); an option not given is absent")
    notes: list[str] = optional("present when any: one-line notes about the files, e.g. snapshots saved without "
                                "cloning")


class OneCheckpointReport(CheckpointReport, RunReport):
    """The report of a run that gated one checkpoint: the run's fields, then the checkpoint's."""

    model_config = ConfigDict(title="interp claims report (one checkpoint)")


class SweepReport(RunReport):
    """The report of a run that gated several checkpoints (a directory, a full-run file, or
    ``--checkpoint`` given several times)."""

    model_config = ConfigDict(title="interp claims report (several checkpoints)")

    checkpoints: list[CheckpointReport] = Field(description="one per checkpoint, in the run's order")


def report_model(data: dict) -> OneCheckpointReport | SweepReport:
    """The report's model, validated: a field the models do not define, a missing one or a value
    of the wrong type raises pydantic's ``ValidationError`` (a bug in the writer, not bad input)."""
    model = SweepReport if "checkpoints" in data else OneCheckpointReport
    return model.model_validate(data)


def report_json(data: dict) -> dict:
    """The report as JSON data, through its model: only the fields it defines, in its order, and
    no field that was not given."""
    return report_model(data).model_dump(mode="json", exclude_unset=True)
