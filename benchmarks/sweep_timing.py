"""Time per checkpoint of a long sweep in one process: a Grok-Grok-style full-run file of
``--snapshots`` snapshots (default 250) of a p = 113 transformer, gated by the real command line.

    python benchmarks/sweep_timing.py [--snapshots 250]

The snapshots are the bundled grokked transformer (``fixtures/transformer/add/epoch015000.pt``)
in Nanda et al.'s layout (``embed.W_E [d, vocab]``, ``W_O [d, heads*d_head]``, ...), each with
its own small perturbation (so that each is a distinct model, as a training run's are), saved as
``{"state_dicts", "epochs", "model", "config"}``. Runs ``pytest --checkpoint=FILE`` under
``/usr/bin/time -v`` (wall time and peak resident memory), and the same for the one-model file
for the fixed cost of starting pytest and loading; with ``--before DIR``, the same two runs with
``PYTHONPATH=DIR`` (another checkout) right after, for a ratio on a shared machine. Numbers in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import einops
import torch

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "fixtures/transformer/add/epoch015000.pt"


def nanda_layout(tl: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A 1-layer TransformerLens state dict in Nanda et al.'s shapes (``=`` column added to ``W_U``)."""
    out = {"embed.W_E": tl["embed.W_E"].T.contiguous(), "pos_embed.W_pos": tl["pos_embed.W_pos"],
           "unembed.W_U": torch.cat([tl["unembed.W_U"], torch.zeros(tl["unembed.W_U"].shape[0], 1)], 1)}
    for name in ("W_Q", "W_K", "W_V"):
        out[f"blocks.0.attn.{name}"] = tl[f"blocks.0.attn.{name}"].transpose(1, 2).contiguous()
    out["blocks.0.attn.W_O"] = einops.rearrange(tl["blocks.0.attn.W_O"], "h e d -> d (h e)").contiguous()
    out["blocks.0.attn.mask"] = torch.ones(3, 3).tril()
    out["blocks.0.mlp.W_in"] = tl["blocks.0.mlp.W_in"].T.contiguous()
    out["blocks.0.mlp.W_out"] = tl["blocks.0.mlp.W_out"].T.contiguous()
    out["blocks.0.mlp.b_in"], out["blocks.0.mlp.b_out"] = tl["blocks.0.mlp.b_in"], tl["blocks.0.mlp.b_out"]
    return out


def timed(args: list[str], cwd: Path, pythonpath: str | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in GB, pytest's last line) of ``pytest ARGS`` (with ``PYTHONPATH``:
    another checkout of the project)."""
    env = {**os.environ, **({"PYTHONPATH": pythonpath} if pythonpath else {})}
    start = time.perf_counter()
    out = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "pytest", *args, "-q", "-p", "no:cacheprovider"],
                         cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    peak = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", out.stderr).group(1)) / 1e6
    return wall, peak, out.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshots", type=int, default=250)
    parser.add_argument("--before", help="another checkout of the project: the same two runs with PYTHONPATH=DIR, "
                                         "interleaved, for the time before a change")
    args = parser.parse_args()
    base = nanda_layout(torch.load(SOURCE, map_location="cpu", weights_only=True))
    gen = torch.Generator().manual_seed(0)
    states = [{k: v + 1e-4 * torch.randn(v.shape, generator=gen) if k != "blocks.0.attn.mask" else v
               for k, v in base.items()} for _ in range(args.snapshots)]
    epochs = [100 * (i + 1) for i in range(args.snapshots)]
    config = {"seed": 0, "frac_train": 0.3, "n_ctx": 3, "d_model": 128}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        torch.save({"state_dicts": states, "epochs": epochs, "model": states[-1], "config": config,
                    "train_losses": [], "test_losses": []}, tmp_path / "full_run.pth")
        torch.save(states[-1], tmp_path / "one.pth")
        runs = {"now": None} | ({"before": args.before} if args.before else {})
        results = {name: (timed(["--checkpoint=one.pth"], tmp_path, where),
                          timed(["--checkpoint=full_run.pth", "--claims-table=sweep.md"], tmp_path, where))
                   for name, where in runs.items()}
    cpu = platform.processor() or platform.machine()
    print(f"machine: {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}")
    for name, (one, sweep) in results.items():
        print(f"{name}: one model:        {one[0]:7.1f} s, peak {one[1]:.2f} GB  ({one[2]})")
        print(f"{name}: {args.snapshots} snapshots:    {sweep[0]:7.1f} s, peak {sweep[1]:.2f} GB  ({sweep[2]})")
        print(f"{name}: per checkpoint:   {(sweep[0] - one[0]) / (args.snapshots - 1):7.2f} s beyond the first")

if __name__ == "__main__":
    main()
