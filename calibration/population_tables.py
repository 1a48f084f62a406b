"""The population's tables in docs/claims.md: ``python -m calibration.population_tables`` writes
them between ``<!-- population:begin -->`` and ``<!-- population:end -->``, and the gate's
per-model rates into README.md between ``<!-- population-rates:begin -->`` and its end
(``tests/acceptance/test_population.py`` checks that the files hold what this gives).

Per claim and architecture (docs/claims.md, "The calibration rule"): the threshold there and
whether the claim gates it, from the calibration half (its positives, the calibration bound of a
calibrated claim and the nearest negative); what the held-out half measures (the false-fail rate
with its one-sided 95% Clopper-Pearson upper bound, and the true-fail rate per kind of negative);
and the clean grokked models' worst case over both halves (10th / 50th / 90th percentiles). Then
the clock/pizza verdict per family.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from calibration.calibrate import (  # noqa: E402
    ARCHITECTURES,
    EVERY_ARCHITECTURE,
    OPS,
    PIZZA_FAMILIES,
    clopper_pearson_upper,
    grokked_values,
    is_positive,
    negative_rows,
    read_population,
)
from interp import algorithm  # noqa: E402
from interp.report import format_number  # noqa: E402

DOCS = ROOT.parent / "docs" / "claims.md"
README = ROOT.parent / "README.md"
MARK, RATES = "population", "population-rates"


def _quantiles(values: list[float]) -> str:
    if not values:
        return "–"
    return " / ".join(format_number(float(q)) for q in np.quantile(values, [0.1, 0.5, 0.9]))


def _rate(failing: int, total: int) -> str:
    """``k of n (rate)``, and the one-sided 95% Clopper-Pearson upper bound, as two cells."""
    if not total:
        return "– | –"
    return f"{failing} of {total} ({100 * failing / total:.0f}%) | {100 * clopper_pearson_upper(failing, total):.0f}%"


def claims_table(claims, rows: list[dict], placements: dict) -> str:
    lines = ["| claim | source | architecture | threshold | gated | calibration positives holding | "
             "calibration bound | nearest negative | held-out false-fail | 95% upper bound | "
             "held-out negatives failing | grokked, 10th / 50th / 90th pct |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for claim in claims.claims:
        found = placements[claim.id]
        for architecture in ARCHITECTURES:
            on = found.on[architecture]
            values = [*grokked_values(rows, claim.id, architecture, "calibration"),
                      *grokked_values(rows, claim.id, architecture, "held-out")]
            head = f"| `{claim.id}` | {claim.threshold_source} | {architecture} | {claim.op} {on.threshold:g} | "
            if not values:
                lines.append(head + "– | not defined | – | – | – | – | – | – |")
                continue
            nearest = "–" if on.nearest_negative is None else \
                f"{format_number(on.nearest_negative[0])} ({on.nearest_negative[1]})"
            negatives = ", ".join(f"{kind} {k} of {n} ({100 * k / n:.0f}%)"
                                  for kind, (k, n) in on.true_fail.items() if n) or "–"
            lines.append(
                head + f"{'**yes**' if on.gated else 'NOT-GATED'} | {on.calibration_holding} of {on.calibration} | "
                f"{'–' if on.bound is None else format_number(on.bound)} | {nearest} | "
                f"{_rate(on.held_out_failing, on.held_out)} | {negatives} | {_quantiles(values)} (n = {len(values)}) |")
    return "\n".join(lines)


def _misses(row: dict, claim, threshold: float) -> bool:
    """The row's worst case misses the threshold (a claim not defined there misses nothing)."""
    return row.get(claim.id, "") != "" and not OPS[claim.op](float(row[claim.id]), threshold)


