"""Place the thresholds and decide which architectures each claim gates, from the population:
``python -m calibration.calibrate`` prints what the rule gives for every claim of the default
claims file, beside what the file says; ``--write`` writes it into the file
(``--population PATH``: another data file of the same columns).

The rule is docs/claims.md, "The calibration rule" (written before the horizon population was
measured). In short, per claim and architecture A (``mlp``, ``transformer``):

* the **positives** are A's clean grokked models (stage ``final``, ``clean`` 1), less the pizzas
  for a claim that names ``pizza`` among its ``population_negatives``; the **negatives** are the
  claim's negative references of A, and the population's models of A of the kinds the claim
  names (:data:`NEGATIVE_STAGES`, and ``pizza``), wherever the claim applies (its ``requires``
  hold);
* only the **calibration** half (even seeds) places and gates. A calibrated threshold gates A
  when A's :func:`calibration_bound` (at least :data:`MIN_POSITIVES` models) lies strictly on the
  passing side of A's nearest negative; its threshold on A is then :func:`rule_threshold` of the
  two (``thresholds: {A: x}`` in the claims file). A fixed threshold (seed, paper, exact) gates A
  when at least :data:`GATED_SHARE` of A's calibration positives (at least :data:`MIN_POSITIVES`)
  hold it;
* the **held-out** half (odd seeds) only measures: the false-fail rate with its one-sided 95%
  Clopper-Pearson upper bound (:func:`clopper_pearson_upper`), and the true-fail rate per kind of
  negative.

A calibrated claim's default ``threshold`` (the one used where it has no per-architecture entry)
is placed on its references (the worst positive and the nearest negative reference); that needs
the third-party reference checkpoint where the claim names it, and is left as the file has it
without. ``tests/acceptance/test_population.py`` recomputes all of this from the committed file;
``tests/unit/test_calibration_rule.py`` works the rule out by hand on a small table.
"""

from __future__ import annotations

import argparse
import csv
import math
import operator
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
POPULATION = ROOT / "population.csv"
GATED_SHARE = 0.95  # a fixed threshold gates where at least this share of the calibration positives hold it
MIN_POSITIVES = 5  # fewer calibration positives of an architecture: the claim does not gate it
QUANTILE_STEP = 20  # the calibration bound is the value of rank n // 20 + 1 from the failing end (5%)
CONFIDENCE = 0.95  # of the one-sided Clopper-Pearson bound on the held-out false-fail rate
ARCHITECTURES = ("mlp", "transformer")  # those the population has (1 layer / 1 block each)
HALVES = ("calibration", "held-out")
EVERY_ARCHITECTURE = ("accuracy",)  # metrics that define the task: gated on all, deeper models included
POSITIVE_STAGE = "final"
NEGATIVE_STAGES = {"full-data": "full-data", "grokking": "grokking"}  # kind: the stage its rows have
PIZZA_FAMILIES = ("zhong-c0",)  # as interp.algorithm.PIZZA_FAMILIES (test_calibration_rule.py checks)
OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq}


def rule_threshold(worst_positive: float, nearest_negative: float) -> float:
    """The rule that places a calibrated threshold: halfway between the worst positive and the
    nearest negative, rounded to two significant digits (three, or more, where two would not fall
    strictly between them); on a logarithmic scale (the geometric mean, one significant digit, or
    more) where both are positive and more than a hundred times apart, as losses are.

    >>> rule_threshold(0.987, 0.910), rule_threshold(0.654, 0.0432), rule_threshold(1.5e-6, 0.019)
    (0.95, 0.35, 0.0002)
    >>> rule_threshold(0.8893, 0.8821)  # 0.89 would not be below 0.8893
    0.886
    """
    low, high = sorted((worst_positive, nearest_negative))
    logarithmic = low > 0 and high / low > 100
    middle, digits = (math.sqrt(low * high), 1) if logarithmic else ((low + high) / 2, 2)
    while not low < float(f"{middle:.{digits - 1}e}") < high:
        digits += 1
    return float(f"{middle:.{digits - 1}e}")


def worst_of(values: list[float], op: str) -> float:
    """The value nearest the failing side: the lowest for ``>``, ``>=``, ``==``; else the highest."""
    return max(values) if op in ("<", "<=") else min(values)


def nearest_of(values: list[float], op: str) -> float:
    """Of negatives, the one nearest the passing side: the highest for ``>``, ``>=``, ``==``; else
    the lowest."""
    return min(values) if op in ("<", "<=") else max(values)


def passing_side(value: float, op: str, than: float) -> bool:
    """``value`` lies strictly on the passing side of ``than`` (``==`` claims: above it)."""
    return value < than if op in ("<", "<=") else value > than


