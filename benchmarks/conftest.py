"""Benchmarks run on demand only (docs/performance.md):

    pytest benchmarks --benchmark-only

They are outside the default testpaths; collected without ``--benchmark-only`` they are skipped.
"""

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("benchmark_only"):
        return
    skip = pytest.mark.skip(reason="benchmarks run on demand: pytest benchmarks --benchmark-only")
    for item in items:  # this hook sees every item of the session: mark only the benchmarks
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(skip)
