"""The bundled checkpoint (``fixtures/p113/epoch050000.pt``, trained by this project) as the tests
gate it in place of the third-party reference: copies of it outside the repository, and the claims
file the known-failure tests gate it with.

The default claims file gates none of the claims this checkpoint refutes (the calibration
population shows they do not describe grokked MLPs: NOT-GATED), so it records no known failure.
To test known failures on a real checkpoint, :func:`claims_gating_everything` writes the default
claims with every claim gated on every architecture and this checkpoint's refutations recorded,
as the default file held them before the population calibration (issue 16)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from interp.checkpoint import sha256_of
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._paths import BUNDLED

N_KEY = 13  # key frequencies the rule finds on it (the reference has the same 13)
DRIFTING = "fve[k23-sin]"  # a known failure; so are the other k23 cases, fve[k23-cos] and fve-signed[k23-*]


# its refutations where every claim gates it: the seed's FVE (and its twin) at frequencies 23 and 35
# (the excluded losses' lower bounds, 0.903 and 0.896 here, hold at the thresholds the MLPs' horizon
# population placed, 0.87 and 0.86)
RECORDS = {"fve[k23-sin]": 0.611858, "fve[k23-cos]": 0.746812, "fve[k35-sin]": 0.833115, "fve[k35-cos]": 0.832556,
           "fve-signed[k23-sin]": 0.611858, "fve-signed[k23-cos]": 0.744795, "fve-signed[k35-sin]": 0.833115,
           "fve-signed[k35-cos]": 0.832246}


def known_failures() -> dict[str, float]:
    """``{case id: recorded value}`` of the bundled checkpoint's known failures in
    :func:`claims_gating_everything`."""
    return dict(RECORDS)


def claims_gating_everything(folder: Path, records: dict[str, float] | None = None) -> Path:
    """The default claims, written into ``folder/claims.yaml``, with every claim gated on every
    architecture and the bundled checkpoint's ``records`` (default :data:`RECORDS`) as its known
    failures."""
    raw = yaml.safe_load(DEFAULT_CLAIMS.read_text(encoding="utf-8"))
    for claim in raw["claims"]:
        claim.pop("gated_on", None)
    sha = sha256_of(BUNDLED)
    raw["known_failures"] = [{"claim": case, "sha256": sha, "value": value, "reason": "refuted on the bundled MLP"}
                             for case, value in (RECORDS if records is None else records).items()]
    path = folder / "claims.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    load_claims(path)  # valid
    return path


def copied_to(folder: Path) -> Path:
    """The bundled checkpoint and its metadata copied byte for byte into ``folder`` (the same
    sha256, so the same known failures): a checkpoint outside the repository."""
    for path in (BUNDLED, BUNDLED.with_suffix(".json")):
        shutil.copyfile(path, folder / path.name)
    return folder / BUNDLED.name


def claims_with_record(folder: Path, case: str, value: float) -> Path:
    """:func:`claims_gating_everything` with the bundled checkpoint's record of ``case`` changed to
    ``value``."""
    assert case in RECORDS, f"no record of {case} for the bundled checkpoint"
    return claims_gating_everything(folder, {**RECORDS, case: value})
