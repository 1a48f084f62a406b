"""What is known about a checkpoint beyond its weights, and where each value came from.

A value may come from a command-line option, the file (a training checkpoint's ``config``), a
sidecar file beside it (``config_<runid>.json``, ``cfg.json``, ``<stem>.json``, the run
directory's name), the weights' shapes, or a default. Precedence: an option, then the file or its
sidecar, then the shapes, then the default: :meth:`Facts.offer` keeps the first value offered
from the highest source, so readers offer everything they find and ask for what they need.

>>> facts = Facts()
>>> facts.offer("task", "sub", OPTION, "--task")
>>> facts.offer("task", "add", FILE, "config.fn_name")
>>> facts.get("task"), facts.source("task")
('sub', 'option --task')
>>> facts.offer("p", 59, SHAPES, "unembed.W_U columns"); facts.source("p")
'shapes (unembed.W_U columns)'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OPTION, FILE, SHAPES, DEFAULT = 0, 1, 2, 3  # precedence: lower wins
_KINDS = {OPTION: "option", FILE: "file", SHAPES: "shapes", DEFAULT: "default"}


@dataclass
class Facts:
    """``{name: (value, precedence, where)}``; see the module docstring."""

    _values: dict[str, tuple[Any, int, str]] = field(default_factory=dict)

    def offer(self, name: str, value: Any, precedence: int, where: str) -> None:
        """Record ``value`` unless a value from a higher source (lower number) is already there."""
        if value is None:
            return
        held = self._values.get(name)
        if held is None or precedence < held[1]:
            self._values[name] = (value, precedence, where)

    def get(self, name: str, default: Any = None) -> Any:
        held = self._values.get(name)
        return default if held is None else held[0]

    def has(self, name: str) -> bool:
        return name in self._values

    def source(self, name: str) -> str | None:
        """``option --task``, ``file (config.fn_name)``, ``shapes (...)``, ``default``, or None."""
        held = self._values.get(name)
        if held is None:
            return None
        kind = _KINDS[held[1]]
        if held[1] == OPTION:
            return f"option {held[2]}"
        return kind if not held[2] else f"{kind} ({held[2]})"

    def copy(self) -> Facts:
        return Facts(dict(self._values))

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{name: {"value": ..., "source": ...}}`` for the report (JSON-safe values)."""
        return {name: {"value": value if isinstance(value, (int, float, str, bool, list)) else str(value),
                       "source": self.source(name)} for name, (value, _, _) in sorted(self._values.items())}
