"""The scale goal, side by side: the whole suite on a p = 1009 MLP against one bare forward pass.

    python benchmarks/p1009_timing.py [--rounds 3] [--before DIR] [--python PATH]

A random MLP (p = 1009, d_model 128, d_mlp 512, ``MLP.random(..., seed=0)``) saved in a temporary
folder; in each round, alternating, so that a busy machine slows both alike:

* **bare**: a fresh Python process runs the logits over all ``p^2`` pairs in plain torch
  (``relu((W_E[a] + W_E[b]) @ W_in) @ W_U``, blocks of 16 rows ``a``, nothing kept), and reports the
  time of that loop alone (torch's import and the file's load excluded);
* **suite**: ``python -m pytest --checkpoint=p1009.pt -q -p no:cacheprovider`` run in that folder,
  wall time of the whole process (start, import, load, every claim, the report);
* **before** (with ``--before DIR``): the same command with ``PYTHONPATH=DIR``, another checkout of
  the project (``git archive <commit> | tar -x -C DIR``), for the time before a change.

``--python``: the interpreter both run under (default: this one). A user's ``pip install
interp-claims`` has the package's own dependencies only; this repository's virtualenv also has the
test extra, whose hypothesis plugin imports hypothesis at the end of every pytest run (1.2 s here).

Prints each round and the medians, and the ratio suite / bare (goal: at most 2). Numbers in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from interp.arch.mlp import MLP  # noqa: E402
from interp.checkpoint import save_checkpoint  # noqa: E402

BARE = """
import sys, time, torch
from pathlib import Path
from interp.checkpoint import load_checkpoint
m = load_checkpoint(Path(sys.argv[1])).model
p, rows = m.p, 16
with torch.no_grad():
    start = time.perf_counter()
    for a0 in range(0, p, rows):
        a = torch.arange(a0, min(p, a0 + rows))
        x = (m.W_E[a][:, None, :] + m.W_E[None, :, :]).reshape(-1, m.W_E.shape[1])
        logits = torch.relu(x @ m.W_in) @ m.W_U
    print(time.perf_counter() - start)
"""


def bare(path: Path, python: str = sys.executable) -> float:
    done = subprocess.run([python, "-c", BARE, str(path)], capture_output=True, text=True, check=True)
    return float(done.stdout.split()[-1])


def suite(path: Path, pythonpath: str | None = None, python: str = sys.executable) -> tuple[float, str]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    start = time.perf_counter()
    done = subprocess.run([python, "-m", "pytest", f"--checkpoint={path}", "-q", "-p", "no:cacheprovider"],
                          cwd=path.parent, capture_output=True, text=True, env=env, check=False)
    return time.perf_counter() - start, done.stdout.strip().splitlines()[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--before", help="another checkout of the project, timed with PYTHONPATH=DIR")
    parser.add_argument("--python", default=sys.executable, help="the interpreter to run both under")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"bare": [], "suite": []} | ({"before": []} if args.before else {})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "p1009.pt"
        save_checkpoint(MLP.random(1009, 128, 512, seed=0), path)
        for i in range(args.rounds):
            times["bare"].append(bare(path, args.python))
            seconds, last = suite(path, python=args.python)
            times["suite"].append(seconds)
            line = f"round {i + 1}: bare {times['bare'][-1]:.1f} s, suite {seconds:.1f} s ({last})"
            if args.before:
                seconds, last = suite(path, args.before, args.python)
                times["before"].append(seconds)
                line += f", before {seconds:.1f} s ({last})"
            print(line + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    medians = {name: statistics.median(ts) for name, ts in times.items()}
    print("medians: " + ", ".join(f"{name} {m:.1f} s" for name, m in medians.items()))
    for name in [n for n in times if n != "bare"]:
        ratios = ", ".join(f"{s / b:.2f}" for s, b in zip(times[name], times["bare"], strict=True))
        print(f"ratio {name} / bare: {ratios} (medians {medians[name] / medians['bare']:.2f})")

if __name__ == "__main__":
    main()
