"""CPU and CUDA give the same claims: through the real plugin, ``--device=cpu`` and
``--device=cuda`` reports of one checkpoint have the same key frequencies and claim cases, and
every claim value agrees within :data:`TOLERANCE` (the bundled MLP checkpoint, and a random
transformer). Skipped where CUDA is absent."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from interp.arch.transformer import Transformer
from interp.checkpoint import save_checkpoint
from tests._paths import BUNDLED

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]

TOLERANCE = 1e-5  # absolute, per claim value


def report(pytester: pytest.Pytester, checkpoint: Path, device: str) -> dict:
    out = pytester.path / f"{checkpoint.stem}-{device}.json"
    result = pytester.runpytest_inprocess(f"--checkpoint={checkpoint}", f"--device={device}",
                                          "--claims-report", str(out), "-p", "no:cacheprovider")
    assert result.ret in (0, 1), result.stdout.str()  # claims may fail; a usage error may not
    return json.loads(out.read_text())


def assert_same_claims(pytester: pytest.Pytester, checkpoint: Path) -> None:
    cpu, cuda = (report(pytester, checkpoint, device) for device in ("cpu", "cuda"))
    assert cuda["key_freqs"] == cpu["key_freqs"]
    values = [{row["id"]: row["value"] for row in r["claims"]} for r in (cpu, cuda)]
    assert list(values[1]) == list(values[0]) and len(values[0]) > 10
    differ = {case: (on_cpu, values[1][case]) for case, on_cpu in values[0].items()
              if (on_cpu is None) != (values[1][case] is None)
              or (on_cpu is not None and not math.isclose(on_cpu, values[1][case], rel_tol=0, abs_tol=TOLERANCE))}
    assert not differ, f"(cpu, cuda) values differ by more than {TOLERANCE}: {differ}"


def test_bundled_checkpoint_gives_the_same_claims_on_cpu_and_cuda(pytester):
    assert_same_claims(pytester, BUNDLED)


def test_transformer_gives_the_same_claims_on_cpu_and_cuda(pytester):
    path = pytester.path / "transformer.pt"
    save_checkpoint(Transformer.random(23, 32, 4, 8, 64, seed=0), path)
    assert_same_claims(pytester, path)
