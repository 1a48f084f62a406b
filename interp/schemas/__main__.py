"""``python -m interp.schemas``: write ``claims.schema.json`` and ``report.schema.json`` again
from their models; ``--check`` writes nothing and exits 1 if a shipped file differs."""

from __future__ import annotations

import argparse
import sys

from interp.schemas import generated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m interp.schemas", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a shipped schema differs from its model's")
    args = parser.parse_args(argv)
    stale = [path for path, text in generated().items()
             if not path.exists() or path.read_text(encoding="utf-8") != text]
    if args.check:
        for path in stale:
            print(f"{path}: differs from what its models give; run python -m interp.schemas", file=sys.stderr)
        return 1 if stale else 0
    for path, text in generated().items():
        path.write_text(text, encoding="utf-8")
        print(f"{path}: {'written' if path in stale else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
