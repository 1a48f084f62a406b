"""Optional dependencies of the tests (the ``test`` and ``transformerlens`` extras)."""

from __future__ import annotations

import importlib
from types import ModuleType

from conftest import require_or_skip


def import_extra(module: str, extra: str) -> ModuleType:
    """Import ``module``; if it is missing, skip, or fail in one line where CI requires the extras
    (INTERP_REQUIRE_EXTRAS=1)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        message = f"{module} is not installed ({exc}): pip install -e '.[{extra}]'"
    require_or_skip(message)  # outside the except: no chained traceback
    raise AssertionError("unreachable")  # pragma: no cover - require_or_skip always raises
