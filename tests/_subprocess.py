"""The environment for a pytest started in a child process by the tests."""

from __future__ import annotations

import os


def child_env() -> dict[str, str]:
    """This process's environment without the outer pytest's options (``PYTEST_*``) or virtualenv
    marker, and without colour (``PY_COLORS=0``, as pytester sets it): the child's output is
    compared as plain text, whatever FORCE_COLOR or PYTEST_ADDOPTS the CI sets.

    >>> env = child_env(); env["PY_COLORS"], "PYTEST_ADDOPTS" in env
    ('0', False)
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "VIRTUAL_ENV"))}
    env["PY_COLORS"] = "0"
    return env
