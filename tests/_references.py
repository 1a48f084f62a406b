"""The reference models that claims name in ``references`` (claims.yaml): the models on which a
claim must hold, and those on which its measured value must fall on the failing side.

Names resolve to models that exist in the project: the original checkpoint (``reference``, read
from ../shared), the bundled MLP run (``mlp-<epoch>``), the bundled transformers
(``transformer-<task>-<epoch>``) and the planted clocks (``planted-<defect>``). Each run is built
once per test session; treat it as read-only.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

from interp.checkpoint import Checkpoint, load_checkpoint
from interp.claims import OPS, NotDefined, evaluate
from interp.planted import DEFECTS, planted_clock
from interp.run import Run
from tests._paths import FIXTURES

TRANSFORMERS = FIXTURES / "transformer"
PLANTED = {"p": 31, "freqs": [2, 5, 11], "d_mlp": 48}


def reference_names() -> list[str]:
    """Every name a claim may use."""
    mlp = [f"mlp-{int(p.stem[5:])}" for p in sorted((FIXTURES / "p113").glob("*.pt"))]
    transformers = [f"transformer-{p.parent.name}-{int(p.stem[5:])}" for p in sorted(TRANSFORMERS.glob("*/*.pt"))]
    return ["reference", *mlp, *transformers, *(f"planted-{d}" for d in DEFECTS)]


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
        model = planted_clock(PLANTED["p"], PLANTED["freqs"], PLANTED["d_mlp"], defect=name[len("planted-"):])
        return Checkpoint(Path(f"{name}.pt"), "0" * 64, model)
    raise KeyError(name)


@cache
def run_of(name: str, reference_path: Path | None = None) -> Run:
    """The cached run of a reference model, with the task its metadata names (else add)."""
    checkpoint = checkpoint_of(name, reference_path)
    return Run(checkpoint, task=checkpoint.metadata.get("task", "add") if checkpoint.path.exists() else "add")


def case_values(claim, run: Run) -> dict[str, float] | None:
    """``{case id: value}`` of a claim on a run; None where the architecture lacks what it reads."""
    try:
        return {case.id: evaluate(case, run) for case in claim.expand(run.key_freqs)}
    except NotDefined:
        return None


def failing_side(claim, value: float) -> bool:
    """The value misses the threshold (a NaN misses every threshold)."""
    return not (math.isfinite(value) and OPS[claim.op](value, claim.threshold))