def calibration_bound(values: list[float], op: str) -> float:
    """The empirical 5% quantile from the failing end, as an order statistic: the value of rank
    ``k = n // 20 + 1`` with the values sorted from the failing end (the worst for n < 20, the
    second worst for 20 <= n < 40, ...).

    >>> calibration_bound([0.9, 0.5, 0.8], ">"), calibration_bound([0.3] + [0.9] * 19, ">")
    (0.5, 0.9)
    >>> calibration_bound([1e-6, 3e-3, 2e-6], "<")
    0.003
    """
    ordered = sorted(values, reverse=op in ("<", "<="))
    return ordered[len(values) // QUANTILE_STEP]


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed term by term.

    >>> round(binomial_cdf(1, 2, 0.5), 6), binomial_cdf(3, 3, 0.2)
    (0.75, 1.0)
    """
    return min(1.0, sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k + 1)))


def clopper_pearson_upper(k: int, n: int, confidence: float = CONFIDENCE) -> float:
    """The one-sided Clopper-Pearson upper bound on a rate from ``k`` events in ``n`` trials: the
    p at which ``P(X <= k) = 1 - confidence`` for X ~ Binomial(n, p) (1 where k = n), found by
    bisection (P(X <= k) falls as p rises). With k = 0 it is ``1 - (1 - confidence)^(1/n)``.

    >>> [round(clopper_pearson_upper(0, n), 4) for n in (7, 19, 59)]
    [0.3482, 0.1459, 0.0495]
    >>> round(clopper_pearson_upper(1, 10), 4), clopper_pearson_upper(3, 3)
    (0.3942, 1.0)
    """
    if n <= 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k = {k}, n = {n}")
    if k == n:
        return 1.0
    low, high = k / n, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        low, high = (middle, high) if binomial_cdf(k, n, middle) > 1 - confidence else (low, middle)
    return (low + high) / 2


def read_population(path: Path = POPULATION) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _value(row: dict, column: str) -> float | None:
    text = row.get(column, "")
    return None if text in ("", None) else float(text)


def is_positive(row: dict) -> bool:
    """A clean grokked model at the end of its run."""
    return row["stage"] == POSITIVE_STAGE and row["clean"] == "1"


def applies(row: dict, required: tuple = ()) -> bool:
    """The claim applies to the row's model: each claim it requires (``required``, those
    :class:`~interp.claims.claim.Claim` objects, transitively) holds on it, at its threshold on
    the row's architecture."""
    for claim in required:
        value = _value(row, claim.id)
        if value is None or not OPS[claim.op](value, claim.threshold_on(row["architecture"])):
            return False
    return True


def positive_values(rows: list[dict], claim, architecture: str, half: str) -> list[float]:
    """The claim's worst case on each positive of one architecture and half."""
    pizza_out = "pizza" in claim.population_negatives
    return [float(r[claim.id]) for r in rows if is_positive(r) and r["architecture"] == architecture
            and r["half"] == half and r.get(claim.id, "") != "" and not (pizza_out and r["family"] in PIZZA_FAMILIES)]


def grokked_values(rows: list[dict], claim_id: str, architecture: str, half: str) -> list[float]:
    """The claim's worst case on each clean grokked model of one architecture and half (every
    family: the clock/pizza tables read it)."""
    return [float(r[claim_id]) for r in rows if is_positive(r) and r["architecture"] == architecture
            and r["half"] == half and r.get(claim_id, "") != ""]


def population_negatives(rows: list[dict], claim, architecture: str, half: str, kind: str,
                         required: tuple = ()) -> list[tuple[float, str]]:
    """``(worst case, model)`` of the population's negatives of one kind the claim names, of one
    architecture and half, where the claim applies."""
    if not claim.names_negatives(kind, architecture):
        return []
    return [(float(r[claim.id]), f"{r['family']} seed {r['seed']} ({kind})") for r in negative_rows(rows, kind)
            if r["architecture"] == architecture and r["half"] == half and r.get(claim.id, "") != ""
            and applies(r, required)]


def negative_rows(rows: list[dict], kind: str) -> list[dict]:
    """The population's models of one kind of negative (:data:`NEGATIVE_STAGES`, or ``pizza``:
    the pizza families' clean grokked models)."""
    if kind == "pizza":
        return [r for r in rows if is_positive(r) and r["family"] in PIZZA_FAMILIES]
    return [r for r in rows if r["stage"] == NEGATIVE_STAGES[kind]]


def untrained_values(rows: list[dict], claim_id: str, architecture: str) -> list[float]:
    """The claim's worst case on the population's untrained and memorising models (no claim
    applies to them: they do not solve the task)."""
    return [float(r[claim_id]) for r in rows if r["stage"] in ("init", "memorised")
            and r["architecture"] == architecture and r.get(claim_id, "") != ""]


