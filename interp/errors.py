"""The project's four error types: :class:`InterpError` and its three subclasses.

Every problem with user input is raised as an :class:`InterpError` whose message names the file
and the problem on one line: a :class:`CheckpointError` (a checkpoint), a :class:`ClaimsError` (a
claims file) or an :class:`OptionError` (a command-line option). Catch :class:`InterpError` for
all of them. The pytest plugin and the command-line entry points turn it into a usage error with a
non-zero exit and no traceback.
"""

from __future__ import annotations

from pathlib import Path


class InterpError(Exception):
    r"""A problem with user input, reported as one line: ``<where>: <problem>``. Line breaks that
    come from the input (a key or a file name with a newline in it) are shown escaped, so the
    message stays one line whatever the input holds.

    >>> str(InterpError("model.pt", "not a state dict"))
    'model.pt: not a state dict'
    >>> print(InterpError("claims.yaml", "for_each.a\nb must be a list"))
    claims.yaml: for_each.a\nb must be a list
    """

    def __init__(self, where: str | Path, problem: str) -> None:
        self.where = _one_line(str(where))
        self.problem = _one_line(problem)
        super().__init__(f"{self.where}: {self.problem}")


def _one_line(text: str) -> str:
    return text.replace("\r", "\\r").replace("\n", "\\n")


class CheckpointError(InterpError):
    """A checkpoint file that cannot be used."""


class ClaimsError(InterpError):
    """A claims file that cannot be used."""


class OptionError(InterpError):
    """A command-line option with a bad value."""
