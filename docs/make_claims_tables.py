"""Regenerate the tables in docs/claims.md and README.md from the reference models.

    python docs/make_claims_tables.py

``tests/acceptance/test_thresholds.py`` fails when the files no longer hold what this writes.
Without the third-party reference checkpoint (see README.md; ``INTERP_REFERENCE=/path/to/file``)
it regenerates everything that does not depend on it, keeps the reference's column and the rows
that cite it as they are, and says so: regenerate with the reference before committing a change
that moves them (CI checks them with it).
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conftest import REFERENCE  # noqa: E402
from interp.claims.load import DEFAULT_CLAIMS, load_claims  # noqa: E402
from tests._tables import BLOCKS, block_in, blocks_of, replace_blocks, with_reference_from  # noqa: E402

if __name__ == "__main__":
    claims = load_claims(DEFAULT_CLAIMS)
    reference = REFERENCE if REFERENCE.is_file() else None
    if reference is None:
        print(f"no reference checkpoint at {REFERENCE} (set INTERP_REFERENCE): its cells are kept as they are")
    for doc in sorted({where for where, _ in BLOCKS.values()}):
        path = ROOT / doc
        text = path.read_text()
        blocks = blocks_of(doc, claims, reference)
        if reference is None:
            blocks = {name: with_reference_from(block_in(text, name), block) for name, block in blocks.items()}
        path.write_text(replace_blocks(text, blocks))
        print(f"wrote {path}")
