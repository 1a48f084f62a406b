"""Reports: bit-identical across runs, and never half-written."""

import json

import pytest

from interp.checkpoint import write_atomic


def test_two_runs_give_bit_identical_reports(pytester, reference_path):
    texts = []
    for name in ("first.json", "second.json"):
        out = pytester.path / name
        pytester.runpytest_inprocess("--checkpoint", str(reference_path), "--claims-report", str(out),
                                     "-p", "no:cacheprovider", "-q")
        texts.append(out.read_text())
    assert texts[0] == texts[1]
    assert len(json.loads(texts[0])["claims"]) > 30


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
