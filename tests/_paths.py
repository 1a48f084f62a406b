"""Where the project's own test data lies (the tests import these; users never need them)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
BUNDLED = FIXTURES / "p113" / "epoch050000.pt"  # the default checkpoint (pyproject testpaths)
