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


VALIDATED: dict[str, int] = {}


@pytest.fixture(scope="session", autouse=True)
def reports_match_the_schema(tmp_path_factory):
    """When the session ends, every JSON report its tests wrote under its temporary directories
    (``tmp_path``, ``pytester``, ``tmp_path_factory``) is validated against the shipped
    ``report.schema.json`` with jsonschema (tests/_reports.py); one that does not match fails the
    run, naming the file (so the test that wrote it) and the first problem."""
    yield
    root = tmp_path_factory.getbasetemp()
    try:
        import jsonschema  # noqa: F401  (the test extra)
    except ImportError:
        if os.environ.get("INTERP_REQUIRE_EXTRAS") == "1":
            pytest.fail("jsonschema is not installed: pip install -e '.[test]'", pytrace=False)
        return
    from tests._reports import invalid_reports

    count, problems = invalid_reports(root)
    VALIDATED.update(reports=count, invalid=len(problems))
    if problems:
        pytest.fail(f"{len(problems)} JSON report(s) do not match interp/schemas/report.schema.json:\n"
                    + "\n".join(problems), pytrace=False)



def pytest_terminal_summary(terminalreporter) -> None:
    if "reports" in VALIDATED:
        terminalreporter.write_line(f"{VALIDATED['reports']} JSON report(s) written by the tests validated against "
                                    f"interp/schemas/report.schema.json (jsonschema): {VALIDATED['invalid']} invalid")
