"""Every worked example in the library's docstrings runs and gives what it shows."""

import doctest
import importlib
import pkgutil

import pytest

import interp

MODULES = sorted(m.name for m in pkgutil.walk_packages(interp.__path__, "interp."))


@pytest.mark.parametrize("module", MODULES)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module}"
