"""A claim as written in a claims file, its cases (one per combination of its ``for_each``
values, each one test) and the file's known failures: what :mod:`interp.claims.load` builds and
:mod:`interp.claims.verdicts` judges.

An expanded claim's id is ``<id>[k<freq>-<term>]``, e.g. ``fve[k17-sin]``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq,
}
KEY_FREQS = "key_freqs"
PREFIX = {"freq": "k"}  # how an expanded parameter shows in the test id
POPULATION_NEGATIVE_KINDS = ("full-data", "grokking", "pizza")
"""The kinds of calibration-population models a claim may name as its negatives
(``population_negatives``; docs/claims.md, "The calibration rule"): models trained on every pair
without weight decay, runs' snapshots at their grokking epoch, and Zhong et al.'s pizzas."""


def _gate_architectures() -> tuple[str, ...]:
    from interp.arch.common import ACTIVATIONS

    return (*(f"{depth}{base}{'' if act == 'relu' else '-' + act}" for depth in ("", "deep-")
              for base in ("mlp", "transformer") for act in ACTIVATIONS), "adapted")


GATE_ARCHITECTURES = _gate_architectures()
"""The names a claim's ``gated_on`` may use: ``mlp``, ``transformer``, ``deep-mlp``, ...,
``mlp-gelu``, ``transformer-quad``, ..., ``adapted`` (:func:`gate_architecture`)."""


def gate_architecture(model) -> str:
    """The architecture a claim's ``gated_on`` names: ``mlp`` or ``transformer`` with one hidden
    layer or block and ReLU neurons (the calibration population's), ``deep-`` before it with more,
    ``-<act>`` after it for another activation (``mlp-quad``, ``transformer-gelu``), and
    ``adapted`` for a lab's own class (unless its adapter names one of the others).

    >>> from dataclasses import replace
    >>> from interp.planted import planted_clock
    >>> clock = planted_clock(11, [1, 2], 16)
    >>> gate_architecture(clock), gate_architecture(replace(clock, act="quad"))
    ('mlp', 'mlp-quad')
    """
    if model.architecture not in ("mlp", "transformer"):
        return model.architecture
    depth = "" if getattr(model, "n_layers", 1) == 1 else "deep-"
    act = getattr(model, "act", "relu")
    return f"{depth}{model.architecture}{'' if act == 'relu' else '-' + act}"


GATE_MODES = ("population", "seed", "all")
"""What gates (``--gate``, ini ``interp_gate``; :func:`gates`):

* ``population`` (the default): each claim gates the architectures its ``gated_on`` names, the
  ones the calibration population bears it out on; elsewhere it is NOT-GATED.
* ``seed``: as ``population``, and besides, the seed notebook's own claims (:data:`SEED_CLAIMS`)
  gate the architecture the notebook describes (:data:`SEED_ARCHITECTURE`) at the notebook's
  thresholds: for reproducing the notebook, asking whether a model does what it says.
* ``all``: every claim gates every architecture it is defined for.
"""
SEED_CLAIMS = ("test-accuracy", "wu-key-norm-ratio", "fve", "pre-relu-linear")
"""The seed notebook's four claims, as ``--gate=seed`` gates them (not the sign-aware twin
``fve-signed``: it is this project's, and the population gates it)."""
SEED_ARCHITECTURE = "mlp"
"""The architecture the notebook describes: a one-hidden-layer ReLU MLP, in any layout (this
project's, Zhong et al.'s, Chughtai et al.'s, the one-hot study's): :func:`gate_architecture`."""


def gates(claim: Claim, architecture: str, mode: str = "population") -> bool:
    """Whether ``claim`` gates a model of ``architecture`` (:func:`gate_architecture`) in gate
    ``mode`` (:data:`GATE_MODES`).

    >>> fve = Claim("fve", "fve", ">", 0.84, "", "", gated_on=())
    >>> [gates(fve, "mlp", mode) for mode in GATE_MODES], gates(fve, "transformer", "seed")
    ([False, True, True], False)
    """
    if mode == "all":
        return True
    if mode == "seed" and claim.id in SEED_CLAIMS and architecture == SEED_ARCHITECTURE:
        return True
    return claim.gates(architecture)


def run_attrs() -> set[str]:
    """The names of :class:`interp.run.Run` attributes, which a metric's parameters read by name."""
    from interp.run import Run

    return {n for n in dir(Run) if not n.startswith("_")} | {"key_freqs"}


@dataclass(frozen=True)
class Claim:
    """One claim as written in the file (before expansion)."""

    id: str
    metric: str
    op: str
    threshold: float
    statement: str
    source: str
    params: dict[str, Any] = field(default_factory=dict)
    for_each: dict[str, Any] = field(default_factory=dict)
    family: str = "other"
    requires: tuple[str, ...] = ()
    references: dict[str, tuple[str, ...]] = field(default_factory=dict)
    threshold_source: str | None = None
    gated_on: tuple[str, ...] | None = None  # None: every architecture
    thresholds: dict[str, float] = field(default_factory=dict)  # per gate architecture; else ``threshold``
    population_negatives: tuple[str, ...] = ()  # kinds of the population's models that are its negatives
    population_negatives_on: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind: its architectures

    def threshold_on(self, architecture: str) -> float:
        """The claim's threshold on a model of this architecture (:func:`gate_architecture`): its
        entry in ``thresholds``, placed by the calibration population for an architecture it gates
        (docs/claims.md, "The calibration rule"), else the default ``threshold``.

        >>> c = Claim("c", "m", ">", 0.5, "", "", thresholds={"mlp": 0.7})
        >>> c.threshold_on("mlp"), c.threshold_on("transformer")
        (0.7, 0.5)
        """
        return self.thresholds.get(architecture, self.threshold)

    def at(self, architecture: str) -> Claim:
        """The claim as it is judged on this architecture: ``threshold`` is :meth:`threshold_on`."""
        if architecture not in self.thresholds:
            return self
        from dataclasses import replace

        return replace(self, threshold=self.thresholds[architecture])

    def names_negatives(self, kind: str, architecture: str) -> bool:
        """Whether the population's models of this kind and architecture are the claim's negatives
        (docs/claims.md, "The calibration rule"): the kind is in ``population_negatives`` and, where
        ``population_negatives_on`` lists architectures for it, the architecture is among them.

        >>> c = Claim("c", "m", ">", 0.5, "", "", population_negatives=("full-data", "grokking"),
        ...           population_negatives_on={"grokking": ("mlp",)})
        >>> c.names_negatives("grokking", "mlp"), c.names_negatives("grokking", "transformer")
        (True, False)
        >>> c.names_negatives("full-data", "transformer"), c.names_negatives("pizza", "transformer")
        (True, False)
        """
        return kind in self.population_negatives and architecture in self.population_negatives_on.get(
            kind, (architecture,))

    def gates(self, architecture: str) -> bool:
        """Whether the claim gates a model of this architecture (:func:`gate_architecture`); on the
        others it is measured and reported as NOT-GATED."""
        return self.gated_on is None or architecture in self.gated_on

    def expand(self, key_freqs: list[int]) -> list[ClaimCase]:
        """One :class:`ClaimCase` per combination of the ``for_each`` values."""
        if not self.for_each:
            return [ClaimCase(self.id, self, dict(self.params))]
        names = list(self.for_each)
        values = [key_freqs if v == KEY_FREQS else v for v in self.for_each.values()]
        cases = []
        for combo in product(*values):
            params = {**self.params, **dict(zip(names, combo, strict=True))}
            suffix = "-".join(f"{PREFIX.get(n, '')}{v}" for n, v in zip(names, combo, strict=True))
            cases.append(ClaimCase(f"{self.id}[{suffix}]", self, params))
        return cases


@dataclass(frozen=True)
class ClaimCase:
    """One test: a claim with all of its parameters fixed."""

    id: str
    claim: Claim
    params: dict[str, Any]

    def judge(self, value: float) -> bool:
        return bool(OPS[self.claim.op](value, self.claim.threshold))

    def at(self, architecture: str) -> ClaimCase:
        """The case as it is judged on this architecture (:meth:`Claim.at`)."""
        claim = self.claim.at(architecture)
        return self if claim is self.claim else ClaimCase(self.id, claim, self.params)


@dataclass(frozen=True)
class KnownFailure:
    claim: str
    sha256: str
    value: float
    reason: str


@dataclass(frozen=True)
class ClaimsFile:
    path: Path
    claims: list[Claim]
    known_failures: list[KnownFailure]

    def claim(self, claim_id: str) -> Claim:
        return next(c for c in self.claims if c.id == claim_id)

    def known_failure(self, case_id: str, sha256: str) -> KnownFailure | None:
        """The recorded failure of this claim on exactly this checkpoint, if any."""
        for kf in self.known_failures:
            if kf.claim == case_id and kf.sha256 == sha256:
                return kf
        return None
