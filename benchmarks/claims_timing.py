"""Time and peak memory of the whole claims pass, MLP against transformer, side by side.

    python benchmarks/claims_timing.py [--repeat 3] [--big]

In one process, alternating the two models (so that a busy machine slows both alike): a fresh
:class:`interp.run.Run` of each checkpoint and every case of the default claims, the median of
``--repeat`` rounds. ``--big`` adds random models at p = 113, 257, 509 and 1009 (d_model 128,
d_mlp 512, the transformer with 4 heads of 32) through the real command line, ``pytest
--checkpoint=... --key-freqs=1,2,3``, each under ``/usr/bin/time -v`` for its wall time and peak
resident memory. Numbers in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interp.arch.mlp import MLP  # noqa: E402
from interp.arch.transformer import Transformer  # noqa: E402
from interp.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from interp.claims.load import DEFAULT_CLAIMS, load_claims  # noqa: E402
from interp.claims.verdicts import NotDefined, evaluate  # noqa: E402
from interp.memory import estimate_run_bytes  # noqa: E402
from interp.run import Run  # noqa: E402

CHECKPOINTS = {"mlp": ROOT / "fixtures/p113/epoch050000.pt",
               "transformer": ROOT / "fixtures/transformer/add/epoch015000.pt"}


def claims_pass(path: Path, claims) -> float:
    start = time.perf_counter()
    run = Run(load_checkpoint(path))
    for claim in claims.claims:
        for case in claim.expand(run.key_freqs):
            with contextlib.suppress(NotDefined):  # a claim the architecture does not have
                evaluate(case, run)
    return time.perf_counter() - start


def command_line(path: Path, folder: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of ``pytest --checkpoint=PATH --key-freqs=1,2,3``."""
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "pytest", f"--checkpoint={path}",
                           "--key-freqs=1,2,3", "-q", "-p", "no:cacheprovider"], cwd=folder, capture_output=True,
                          text=True, check=False)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, int(rss.group(1)) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--big", action="store_true", help="random models at p = 257, 509 and 1009 too")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}")
    claims = load_claims(DEFAULT_CLAIMS)
    for path in CHECKPOINTS.values():
        claims_pass(path, claims)  # warm up torch and the caches of the first calls
    times: dict[str, list[float]] = {name: [] for name in CHECKPOINTS}
    for _ in range(args.repeat):
        for name, path in CHECKPOINTS.items():
            times[name].append(claims_pass(path, claims))
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    for name, ts in times.items():
        print(f"p=113 {name}: median {medians[name]:.2f} s over {', '.join(f'{t:.2f}' for t in ts)}")
    print(f"p=113 transformer / mlp: {medians['transformer'] / medians['mlp']:.2f}")
    if args.big:
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            for p in (113, 257, 509, 1009):
                big = {"mlp": MLP.random(p, 128, 512, seed=0), "transformer": Transformer.random(p, seed=0)}
                for name, model in big.items():
                    save_checkpoint(model, folder / f"{name}.pt")
                for name, model in big.items():
                    seconds, gb = command_line(folder / f"{name}.pt", folder)
                    estimate = estimate_run_bytes(**model.dims()) / 1e9
                    print(f"p={p} {name}: {seconds:.1f} s, {gb:.2f} GB peak, estimate {estimate:.2f} GB "
                          "(whole pytest run)", flush=True)


if __name__ == "__main__":
    main()
