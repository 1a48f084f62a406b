"""The hook the plugin declares (registered by ``pytest_addhooks`` in :mod:`interp.plugin`); see
:mod:`interp.adapter` for a worked example. Imports neither torch nor numpy."""

from __future__ import annotations

import pytest


@pytest.hookspec(firstresult=True)
def pytest_interp_model(path, state, options):
    """A model for the checkpoint at ``path`` (``pathlib.Path``), from its loaded ``state`` (the
    state dict: tensors and plain containers only; never code) and ``options``
    (:class:`interp.facts.Facts`: ``--task``, ``--p`` and the other facts known so far), or None to
    leave the file to the built-in layouts. The first implementation to return a model wins."""
