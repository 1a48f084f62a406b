"""Place the thresholds and decide which architectures each claim gates, from the population:
``python -m calibration.calibrate`` prints what the rule gives for every claim of the default
claims file, beside what the file says; ``--write`` writes it into the file.

The rule, per claim, over the clean grokked models of ``population.csv`` (``clean == 1``, stage
``final``), each represented by its worst case:

1. **Threshold** (``threshold_source: calibrated`` only). The candidate architectures are those
   whose *calibration* half (even seeds) lies strictly on the passing side of the nearest negative
   reference the claim applies to (``tests/_references.py``; the population's own negatives,
   untrained and memorising models, never solve the task, so the claim is N/A there). The
   threshold is :func:`rule_threshold` of the worst calibration value over the candidates and that
   negative.
2. **Gate.** A claim gates an architecture when at least :data:`GATED_SHARE` of that
   architecture's *held-out* models (odd seeds, all its families together) hold it at the
   threshold. A calibrated claim that misses this on an architecture drops it, and step 1 runs
   again without it (its threshold can only move away from the dropped models), until nothing
   changes.
3. An architecture without clean models in the population (deeper models, a lab's own adapter) is
   gated only by the claims gated on ``all``: those of :data:`EVERY_ARCHITECTURE`, the task itself
   (``test-accuracy``), where the population's architectures all bear them out.

The seed's, the paper's and the exact thresholds are not moved; step 2 alone decides where they
gate. ``tests/acceptance/test_population.py`` recomputes all of this from the committed file.
"""

from __future__ import annotations

import csv
import math
import operator
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent
POPULATION = ROOT / "population.csv"
GATED_SHARE = 0.95  # a gated claim holds on at least this share of the held-out grokked models
ARCHITECTURES = ("mlp", "transformer")  # those the population has (1 layer / 1 block each)
HALVES = ("calibration", "held-out")
EVERY_ARCHITECTURE = ("accuracy",)  # metrics that define the task: gated on all, deeper models included
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


def passing_side(value: float, op: str, than: float) -> bool:
    """``value`` lies strictly on the passing side of ``than`` (``==`` claims: above it)."""
    return value < than if op in ("<", "<=") else value > than


def read_population(path: Path = POPULATION) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def grokked_values(rows: list[dict], claim_id: str, architecture: str, half: str) -> list[float]:
    """The claim's worst case on each clean grokked model of one architecture and half."""
    return [float(r[claim_id]) for r in rows if r["stage"] == "final" and r["clean"] == "1"
            and r["architecture"] == architecture and r["half"] == half and r.get(claim_id, "") != ""]


def negative_values(rows: list[dict], claim_id: str, architecture: str) -> list[float]:
    """The claim's worst case on the population's negatives (untrained and memorising models)."""
    return [float(r[claim_id]) for r in rows if r["stage"] in ("init", "memorised")
            and r["architecture"] == architecture and r.get(claim_id, "") != ""]


@dataclass
class Placement:
    """What the rule gives for one claim: its threshold, the architectures it gates, and per
    architecture the counts behind that."""

    claim_id: str
    op: str
    threshold: float
    calibrated: bool
    nearest_negative: float | None
    gated_on: list[str] = field(default_factory=list)
    held: dict[str, tuple[int, int]] = field(default_factory=dict)  # arch: (held-out holding, held-out)
    calibration_worst: dict[str, float] = field(default_factory=dict)

    def share(self, architecture: str) -> float:
        holding, total = self.held[architecture]
        return holding / total


def place(claim, rows: list[dict], nearest_negative: float | None) -> Placement:
    """The rule (module docstring) for one claim; ``nearest_negative``: the value of the nearest
    negative reference it applies to (needed for a calibrated threshold only)."""
    calibrated = claim.threshold_source == "calibrated"
    present = [a for a in ARCHITECTURES if grokked_values(rows, claim.id, a, "calibration")]
    worst = {a: worst_of(grokked_values(rows, claim.id, a, "calibration"), claim.op) for a in present}
    if calibrated:
        candidates = [a for a in present if passing_side(worst[a], claim.op, nearest_negative)]
    else:
        candidates = list(present)
    threshold = claim.threshold
    while True:
        if calibrated and candidates:
            threshold = rule_threshold(worst_of([worst[a] for a in candidates], claim.op), nearest_negative)
        held = {}
        for a in present:
            values = grokked_values(rows, claim.id, a, "held-out")
            held[a] = (sum(OPS[claim.op](v, threshold) for v in values), len(values))
        gated = [a for a in candidates if held[a][1] and held[a][0] >= GATED_SHARE * held[a][1]]
        if gated == candidates:
            break
        candidates = gated
    return Placement(claim.id, claim.op, threshold, calibrated, nearest_negative, gated, held, worst)


def write_placement(text: str, found: Placement, gated_on_all: bool) -> str:
    """The claims file's text with one claim's ``threshold`` (a calibrated one the population
    places) and ``gated_on`` set as the rule gives them; comments and order are kept."""
    import re

    start = text.index(f"  - id: {found.claim_id}\n")
    end = min(i for i in (text.find("\n  - id: ", start + 1), text.find("\n\n", start)) if i != -1)
    block = text[start:end]
    if found.calibrated and found.gated_on:
        block = re.sub(r"(?m)^    threshold: .*$", f"    threshold: {found.threshold:g}", block)
    block = re.sub(r"(?m)^    gated_on: .*\n", "", block)
    if not gated_on_all:
        block = re.sub(r"(?m)^(    threshold_source: .*)$",
                       lambda m: f"{m.group(1)}\n    gated_on: [{', '.join(found.gated_on)}]", block)
    return text[:start] + block + text[end:]


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT.parent))
    from interp.claims.load import DEFAULT_CLAIMS, load_claims
    from tests._references import calibration

    claims = load_claims(DEFAULT_CLAIMS)
    rows = read_population()
    text = DEFAULT_CLAIMS.read_text()
    for claim in claims.claims:
        negative = calibration(claim, claims, None)["nearest_negative"]
        found = place(claim, rows, None if negative is None else negative[1])
        every = claim.metric in EVERY_ARCHITECTURE and found.gated_on == list(ARCHITECTURES)
        text = write_placement(text, found, every)
        counts = ", ".join(f"{a} {h}/{n}" for a, (h, n) in found.held.items())
        print(f"{claim.id:38} {claim.op:>2} {found.threshold:<10g} gated_on {found.gated_on}  held-out: {counts}"
              f"  (file: {claim.threshold:g}, {list(claim.gated_on) if claim.gated_on is not None else 'all'})")
    if "--write" in argv:
        DEFAULT_CLAIMS.write_text(text)
        print(f"{DEFAULT_CLAIMS}: thresholds and gated_on written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
