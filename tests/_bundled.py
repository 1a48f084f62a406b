"""The bundled checkpoint (``fixtures/p113/epoch050000.pt``, trained by this project) as the tests
gate it in place of the third-party reference: its known failures, as the default claims file
records them for its sha256, copies of it outside the repository, and claims files with one of its
records changed."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from interp.checkpoint import sha256_of
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from tests._paths import BUNDLED

N_KEY = 13  # key frequencies the rule finds on it (the reference has the same 13)
DRIFTING = "fve[k23-sin]"  # a known failure; so are the other k23 cases, fve[k23-cos] and fve-signed[k23-*]


def known_failures() -> dict[str, float]:
    """``{case id: recorded value}`` of the bundled checkpoint's known failures."""
    sha = sha256_of(BUNDLED)
    return {kf.claim: kf.value for kf in load_claims(DEFAULT_CLAIMS).known_failures if kf.sha256 == sha}


def copied_to(folder: Path) -> Path:
    """The bundled checkpoint and its metadata copied byte for byte into ``folder`` (the same
    sha256, so the same known failures): a checkpoint outside the repository."""
    for path in (BUNDLED, BUNDLED.with_suffix(".json")):
        shutil.copyfile(path, folder / path.name)
    return folder / BUNDLED.name


def claims_with_record(folder: Path, case: str, value: float) -> Path:
    """The default claims file, written into ``folder``, with the bundled checkpoint's record of
    ``case`` changed to ``value``."""
    raw = yaml.safe_load(DEFAULT_CLAIMS.read_text(encoding="utf-8"))
    sha = sha256_of(BUNDLED)
    records = [r for r in raw["known_failures"] if r["claim"] == case and r["sha256"] == sha]
    assert len(records) == 1, f"no single record of {case} for the bundled checkpoint"
    records[0]["value"] = value
    path = folder / "claims.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path
