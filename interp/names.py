"""Names the pytest plugin needs before it knows whether a run gates anything: importing this
module imports neither torch nor numpy, so an installed plugin costs a pytest run that gates
nothing almost no time.

>>> TASKS, CHECKPOINT_SUFFIXES
(('add', 'sub'), ('.pt', '.pth', '.safetensors'))
"""

TASKS = ("add", "sub")  # (a + b) mod p, (a - b) mod p
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")
