"""Wall time and peak memory of one pytest-split shard against the whole population, side by side.

    python benchmarks/shard_scaling.py [--models 20] [--shards 4] [--rounds 2] [--d-model 128]

Writes ``--models`` checkpoints into a temporary run directory: the bundled grokked MLP
(``fixtures/p113/epoch050000.pt``, p = 113, d_mlp 512) each with its own small perturbation, so
that each is a distinct model as a population's are; ``--d-model`` above 128 pads the embedding
with zero columns (a model with heavier weights and the same run). Then, alternating so that a
busy machine slows both alike, ``--rounds`` times each: the whole directory in one process, and
group 1 of ``--splits SHARDS`` (pytest-split, ``duration_based_chunks``, no durations file: equal
numbers of claim cases), each under ``/usr/bin/time -v``; and, in this process, what every shard
pays for every checkpoint before any claim runs (:func:`interp.targets.build_session`'s reading,
validating and key frequencies) against what a checkpoint's claims cost. Numbers in docs/gating.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.sweep_timing import timed  # noqa: E402
from interp.checkpoint import load_checkpoints  # noqa: E402
from interp.facts import Facts  # noqa: E402
from interp.run import Run  # noqa: E402

SOURCE = ROOT / "fixtures/p113/epoch050000.pt"


def population(out: Path, n: int, d_model: int) -> list[Path]:
    """``n`` perturbed copies of the bundled MLP, ``epoch000001.pt`` ... (bare state dicts)."""
    base = torch.load(SOURCE, map_location="cpu", weights_only=True)
    gen = torch.Generator().manual_seed(0)
    paths = []
    for i in range(n):
        state = {k: v + 1e-4 * torch.randn(v.shape, generator=gen) for k, v in base.items()}
        pad = d_model - state["W_E"].shape[1]
        if pad > 0:  # extra embedding dimensions the neurons do not read: heavier weights, the same run
            state["W_E"] = torch.nn.functional.pad(state["W_E"], (0, pad))
            state["W_in"] = torch.nn.functional.pad(state["W_in"], (0, 0, 0, pad))  # [d_model, d_mlp]
        paths.append(out / f"epoch{i + 1:06d}.pt")
        torch.save(state, paths[-1])
    return paths


def up_front_seconds(path: Path) -> tuple[float, float]:
    """(reading and validating the file, finding its key frequencies): what collection needs."""
    start = time.perf_counter()
    checkpoint = load_checkpoints(path, Facts(), ())[0]
    loaded = time.perf_counter()
    Run(checkpoint).key_freqs  # noqa: B018 - computed for its cost
    return loaded - start, time.perf_counter() - loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--d-model", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        run_dir = tmp_path / "population"
        run_dir.mkdir()
        paths = population(run_dir, args.models, args.d_model)
        up_front_seconds(paths[0])  # warm: imports, the first torch.load
        costs = [up_front_seconds(p) for p in paths]
        common = ["--checkpoint=population", "--claims-report=r.json"]
        shard = [*common, f"--splits={args.shards}", "--group=1", "--splitting-algorithm=duration_based_chunks",
                 f"--durations-path={tmp_path / 'none.json'}"]
        whole, part = [], []
        for _ in range(args.rounds):
            whole.append(timed(common, tmp_path))
            part.append(timed(shard, tmp_path))
        report = json.loads((tmp_path / "r.json").read_text())
        gated = sum(1 for c in report["checkpoints"] if c["totals"]["claims"] + c["totals"]["not_gated"])
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}; "
          f"{args.models} checkpoints (p = 113, d_model {args.d_model}, d_mlp 512), {args.rounds} rounds, median")
    read, keys = statistics.median(c[0] for c in costs), statistics.median(c[1] for c in costs)
    print(f"up front, per checkpoint: reading and validating {1e3 * read:.0f} ms, key frequencies {1e3 * keys:.0f} ms")
    for label, runs in ((f"all {args.models}", whole), (f"shard 1 of {args.shards} ({gated} checkpoints)", part)):
        wall, peak = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
        print(f"{label:<28} {wall:7.1f} s, peak {peak:.2f} GB  ({runs[-1][2]})")


if __name__ == "__main__":
    main()
