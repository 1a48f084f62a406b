"""How a claim case comes out on one checkpoint (:func:`assess`):

* ``PASS`` / ``FAIL``: its value meets the threshold or not; a NaN or infinite value fails.
* ``N/A``: a claim it ``requires`` does not hold there, so what it says about *how* the model
  solves the task has nothing to describe. It never passes: the gate counts it as failed.
* ``KNOWN-FAIL``: a failure recorded in ``known_failures`` for exactly this sha256, with the same
  value (``math.isclose``, absolute tolerance 1e-4). A drifted value, a non-finite one or a
  record of a claim that now holds is a ``FAIL``.
* ``NOT-GATED``: the claim is measured and reported, but it does not gate this architecture
  (its ``gated_on`` leaves it out: the calibration population shows it does not describe that
  architecture's grokked models, or it was never claimed for it). Never a PASS, and not counted by
  the gate; the value and what the comparison gives are in the report (``passed`` is false where
  a claim it requires does not hold: it would be N/A).
* ``SKIP``: the metric reads something the architecture does not have (``W_E @ W_in`` of a
  transformer); no value, not a verdict on the model, and not counted by the gate.

Whether a claim holds *by construction* is a property of the architecture
(``by_construction`` in :mod:`interp.arch`): such a claim is still measured and reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The metrics register themselves on import. Imported by module name, not as attributes of the
# package: an in-process pytest run that restored sys.modules leaves those attributes stale.
import interp.metrics as metrics
import interp.metrics_causal  # noqa: F401  (registers the causal metrics)
from interp.claims.claim import Claim, ClaimCase, ClaimsFile, KnownFailure, gate_architecture, gates, run_attrs
from interp.registry import NotDefined
from interp.trajectories import when_it_holds

KNOWN_VALUE_TOLERANCE = 1e-4  # absolute, as math.isclose(abs_tol=...)
PASS, FAIL, KNOWN_FAIL, NOT_APPLICABLE, SKIP = "PASS", "FAIL", "KNOWN-FAIL", "N/A", "SKIP"
NOT_GATED = "NOT-GATED"


def evaluate(case: ClaimCase, run) -> float:
    """The metric's value on a run: run attributes by name, then the case's parameters. Raises
    :class:`NotDefined` when an attribute the metric reads is None for this architecture.

    Computed once per run for the same metric and parameters: two claims that read one metric
    with the same arguments (``excluded-loss`` and ``excluded-loss-at-most-uniform``), and the
    claims every other claim ``requires``, share one value, kept in the run's ``metric_values``
    (where it has one; a metric is a pure function of the run and its parameters)."""
    memo = getattr(run, "metric_values", None)
    key = (case.claim.metric, repr(sorted(case.params.items())))
    if memo is not None and key in memo:
        return memo[key]
    value = _compute(case, run)
    if memo is not None:
        memo[key] = value
    return value


def _compute(case: ClaimCase, run) -> float:
    fn = metrics.METRICS[case.claim.metric]
    inputs = {name: getattr(run, name) for name in metrics.run_inputs(fn, run_attrs())}
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
    unmet: tuple[str, ...] = ()  # on N/A or NOT-GATED: the required cases that do not hold, "id value op threshold"

    @property
    def passed(self) -> bool:
        """The claim's comparison holds on a finite, applicable value (SPEC's ``passed``)."""
        return self.value is not None and math.isfinite(self.value) and self.status != NOT_APPLICABLE and \
            not self.unmet and self.case.judge(self.value)

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
        reason = (f"not applicable: {'; '.join(self.unmet)} is false" if self.unmet and self.status == NOT_APPLICABLE
                  else self.message)
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
        required = claims.claim(rid).at(gate_architecture(run.model))
        for case in required.expand(run.key_freqs):
            value = evaluate(case, run)
            if not (math.isfinite(value) and case.judge(value)) or requirement_failures(required, claims, run):
                failing.append(f"{case.id} {format_value(value)} {required.op} {required.threshold:g}")
    return failing


def assess(case: ClaimCase, run, claims: ClaimsFile, sha256: str, mode: str = "population") -> Verdict:
    """Evaluate one claim case on a run and decide its verdict (the module docstring's rules), in
    gate ``mode`` (:data:`interp.claims.claim.GATE_MODES`: which claims gate which architecture)."""
    case = case.at(gate_architecture(run.model))  # its threshold on this architecture
    claim = case.claim
    try:
        value = evaluate(case, run)
    except NotDefined as exc:
        return Verdict(case, SKIP, None, f"not defined for this architecture: {exc}")
    constructed = run.model.by_construction.get(claim.metric)
    by_construction = constructed.reason if constructed and case.judge(constructed.value) else None
    unmet = requirement_failures(claim, claims, run)
    architecture = gate_architecture(run.model)
    if not gates(claim, architecture, mode):
        held = ("is not applicable" if unmet else "holds" if math.isfinite(value) and case.judge(value)
                else "does not hold")
        gated = ", ".join(claim.gated_on) or "no architecture: the population bears it out on none"
        in_mode = "" if mode == "population" else f"; gate mode {mode}"
        return Verdict(case, NOT_GATED, value, f"measured, not gated on {architecture} (gated on: {gated}{in_mode}); "
                       f"here it {held}", by_construction, unmet=tuple(unmet))
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
    return Verdict(case, FAIL, value, run.task_hint() if claim.metric == "accuracy" else
                   when_it_holds(claim.id, claim.op, claim.threshold, architecture), by_construction)
