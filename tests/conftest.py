"""Settings for the project's own tests (the claims plugin itself is ``interp.plugin``).

Hypothesis profiles: ``dev`` (default) is quick; ``ci`` is thorough and derandomized. Select with
HYPOTHESIS_PROFILE=ci (.ci/run does). ``deadline=None``: torch's first calls are slow.
"""

from __future__ import annotations

import contextlib
import importlib
import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=25, deadline=None)
settings.register_profile("ci", max_examples=200, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def transformer_lens_preloaded() -> None:
    """Import TransformerLens (when installed) before any test's ``pytester`` snapshots
    ``sys.modules``: at teardown pytester unloads what a test imported, and importing it again
    fails, since its ``datasets`` registers pyarrow extension types once per process."""
    with contextlib.suppress(ImportError):
        importlib.import_module("transformer_lens")