@dataclass
class OnArchitecture:
    """What the rule gives for one claim on one architecture."""

    threshold: float
    gated: bool
    calibration: int  # calibration positives
    calibration_holding: int
    bound: float | None  # calibrated claims: the calibration bound
    nearest_negative: tuple[float, str] | None  # over the references and the calibration half's negatives
    held_out: int  # held-out positives
    held_out_failing: int
    true_fail: dict[str, tuple[int, int]] = field(default_factory=dict)  # kind: (failing, held-out negatives)

    @property
    def false_fail_upper(self) -> float | None:
        """The one-sided 95% Clopper-Pearson upper bound on the held-out false-fail rate."""
        return clopper_pearson_upper(self.held_out_failing, self.held_out) if self.held_out else None


@dataclass
class Placement:
    """What the rule gives for one claim: per architecture its threshold and gate, and the counts."""

    claim_id: str
    op: str
    calibrated: bool
    default: float
    on: dict[str, OnArchitecture]

    @property
    def gated_on(self) -> list[str]:
        return [a for a in ARCHITECTURES if self.on[a].gated]

    @property
    def thresholds(self) -> dict[str, float]:
        """The per-architecture entries of the claims file: a calibrated claim's gated architectures."""
        return {a: self.on[a].threshold for a in self.gated_on} if self.calibrated else {}


def place(claim, rows: list[dict], reference_negatives: dict[str, list[tuple[float, str]]],
          required: tuple = ()) -> Placement:
    """The rule (docs/claims.md, "The calibration rule") for one claim: ``rows`` the data file,
    ``reference_negatives`` per architecture the claim's negative references of it where the claim
    applies (``(worst case, name)``), ``required`` the claims it requires (transitively)."""
    calibrated = claim.threshold_source == "calibrated"
    on = {}
    for arch in ARCHITECTURES:
        positives = positive_values(rows, claim, arch, "calibration")
        negatives = list(reference_negatives.get(arch, []))
        for kind in claim.population_negatives:
            negatives += population_negatives(rows, claim, arch, "calibration", kind, required)
        nearest = None
        if negatives:
            value = nearest_of([v for v, _ in negatives], claim.op)
            nearest = next((v, name) for v, name in negatives if v == value)
        enough = len(positives) >= MIN_POSITIVES
        bound = calibration_bound(positives, claim.op) if positives else None
        threshold = claim.threshold
        if calibrated:
            gated = enough and nearest is not None and passing_side(bound, claim.op, nearest[0])
            if gated:
                threshold = rule_threshold(bound, nearest[0])
            holding = sum(OPS[claim.op](v, threshold) for v in positives)
        else:
            holding = sum(OPS[claim.op](v, threshold) for v in positives)
            gated = enough and holding >= GATED_SHARE * len(positives)
        held_out = positive_values(rows, claim, arch, "held-out")
        true_fail = {}
        for kind in claim.population_negatives:
            values = [v for v, _ in population_negatives(rows, claim, arch, "held-out", kind, required)]
            true_fail[kind] = (sum(not OPS[claim.op](v, threshold) for v in values), len(values))
        on[arch] = OnArchitecture(threshold, gated, len(positives), holding, bound if calibrated else None, nearest,
                                  len(held_out), sum(not OPS[claim.op](v, threshold) for v in held_out), true_fail)
    return Placement(claim.id, claim.op, calibrated, claim.threshold, on)


def required_claims(claim, claims) -> tuple:
    """The claims ``claim`` requires, transitively, as :class:`~interp.claims.claim.Claim` objects."""
    out, todo = [], list(claim.requires)
    while todo:
        required = claims.claim(todo.pop())
        if required not in out:
            out.append(required)
            todo.extend(required.requires)
    return tuple(out)


def reference_negatives(claim, claims, reference_path: Path | None = None) -> dict[str, list[tuple[float, str]]]:
    """Per architecture, the claim's negative references of it on which it applies (its
    ``requires`` hold), each as ``(worst case, name)``; the references that need the third-party
    checkpoint are left out without ``reference_path``."""
    from interp.claims.claim import gate_architecture
    from interp.claims.verdicts import requirement_failures
    from tests._references import references_of, run_of, worst

    out: dict[str, list[tuple[float, str]]] = {}
    for name in references_of(claim, "fails", reference_path):
        run = run_of(name, reference_path)
        found = worst(claim, run)
        if found is None or requirement_failures(claim, claims, run):
            continue  # not defined there, or the claim does not apply: no evidence about its threshold
        out.setdefault(gate_architecture(run.model), []).append((found[1], name))
    return out


