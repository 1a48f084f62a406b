"""The population's tables in docs/claims.md: ``python -m calibration.population_tables`` writes
them between ``<!-- population:begin -->`` and ``<!-- population:end -->``
(``tests/acceptance/test_population.py`` checks that the file holds what this gives).

Per claim and architecture: the clean grokked models' worst case (10th / 50th / 90th percentiles
over both halves), the threshold and where it comes from, whether the claim gates that
architecture, how many held-out grokked models hold it (the false-fail rate is the rest), and how
many of the population's negatives (untrained and memorising models) would pass on the value
alone (the gate gives them N/A: they do not solve the task). Then the clock/pizza verdict per
family.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from calibration.calibrate import (  # noqa: E402
    ARCHITECTURES,
    OPS,
    grokked_values,
    negative_values,
    read_population,
)
from interp import algorithm  # noqa: E402
from interp.report import format_number  # noqa: E402

DOCS = ROOT.parent / "docs" / "claims.md"
MARK = "population"


def _quantiles(values: list[float]) -> str:
    if not values:
        return "–"
    return " / ".join(format_number(float(q)) for q in np.quantile(values, [0.1, 0.5, 0.9]))


def claims_table(claims, rows: list[dict], placements: dict) -> str:
    lines = ["| claim | threshold | source | architecture | gated | grokked, 10th / 50th / 90th pct | "
             "held-out holding | held-out false-fail | negatives passing on value |",
             "|---|---|---|---|---|---|---|---|---|"]
    for claim in claims.claims:
        found = placements[claim.id]
        for architecture in ARCHITECTURES:
            values = [*grokked_values(rows, claim.id, architecture, "calibration"),
                      *grokked_values(rows, claim.id, architecture, "held-out")]
            if not values:
                lines.append(f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {claim.threshold_source} | "
                             f"{architecture} | – | not defined | – | – | – |")
                continue
            holding, total = found.held[architecture]
            negatives = negative_values(rows, claim.id, architecture)
            passing = sum(OPS[claim.op](v, claim.threshold) for v in negatives)
            gated = claim.gated_on is None or architecture in claim.gated_on
            lines.append(
                f"| `{claim.id}` | {claim.op} {claim.threshold:g} | {claim.threshold_source} | {architecture} | "
                f"{'**yes**' if gated else 'NOT-GATED'} | {_quantiles(values)} (n = {len(values)}) | "
                f"{holding} of {total} | {100 * (total - holding) / total:.0f}% | {passing} of {len(negatives)} |")
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
    from calibration.calibrate import place
    from interp.claims.load import DEFAULT_CLAIMS, load_claims
    from tests._references import calibration
    from tests._tables import replace_blocks

    claims = load_claims(DEFAULT_CLAIMS)
    rows = read_population()
    placements = {}
    for claim in claims.claims:
        negative = calibration(claim, claims, None)["nearest_negative"]
        placements[claim.id] = place(claim, rows, None if negative is None else negative[1])
    DOCS.write_text(replace_blocks(DOCS.read_text(), {MARK: population_tables(claims, rows, placements)}))
    print(f"{DOCS}: {MARK} tables written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
