"""Regenerate the tables in docs/claims.md and README.md from the bundled reference models.

    python docs/make_claims_tables.py

``tests/acceptance/test_thresholds.py`` fails when the file no longer holds what this writes.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conftest import REFERENCE  # noqa: E402
from interp.claims.load import DEFAULT_CLAIMS, load_claims  # noqa: E402
from tests._tables import readme_tables, replace_blocks, tables  # noqa: E402

if __name__ == "__main__":
    claims = load_claims(DEFAULT_CLAIMS)
    for doc, blocks in ((ROOT / "docs" / "claims.md", tables), (ROOT / "README.md", readme_tables)):
        doc.write_text(replace_blocks(doc.read_text(), blocks(claims, REFERENCE)))
        print(f"wrote {doc}")
