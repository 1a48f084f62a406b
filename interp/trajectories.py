"""When a claim holds in the population, by epochs since grokking: the summary shipped beside
``claims.yaml`` (``interp/population_trajectories.json``, written by
``python -m calibration.measure_trajectories`` from ``calibration/trajectories.csv``), and the
words a failing claim's message gains from it (:func:`when_it_holds`).

The summary covers the held-out half (odd seeds) of each horizon family that groks (the
full-data families, which have nothing held out, are left out). Per family and claim it keeps the
claim's comparison as the default claims file has it on that family's architecture, and per bin
of epochs since grokking (``bins``: each bin runs from its edge to the next; the last has no end)
``[holding, models]``: how many models have a snapshot in the bin with the claim defined, and how
many of those hold the claim at every such snapshot (holding includes the claims it requires)::

    {"bins": [0, 1000, ...],
     "families": {"nb-mlp-113": {"architecture": "mlp", "description": "notebook-recipe MLPs (p = 113)",
                                 "furthest": 5600,
                                 "claims": {"fve": {"op": ">", "threshold": 0.84,
                                                    "counts": [[0, 1], [0, 1], [0, 0], ...]}}}}}

A summary with no data for a claim and architecture (or one whose comparison differs from the
claim's, as in another claims file) adds nothing to the message.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

SUMMARY = "population_trajectories.json"


@cache
def shipped() -> dict:
    """The summary shipped in the package (empty where it is missing)."""
    found = resources.files("interp") / SUMMARY
    return json.loads(found.read_text()) if found.is_file() else {"bins": [], "families": {}}


def bin_label(edges: list[int], i: int) -> str:
    """Bin ``i``'s start in thousands of epochs; the last bin, which has no end, with a ``+``.

    >>> [bin_label([0, 1000, 2000, 40000], i) for i in range(4)]
    ['0', '1k', '2k', '40k+']
    """
    edge = edges[i]
    text = "0" if edge == 0 else f"{edge / 1000:g}k"
    return text + ("+" if i == len(edges) - 1 else "")


def holds_from(counts: list[list[int]]) -> int | None:
    """The first bin from which, in it and in every later bin with models, more than half of
    the models hold the claim (None where there is no such bin).

    >>> holds_from([[0, 2], [2, 2], [0, 0], [3, 4]]), holds_from([[1, 2], [0, 1]]), holds_from([[0, 0]])
    (1, None, None)
    """
    start = None
    for i, (holding, models) in enumerate(counts):
        if not models:
            continue
        start = (i if start is None else start) if 2 * holding > models else None
    return start


def family_note(family: dict, counts: list[list[int]], edges: list[int]) -> str:
    """What one family's counts say about when the claim holds."""
    where = f"held-out {family['description']}"
    furthest = f"{family['furthest']:,} epochs after grokking"
    start = holds_from(counts)
    if start is not None:
        holding, models = counts[start]
        since = "from grokking on" if edges[start] == 0 else f"from {edges[start]:,} epochs after grokking"
        return f"holds on {holding} of {models} {where} {since} (measured to {furthest})"
    holding, models = max((c for c in counts if c[1]), key=lambda c: (c[0] / c[1], c[1]))
    return (f"holds on more than half of the {where} at no point measured (at best {holding} of {models}; "
            f"measured to {furthest})")


def when_it_holds(claim_id: str, op: str, threshold: float, architecture: str, summary: dict | None = None) -> str:
    """The population's word on a claim that fails on a model of ``architecture``: per family of
    that architecture with data for the claim at this comparison, when the claim holds there;
    ``""`` where the summary (default: :func:`shipped`) has none.

    >>> counts = {"c": {"op": ">", "threshold": 0.8, "counts": [[0, 10], [2, 10], [9, 10]]}}
    >>> summary = {"bins": [0, 1000, 20000], "families": {"f": {"architecture": "mlp", "furthest": 30000,
    ...                                                         "description": "MLPs", "claims": counts}}}
    >>> print(when_it_holds("c", ">", 0.8, "mlp", summary))  # doctest: +ELLIPSIS
    in the population: holds on 9 of 10 held-out MLPs from 20,000 epochs after grokking (measured to 30,000 ...)
    >>> when_it_holds("c", ">", 0.9, "mlp", summary), when_it_holds("c", ">", 0.8, "transformer", summary)
    ('', '')
    """
    summary = shipped() if summary is None else summary
    notes = []
    for family in summary["families"].values():
        found = family["claims"].get(claim_id)
        if family["architecture"] != architecture or found is None or (found["op"], found["threshold"]) != (
                op, threshold) or not any(models for _, models in found["counts"]):
            continue
        notes.append(family_note(family, found["counts"], summary["bins"]))
    return "in the population: " + "; ".join(notes) if notes else ""
