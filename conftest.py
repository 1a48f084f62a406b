"""Fixtures shared by the project's own tests (the claims plugin itself is ``interp.plugin``).

Session fixtures here are read-only: never modify the tensors they return.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles: `dev` (default) is quick; `ci` is thorough and derandomized.
# Select with HYPOTHESIS_PROFILE=ci (.ci/run does). deadline=None: torch's first calls are slow.
settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

ROOT = Path(__file__).resolve().parent
REFERENCE = Path(os.environ.get(
    "INTERP_REFERENCE", ROOT.parent / "shared" / "reference" / "modular_addition_2l_mlp_model.pt"))
REFERENCE_SHA256 = "8cd3f85207cddd887c65e6280c42fe0066141ba05dd4c4a5ff412644cacaa66b"


@pytest.fixture(scope="session")
def reference_path() -> Path:
    """The original third-party checkpoint, read from ../shared/reference (never committed).

    Missing: the test is skipped, unless INTERP_REQUIRE_REFERENCE=1 (set in CI), where it fails.
    """
    if not REFERENCE.is_file():
        message = f"reference checkpoint not found at {REFERENCE} (set INTERP_REFERENCE)"
        if os.environ.get("INTERP_REQUIRE_REFERENCE") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return REFERENCE


@pytest.fixture(scope="session")
def reference_run(reference_path: Path):
    """A cached :class:`interp.run.Run` of the reference checkpoint. Read-only."""
    from interp.checkpoint import load_checkpoint
    from interp.run import Run

    return Run(load_checkpoint(reference_path))
