"""The reference models that claims name in ``references`` (claims.yaml): the models on which a
claim must hold, and those on which its measured value must fall on the failing side.

Names resolve to models that exist in the project: the original checkpoint (``reference``, read
from ../shared), the bundled MLP run (``mlp-<epoch>``), the bundled transformers
(``transformer-<task>-<epoch>``) and the planted clocks (``planted-<defect>``, and
``planted-transformer``, the exact clock inside a constant-attention transformer). Each run is built
once per test session; treat it as read-only.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

from calibration.calibrate import rule_threshold  # noqa: F401  (the rule, for the tests that import it here)
from conftest import REFERENCE_SHA256
from interp.checkpoint import Checkpoint, load_checkpoint
from interp.claims.claim import OPS
from interp.claims.verdicts import NotDefined, evaluate, margin, requirement_failures
from interp.planted import DEFECTS, planted_clock, planted_transformer
from interp.run import Run
from tests._paths import FIXTURES

TRANSFORMERS = FIXTURES / "transformer"
PLANTED = {"p": 31, "freqs": [2, 5, 11], "d_mlp": 48}


def reference_names(with_reference: bool = True) -> list[str]:
    """Every name a claim may use; ``with_reference=False``: every name but ``reference``, the
    models that exist in any clone."""
    mlp = [f"mlp-{int(p.stem[5:])}" for p in sorted((FIXTURES / "p113").glob("*.pt"))]
    transformers = [f"transformer-{p.parent.name}-{int(p.stem[5:])}" for p in sorted(TRANSFORMERS.glob("*/*.pt"))]
    return [*(["reference"] if with_reference else []), *mlp, *transformers,
            *(f"planted-{d}" for d in DEFECTS), "planted-transformer"]


def architecture_of(name: str) -> str:
    """The architecture of a named model; ``reference`` (the seed's MLP) without loading it."""
    return "mlp" if name == "reference" else run_of(name).architecture


def sha256_of_name(name: str) -> str:
    """The sha256 of a named model's checkpoint; ``reference``'s without the file."""
    return REFERENCE_SHA256 if name == "reference" else run_of(name).checkpoint.sha256


def checkpoint_of(name: str, reference_path: Path | None = None) -> Checkpoint:
    """The checkpoint a name stands for (``reference`` needs the path of the original file)."""
    if name == "reference":
        return load_checkpoint(reference_path)
    if name.startswith("mlp-"):
        return load_checkpoint(FIXTURES / "p113" / f"epoch{int(name[4:]):06d}.pt")
    if name.startswith("transformer-"):
        _, task, epoch = name.split("-")
        return load_checkpoint(TRANSFORMERS / task / f"epoch{int(epoch):06d}.pt")
    if name.startswith("planted-"):
        build = planted_transformer if name == "planted-transformer" else planted_clock
        defect = "none" if name == "planted-transformer" else name[len("planted-"):]
        model = build(PLANTED["p"], PLANTED["freqs"], PLANTED["d_mlp"], defect=defect)
        return Checkpoint(Path(f"{name}.pt"), "0" * 64, model)
    raise KeyError(name)


def run_of(name: str, reference_path: Path | None = None) -> Run:
    """The cached run of a reference model, with the task its metadata names (else add); one per
    model, whatever ``reference_path`` is passed with a name other than ``reference``."""
    return _run_of(name, reference_path if name == "reference" else None)


@cache
def _run_of(name: str, reference_path: Path | None) -> Run:
    checkpoint = checkpoint_of(name, reference_path)
    return Run(checkpoint)  # the task: the checkpoint's facts (its metadata file), else add


def case_values(claim, run: Run) -> dict[str, float] | None:
    """``{case id: value}`` of a claim on a run; None where the architecture lacks what it reads."""
    try:
        return {case.id: evaluate(case, run) for case in claim.expand(run.key_freqs)}
    except NotDefined:
        return None


def failing_side(claim, value: float) -> bool:
    """The value misses the threshold (a NaN misses every threshold)."""
    return not (math.isfinite(value) and OPS[claim.op](value, claim.threshold))


# -- the tables of docs/claims.md --------------------------------------------------------------------
def worst(claim, run, skip: set[str] = frozenset()) -> tuple[str, float] | None:
    """The case with the smallest margin (``skip``: case ids left out) and its value."""
    values = case_values(claim, run)
    if values is None:
        return None
    kept = {c: v for c, v in values.items() if c not in skip}
    case = min(kept, key=lambda c: margin(kept[c], claim.op, claim.threshold) if math.isfinite(kept[c]) else -math.inf)
    return case, kept[case]


def references_of(claim, kind: str, reference_path: Path | None) -> list[str]:
    """The claim's references of one kind (``holds`` or ``fails``), less ``reference`` where
    ``reference_path`` is None."""
    return [n for n in claim.references.get(kind, ()) if n != "reference" or reference_path]


def calibration(claim, claims, reference_path: Path | None) -> dict:
    """The numbers behind a threshold, ``(margin, value, model)``: the worst value over the
    positive references (their recorded known failures left out), and over the negative
    references the claim applies to (its ``requires`` hold there) the one nearest the positives
    (each negative represented by its worst case). Both
    are picked by margin, which orders values the same way whatever the threshold. Without
    ``reference_path`` (None), over the bundled and planted references only."""
    positives, negatives = [], []
    for name in references_of(claim, "holds", reference_path):
        run = run_of(name, reference_path)
        known = {kf.claim for kf in claims.known_failures if kf.sha256 == run.checkpoint.sha256}
        _, value = worst(claim, run, skip=known)
        positives.append((margin(value, claim.op, claim.threshold), value, name))
    for name in references_of(claim, "fails", reference_path):
        run = run_of(name, reference_path)
        if requirement_failures(claim, claims, run):
            continue  # the claim never applies there (N/A): no evidence about where its threshold goes
        _, value = worst(claim, run)
        negatives.append((margin(value, claim.op, claim.threshold), value, name))
    return {"worst_positive": min(positives) if positives else None,
            "nearest_negative": max(negatives) if negatives else None}


@cache
def population_placement(claim_id: str):
    """What the calibration population gives for a claim of the default claims file
    (:func:`calibration.calibrate.place`: per architecture its threshold and gate), with the
    negative references that do not need the third-party checkpoint."""
    from calibration.calibrate import place, reference_negatives, required_claims
    from interp.claims.load import DEFAULT_CLAIMS, load_claims

    claims = load_claims(DEFAULT_CLAIMS)
    claim = claims.claim(claim_id)
    return place(claim, _population(), reference_negatives(claim, claims, None), required_claims(claim, claims))


@cache
def _population() -> list[dict]:
    from calibration.calibrate import read_population

    return read_population()


def placed_by_population(claim) -> bool:
    """A calibrated claim with a threshold the population places on an architecture it gates
    (``thresholds`` in the claims file); its default ``threshold`` is the references' placement."""
    return claim.threshold_source == "calibrated" and bool(claim.thresholds)


