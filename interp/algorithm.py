"""Clock or pizza, decided as Zhong et al. 2023 decide it: from two numbers together, gradient
symmetricity and distance irrelevance (:func:`interp.metrics.gradient_symmetricity`,
:func:`interp.metrics.distance_irrelevance`, both as their code computes them).

>>> classify(0.33, 0.85)["algorithm"], classify(0.99, 0.17)["algorithm"], classify(0.99, 0.9)["algorithm"]
('clock', 'pizza', 'undetermined')

* **pizza**: gradient symmetricity at least :data:`SYMMETRIC` and distance irrelevance below
  :data:`IRRELEVANT` (the correct logit depends on the distance ``a - b``);
* **clock**: gradient symmetricity below :data:`SYMMETRIC` and distance irrelevance at least
  :data:`IRRELEVANT`;
* **undetermined**: the two numbers disagree.

Where the architecture fixes gradient symmetricity (this project's MLP reads ``x_a + x_b``: 1 by
construction), that number says nothing about the model and the test cannot decide: the verdict
is undetermined, and ``basis`` says what distance irrelevance alone would say.

Both cut points are placed by the threshold rule (:func:`calibration.calibrate.rule_threshold`) on
the calibration half of this project's population (``calibration/population.csv``): pizzas are
the constant-attention transformers (``zhong-c0``: Zhong et al.'s pizza setting), clocks Nanda et
al.'s transformers (``tl-add``, ``tl-sub``). ``tests/acceptance/test_population.py`` recomputes
them. The report also places both numbers in Zhong et al.'s published distribution
(``zhong_published.json``, from ``calibration/zhong_published.py``): gradient symmetricity as is,
distance irrelevance through its wrong-logit twin, the number their tables hold.
"""

from __future__ import annotations

import bisect
import json
import math
from functools import cache
from importlib import resources

SYMMETRIC = 0.68  # gradient symmetricity: pizzas at or above (calibrated, see the module docstring)
IRRELEVANT = 0.53  # distance irrelevance: clocks at or above (calibrated, see the module docstring)
CLOCK, PIZZA, UNDETERMINED = "clock", "pizza", "undetermined"
PIZZA_FAMILIES, CLOCK_FAMILIES = ("zhong-c0",), ("tl-add", "tl-sub")


@cache
def published() -> dict:
    """Zhong et al.'s published population, summarised (``interp/zhong_published.json``)."""
    return json.loads((resources.files("interp") / "zhong_published.json").read_text())


def percentile(name: str, value: float, quantiles: list[float] | None = None) -> float | None:
    """The share (in %) of Zhong et al.'s solved 1-layer runs whose ``name`` is at most ``value``
    (from their 1001 quantiles, to 0.1%; or from ``quantiles`` given, e.g. one attention-rate
    band's); None for a non-finite value."""
    if not math.isfinite(value):
        return None
    quantiles = published()["quantiles"][name] if quantiles is None else quantiles
    return round(100 * bisect.bisect_right(quantiles, value) / len(quantiles), 1)


def classify(symmetricity: float, irrelevance: float, symmetric_by_construction: bool = False) -> dict:
    """The verdict (module docstring) and what it rests on."""
    clock_like = irrelevance >= IRRELEVANT
    if symmetric_by_construction:
        verdict = UNDETERMINED
        basis = (f"gradient symmetricity is 1 by construction here; distance irrelevance alone would say "
                 f"{CLOCK if clock_like else PIZZA}")
    else:
        pizza_like = symmetricity >= SYMMETRIC
        verdict = {(True, False): CLOCK, (False, True): PIZZA}.get((clock_like, pizza_like), UNDETERMINED)
        basis = "both numbers" + (" (they disagree)" if verdict == UNDETERMINED else "")
    if not (math.isfinite(symmetricity) and math.isfinite(irrelevance)):
        verdict, basis = UNDETERMINED, "a number is not finite"
    return {"algorithm": verdict, "basis": basis,
            "thresholds": {"gradient_symmetricity": SYMMETRIC, "distance_irrelevance": IRRELEVANT}}


def classify_run(run) -> dict:
    """The report's ``algorithm`` entry for a run: the verdict, its basis, the cut points, the two
    numbers (and the wrong-logit distance irrelevance) and their percentiles among Zhong et al.'s
    published solved 1-layer runs."""
    from interp.metrics import distance_irrelevance, distance_irrelevance_wrong_logit, gradient_symmetricity

    try:
        symmetricity = gradient_symmetricity(run.model)
    except RuntimeError:  # a lab's adapter whose hooks torch cannot differentiate through
        symmetricity = math.nan
    irrelevance = distance_irrelevance(run.correct_logits, run.task)
    wrong = distance_irrelevance_wrong_logit(run.largest_wrong_logits, run.task)
    fixed = "gradient_symmetricity" in run.model.by_construction
    return {**classify(symmetricity, irrelevance, fixed), "gradient_symmetricity": _finite(symmetricity),
            "distance_irrelevance": _finite(irrelevance), "distance_irrelevance_wrong_logit": _finite(wrong),
            "published_percentile": {"gradient_symmetricity": percentile("gradient_symmetricity", symmetricity),
                                     "distance_irrelevance_wrong_logit":
                                         percentile("distance_irrelevance_wrong_logit", wrong)},
            "published_n": published()["n"]}


def _finite(value: float) -> float | None:
    """The value, or None (JSON null) where it is not finite: a dead network's zero gradients, a
    constant correct logit."""
    return value if math.isfinite(value) else None


def line(entry: dict) -> str:
    """One summary line for a person (``nan`` where a number is not finite).

    >>> line(classify(0.3, 0.9) | {"gradient_symmetricity": 0.3,
    ...     "distance_irrelevance": None, "distance_irrelevance_wrong_logit": None, "published_n": 6351,
    ...     "published_percentile": {"gradient_symmetricity": 4.0, "distance_irrelevance_wrong_logit": None}})[:60]
    "algorithm (Zhong et al.'s two numbers): clock [both numbers]"
    """
    pct = entry["published_percentile"]
    gs, di, wrong = (_number(entry[k]) for k in ("gradient_symmetricity", "distance_irrelevance",
                                                  "distance_irrelevance_wrong_logit"))
    return (f"algorithm (Zhong et al.'s two numbers): {entry['algorithm']} [{entry['basis']}] -- gradient "
            f"symmetricity {gs} (pizza >= {SYMMETRIC:g}; percentile {pct['gradient_symmetricity']} of their "
            f"{entry['published_n']:,} solved 1-layer runs), distance irrelevance {di} (clock >= {IRRELEVANT:g}; "
            f"wrong-logit {wrong}, percentile {pct['distance_irrelevance_wrong_logit']} of theirs)")


def _number(value: float | None) -> str:
    return "nan" if value is None else f"{value:.3f}"
