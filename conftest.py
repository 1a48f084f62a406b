"""Fixtures shared by the project's own tests (the claims plugin itself is ``interp.plugin``).

This file imports nothing beyond pytest, so that ``pytest`` in the project root (the claims on the
bundled checkpoint) works from a plain install without the test extra. Session fixtures here are
read-only: never modify the tensors they return.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
REFERENCE = Path(os.environ.get(
    "INTERP_REFERENCE", ROOT.parent / "shared" / "reference" / "modular_addition_2l_mlp_model.pt"))
REFERENCE_SHA256 = "8cd3f85207cddd887c65e6280c42fe0066141ba05dd4c4a5ff412644cacaa66b"


def require_or_skip(message: str) -> None:
    """Skip, unless INTERP_REQUIRE_EXTRAS=1 (CI sets it): then fail, so that a missing extra or
    reference file turns CI red instead of silently skipping."""
    if os.environ.get("INTERP_REQUIRE_EXTRAS") == "1":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


REFERENCE_SOURCE = "models/modular_addition_2l_mlp_model.pt in github.com/ckkissane/mech-interp-practice"


@pytest.fixture(scope="session")
def reference_path() -> Path:
    """The original third-party checkpoint, read from ../shared/reference (never committed), for
    the tests that compare with the seed notebook's numbers. Missing: the test is skipped, unless
    CI (INTERP_REQUIRE_EXTRAS=1) says it must be there."""
    if not REFERENCE.is_file():
        require_or_skip(f"reference checkpoint not found at {REFERENCE} (set INTERP_REFERENCE=/path/to/file; the "
                        f"file is {REFERENCE_SOURCE}, never committed)")
    return REFERENCE


@pytest.fixture(scope="session")
def reference_if_present() -> Path | None:
    """The reference checkpoint where it is present, else None: for tests that cover it when they
    can and the bundled models in any case."""
    return REFERENCE if REFERENCE.is_file() else None


@pytest.fixture(scope="session")
def reference_run(reference_path: Path):
    """The cached :class:`interp.run.Run` of the reference checkpoint (the one the reference tables
    use). Read-only."""
    from tests._references import run_of

    return run_of("reference", reference_path)
