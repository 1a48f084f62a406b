"""Reports: bit-identical across runs, and never half-written."""

import json

import pytest

from interp.checkpoint import write_atomic
from tests._paths import BUNDLED


def test_two_runs_give_bit_identical_reports(pytester):
    """One run in this process, one in a fresh interpreter (no shared caches): same bytes. JSON
    writes floats with repr, which round-trips, so equal text means bit-identical values."""
    first, second = pytester.path / "first.json", pytester.path / "second.json"
    args = (f"--checkpoint={BUNDLED}", "-p", "no:cacheprovider", "-q", "--claims-report")
    pytester.runpytest_inprocess(*args, str(first))
    pytester.runpytest_subprocess(*args, str(second))
    assert first.read_bytes() == second.read_bytes()
    values = [row["value"] for row in json.loads(first.read_text())["claims"]]
    assert len(values) > 30 and all(isinstance(v, float) for v in values)


def test_interrupted_write_leaves_the_old_report_whole(tmp_path):
    target = tmp_path / "report.json"
    target.write_text('{"old": true}\n')

    def interrupted(tmp):
        tmp.write_text('{"new": ')
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, interrupted)
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