def reference_default(claim, claims, reference_path: Path | None) -> float | None:
    """A calibrated claim's default threshold: :func:`rule_threshold` of its worst positive and
    nearest negative reference, every architecture together; None where that needs the
    third-party reference checkpoint and it is not at hand, or the references do not separate."""
    from tests._references import calibration

    if claim.threshold_source != "calibrated":
        return None
    named = (*claim.references.get("holds", ()), *claim.references.get("fails", ()))
    if reference_path is None and "reference" in named:
        return None
    numbers = calibration(claim, claims, reference_path)
    positive, negative = numbers["worst_positive"], numbers["nearest_negative"]
    if positive is None or negative is None or not passing_side(positive[1], claim.op, negative[1]):
        return None
    return rule_threshold(positive[1], negative[1])


def placements(claims, rows: list[dict], reference_path: Path | None = None) -> dict[str, Placement]:
    """:func:`place` for every claim of a claims file, with its default threshold as the file
    has it (:func:`calibration_run` sets it first)."""
    return {c.id: place(c, rows, reference_negatives(c, claims, reference_path), required_claims(c, claims))
            for c in claims.claims}


def _format_thresholds(thresholds: dict[str, float]) -> str:
    return "{" + ", ".join(f"{a}: {t:g}" for a, t in thresholds.items()) + "}"


def write_placement(text: str, found: Placement, gated_on_all: bool, default: float | None = None) -> str:
    """The claims file's text with one claim's default ``threshold`` (``default``, where given),
    its ``thresholds`` and its ``gated_on`` set as the rule gives them; comments and order kept."""
    start = text.index(f"  - id: {found.claim_id}\n")
    end = min(i for i in (text.find("\n  - id: ", start + 1), text.find("\n\n", start)) if i != -1)
    block = text[start:end]
    if default is not None:
        block = re.sub(r"(?m)^    threshold: .*$", f"    threshold: {default:g}", block)
    block = re.sub(r"(?m)^    thresholds: .*\n", "", block)
    if found.thresholds:
        block = re.sub(r"(?m)^(    threshold: .*)$",
                       lambda m: f"{m.group(1)}\n    thresholds: {_format_thresholds(found.thresholds)}", block)
    block = re.sub(r"(?m)^    gated_on: .*\n", "", block)
    if not gated_on_all:
        block = re.sub(r"(?m)^(    threshold_source: .*)$",
                       lambda m: f"{m.group(1)}\n    gated_on: [{', '.join(found.gated_on)}]", block)
    return text[:start] + block + text[end:]


def gated_on_all(claim, found: Placement) -> bool:
    """``gated_on: all``: a claim that defines the task, gated on every architecture of the population."""
    return claim.metric in EVERY_ARCHITECTURE and found.gated_on == list(ARCHITECTURES)


def calibration_run(claims, rows: list[dict], reference_path: Path | None, text: str) -> tuple[str, dict]:
    """The rule on a claims file: its new text and ``{claim id: Placement}``."""
    from dataclasses import replace

    found = {}
    for claim in claims.claims:
        default = reference_default(claim, claims, reference_path)
        claim = claim if default is None else replace(claim, threshold=default)
        found[claim.id] = place(claim, rows, reference_negatives(claim, claims, reference_path),
                                required_claims(claim, claims))
        text = write_placement(text, found[claim.id], gated_on_all(claim, found[claim.id]), default)
    return text, found


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT.parent))
    from conftest import REFERENCE
    from interp.claims.load import DEFAULT_CLAIMS, load_claims

    parser = argparse.ArgumentParser(prog="python -m calibration.calibrate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="write the thresholds and gated_on into the claims file")
    parser.add_argument("--population", type=Path, default=POPULATION, help="the data file (default: %(default)s)")
    args = parser.parse_args(argv)
    claims = load_claims(DEFAULT_CLAIMS)
    reference = REFERENCE if REFERENCE.is_file() else None
    if reference is None:
        print(f"no reference checkpoint at {REFERENCE}: the default thresholds of the claims that name it stay")
    text, found = calibration_run(claims, read_population(args.population), reference, DEFAULT_CLAIMS.read_text())
    for claim in claims.claims:
        placed = found[claim.id]
        cells = []
        for arch, on in placed.on.items():
            upper = "–" if on.false_fail_upper is None else f"{on.false_fail_upper:.3f}"
            cells.append(f"{arch}: {'GATED' if on.gated else 'not'} {claim.op} {on.threshold:g} "
                         f"(calibration {on.calibration_holding}/{on.calibration}, held-out false-fail "
                         f"{on.held_out_failing}/{on.held_out}, 95% upper {upper})")
        print(f"{claim.id:38} default {claim.op} {placed.default:g} (file {claim.threshold:g}); " + "; ".join(cells))
    if args.write:
        DEFAULT_CLAIMS.write_text(text)
        print(f"{DEFAULT_CLAIMS}: thresholds and gated_on written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
