"""Names the pytest plugin needs before it knows whether a run gates anything, and that
:mod:`interp.plugin` and :mod:`interp.gate` share: importing this module imports neither torch
nor numpy, so an installed plugin costs a pytest run that gates nothing almost no time.

>>> TASKS, CHECKPOINT_SUFFIXES
(('add', 'sub'), ('.pt', '.pth', '.safetensors'))
"""

import pytest

TASKS = ("add", "sub")  # (a + b) mod p, (a - b) mod p
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")
STASH_KEY = pytest.StashKey["interp.gate.ClaimsSession"]()  # config.stash's session, once a run gates a checkpoint
