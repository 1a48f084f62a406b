"""Does batching seeds in one process train the population faster than one process per seed?

    python benchmarks/batched_seeds.py [--family nb-mlp-113] [--seeds 2] [--epochs 20] [--rounds 5]

Issue 20 asks for this before the population relies on it. For one horizon family's recipe
(``calibration.train_population.HORIZON_FAMILIES``) it times full-batch epochs three ways, each
on one thread, after a warm-up, in interleaved rounds (medians reported):

* **one seed**: ``interp.train.Trainer.step`` (what ``train_population`` runs, one process per
  seed and core);
* **K seeds, vmap**: the K seeds' parameters stacked (``[K, ...]``), the loss of each seed by
  ``torch.func.vmap`` over the same functional forward, summed and differentiated once, and one
  AdamW over the stacked tensors (AdamW is elementwise, so this is K independent optimisers);
* **K seeds, batched products**: the same, with the MLP's forward written as batched matrix
  products (``einsum`` over the seed axis) instead of vmap (MLP families only).

It reports milliseconds per seed-epoch for each, and the ratio to one seed. Batching pays only
where that ratio is below 1. It also checks that the batched loss of each seed after the timed
epochs matches the one-seed run's to 1e-4 relative, so a faster wrong kernel is not reported.
Results go in docs/performance.md ("Training the population").
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch.func import vmap

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from calibration.train_population import HORIZON_FAMILIES  # noqa: E402
from interp.model import cross_entropy, forward  # noqa: E402
from interp.train import BETA2, Recipe, Trainer  # noqa: E402


def trainers(family: str, seeds: int) -> list[Trainer]:
    """One ``Trainer`` per seed of the family's horizon recipe."""
    f = HORIZON_FAMILIES[family]
    if f.kind != "interp":
        raise SystemExit(f"batched_seeds.py: {family} is not trained by interp.train")
    return [Trainer(Recipe(p=f.p, seed=s, arch=f.arch, task=f.task, beta2=BETA2[f.arch],
                           train_fraction=f.train_fraction, weight_decay=f.weight_decay))
            for s in range(seeds)]


class Stacked:
    """K seeds' parameters stacked on a leading axis, with one AdamW over them."""

    def __init__(self, runs: list[Trainer], einsum_mlp: bool) -> None:
        first = runs[0]
        self.cls, self.recipe = first._cls, first.recipe
        self.pairs, self.answers = first.splits["train"]
        self.params = {name: torch.stack([r.params[name].detach() for r in runs]).requires_grad_(t.requires_grad)
                       for name, t in first.params.items()}
        r = self.recipe
        self.optimizer = torch.optim.AdamW([t for t in self.params.values() if t.requires_grad], lr=r.lr,
                                           weight_decay=r.weight_decay, betas=(r.beta1, r.beta2))
        self.einsum_mlp = einsum_mlp

    def _loss_vmap(self) -> torch.Tensor:
        def one(params: dict[str, torch.Tensor]) -> torch.Tensor:
            return cross_entropy(forward(self.cls(**params), self.pairs)["logits"], self.answers)
        return vmap(one)(self.params)

    def _loss_einsum(self) -> torch.Tensor:
        w = self.params
        extra = set(w) - {"W_E", "W_in", "W_U", "b_in", "b_U"}
        if extra:
            raise SystemExit(f"batched_seeds.py: no batched-product forward for an MLP with {sorted(extra)}")
        a, b = self.pairs[:, 0], self.pairs[:, 1]
        # the MLP's forward with a seed axis k: logits = ReLU((W_E[a] + W_E[b]) W_in + b_in) W_U + b_U
        pre = torch.einsum("kne,kem->knm", w["W_E"][:, a] + w["W_E"][:, b], w["W_in"])
        if "b_in" in w:
            pre = pre + w["b_in"][:, None]
        logits = torch.einsum("knm,kmp->knp", torch.relu(pre), w["W_U"])
        if "b_U" in w:
            logits = logits + w["b_U"][:, None]
        return torch.stack([cross_entropy(seed_logits, self.answers) for seed_logits in logits])

    def step(self) -> torch.Tensor:
        losses = self._loss_einsum() if self.einsum_mlp else self._loss_vmap()
        self.optimizer.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.optimizer.step()
        return losses.detach()


def per_epoch(step, epochs: int, warmup: int = 5) -> float:
    """Seconds per call of ``step``, after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(epochs):
        step()
    return (time.perf_counter() - start) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    interp_families = [name for name, f in HORIZON_FAMILIES.items() if f.kind == "interp"]
    parser.add_argument("--family", default="nb-mlp-113", choices=interp_families)
    parser.add_argument("--seeds", type=int, default=2, help="K: seeds per batched process")
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per variant and round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, 1 thread, "
          f"family {args.family}, K = {args.seeds}")

    single = trainers(args.family, 1)[0]
    variants = [("vmap", False)] + ([("batched products", True)] if HORIZON_FAMILIES[args.family].arch == "mlp" else [])
    runs = {name: trainers(args.family, args.seeds) for name, _ in variants}
    stacked = {name: Stacked(runs[name], einsum_mlp) for name, einsum_mlp in variants}
    times: dict[str, list[float]] = {"one seed": [], **{name: [] for name, _ in variants}}
    for _ in range(args.rounds):  # interleaved, so that a slower spell of a shared machine hits all
        times["one seed"].append(per_epoch(single.step, args.epochs))
        for name, _ in variants:
            times[name].append(per_epoch(stacked[name].step, args.epochs) / args.seeds)
    t_one = statistics.median(times["one seed"])
    print(f"{'one seed':26s}{1e3 * t_one:6.1f} ms per seed-epoch   1.00x   (median of {args.rounds} rounds)")
    steps = args.rounds * (args.epochs + 5)
    for name, _ in variants:
        # the same epochs one seed at a time: the batched losses must agree
        for r in runs[name]:
            for _ in range(steps):
                r.step()
        check = stacked[name].step()
        alone = torch.tensor([r.step() for r in runs[name]], dtype=check.dtype)
        worst = float(((check - alone).abs() / alone.abs()).max())
        ok = "agrees" if worst < 1e-4 else "DISAGREES"
        t = statistics.median(times[name])
        print(f"{'K seeds, ' + name:26s}{1e3 * t:6.1f} ms per seed-epoch   {t / t_one:.2f}x   "
              f"(loss after {steps} epochs {ok}: worst relative difference {worst:.1e})")


if __name__ == "__main__":
    main()