def gate_rates(claims, rows: list[dict], placements: dict) -> str:
    """Per gate mode and architecture (docs/claims.md, "The calibration rule"), over the held-out
    half: how many positives miss at least one claim the mode gates on their architecture (each
    at its threshold there; a pizza only the claims it is a positive of), with the one-sided 95%
    Clopper-Pearson upper bound on that rate; and per kind of negative, how many miss at least
    one gated claim other than ``test-accuracy`` (a pizza, of the claims naming ``pizza``).
    ``seed`` adds the notebook's claims on the MLP at the notebook's thresholds
    (:data:`interp.claims.claim.SEED_CLAIMS`)."""
    from interp.claims.claim import POPULATION_NEGATIVE_KINDS, SEED_ARCHITECTURE, SEED_CLAIMS

    modes = {"population (default)": lambda c, a: placements[c.id].on[a].gated,
             "seed": lambda c, a: placements[c.id].on[a].gated or (c.id in SEED_CLAIMS and a == SEED_ARCHITECTURE)}
    lines = ["| gate mode | architecture | claims gated | held-out positives failing at least one | "
             "95% upper bound | held-out negatives failing one beyond test accuracy |", "|---|---|---|---|---|---|"]
    for mode, gated in modes.items():
        for architecture in ARCHITECTURES:
            chosen = [c for c in claims.claims if gated(c, architecture)]

            def fails(row, among, architecture=architecture):
                return any(_misses(row, c, placements[c.id].on[architecture].threshold) for c in among)

            held = [r for r in rows if r["architecture"] == architecture and r["half"] == "held-out"]
            models = [r for r in held if is_positive(r)]
            failing = sum(fails(r, [c for c in chosen if not (r["family"] in PIZZA_FAMILIES
                                                             and "pizza" in c.population_negatives)])
                          for r in models)
            beyond = [c for c in chosen if c.metric not in EVERY_ARCHITECTURE]
            negatives = []
            for kind in POPULATION_NEGATIVE_KINDS:  # pizzas: negatives only of the claims that name them
                among = [c for c in beyond if kind != "pizza" or kind in c.population_negatives]
                of_kind = negative_rows(held, kind) if among else []
                if of_kind:
                    negatives.append(f"{kind} {sum(fails(r, among) for r in of_kind)} of {len(of_kind)}")
            lines.append(f"| {mode} | {architecture} | {len(chosen)} | {_rate(failing, len(models))} | "
                         f"{', '.join(negatives) or 'none measured yet'} |")
    return "\n".join(lines)


def algorithm_table(rows: list[dict]) -> str:
    """Per family, the clean grokked models' verdicts (calibration + held-out) and their numbers."""
    lines = ["| family | role | models | clock | pizza | undetermined | gradient symmetricity >= cut | "
             "gradient symmetricity, 10th / 50th / 90th pct | distance irrelevance | "
             "wrong-logit distance irrelevance |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    families = sorted({r["family"] for r in rows})
    for family in families:
        models = [r for r in rows if r["family"] == family and r["stage"] == "final" and r["clean"] == "1"]
        if not models:
            continue
        role = ("pizza (calibrates)" if family in algorithm.PIZZA_FAMILIES else
                "clock (calibrates)" if family in algorithm.CLOCK_FAMILIES else "–")
        verdicts = [algorithm.classify(float(r["gradient-symmetricity"]), float(r["distance-irrelevance"]),
                                       r["architecture"] == "mlp")["algorithm"] for r in models]
        count = {v: sum(x == v for x in verdicts) for v in (algorithm.CLOCK, algorithm.PIZZA, algorithm.UNDETERMINED)}
        numbers = [_quantiles([float(r[c]) for r in models])
                   for c in ("gradient-symmetricity", "distance-irrelevance", "distance-irrelevance-wrong-logit")]
        symmetric = sum(float(r["gradient-symmetricity"]) >= algorithm.SYMMETRIC for r in models)
        lines.append(f"| `{family}` | {role} | {len(models)} | {count['clock']} | {count['pizza']} | "
                     f"{count['undetermined']} | {symmetric} of {len(models)} | " + " | ".join(numbers) + " |")
    for band in algorithm.published()["bands"]:
        low, high = band["attn_coeff"]
        below = algorithm.percentile("gradient_symmetricity", algorithm.SYMMETRIC - 1e-9,
                                     band["gradient_symmetricity_quantiles"])
        lines.append(f"| Zhong et al., published, c in [{low:g}, {high:g}{']' if high == 1 else ')'} | – | "
                     f"{band['n']:,} | | | | about {100 - below:.0f}% | "
                     + " / ".join(f"{q:g}" for q in band["gradient_symmetricity"]) + " | – | "
                     + " / ".join(f"{q:g}" for q in band["distance_irrelevance_wrong_logit"]) + " |")
    return "\n".join(lines)


def population_tables(claims, rows: list[dict], placements: dict) -> str:
    return claims_table(claims, rows, placements) + "\n\n" + algorithm_table(rows)


def main() -> int:
    from calibration.calibrate import placements as place_all
    from interp.claims.load import DEFAULT_CLAIMS, load_claims
    from tests._tables import replace_blocks

    claims = load_claims(DEFAULT_CLAIMS)
    rows = read_population()
    found = place_all(claims, rows)
    DOCS.write_text(replace_blocks(DOCS.read_text(), {MARK: population_tables(claims, rows, found)}))
    README.write_text(replace_blocks(README.read_text(), {RATES: gate_rates(claims, rows, found)}))
    print(f"{DOCS}: {MARK} tables written; {README}: {RATES} written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
