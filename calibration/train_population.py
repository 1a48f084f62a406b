"""Train the calibration population, resumably: ``python -m calibration.train_population``.

Families (p = 59, Zhong et al.'s setting, and one MLP family at the seed's p = 113 as a check),
each trained until it has ``--grokked`` grokked seeds:

* ``mlp-add``: this project's MLP with the seed notebook's recipe (``interp.train``), 50% train.
* ``mlp-add-113``: the same at the seed's p = 113 and 30% train (a few seeds, as a check).
* ``tl-add``, ``tl-sub``: Nanda et al.'s 1-layer transformer recipe, saved as TransformerLens
  state dicts (``interp.train --arch transformer``).
* ``zhong-c0``, ``zhong-c1``: Zhong et al.'s transformer (input ``[a, b]``, attention
  ``c * softmax + (1 - c)``) with their recipe (AdamW lr 1e-3, weight decay 2, betas (0.9, 0.98),
  10-epoch warm-up, 80% train), saved as their code saves it (``model_<runid>.pt`` beside
  ``config_<runid>.json``), re-implemented in ``tests/published/zhong.py``.

Each run evaluates every 100 epochs on its own split. It has *grokked* at the first evaluation
with test accuracy 1, and is *clean* with test accuracy 1 and test loss at most ``CLEAN_LOSS`` (1e-4: weight decay
has removed the memorising solution); it stops at the first evaluation that is clean and at least
its family's ``settle`` epochs past grokking, so the saved model is clean (a transformer's loss
can spike after it first cleaned up: ``tl-sub`` seed 7 stopped, before this rule, on a spike with
test accuracy 0.992). (The transformers are clean within
a few hundred epochs of grokking; this project's MLP at p = 59 takes thousands more: at 2,000
epochs past grokking its test loss was still 2.6e-3 and its FVE 0.04 to 0.34.)
A run that is not clean by its family's ``max_epochs`` is kept (``run.json`` says ``clean: false``;
its ``final`` is a negative if it never grokked, and in neither half if it grokked without
cleaning up), and the next seed replaces it.

Each run keeps, in ``runs/<family>/seed<k>/``: ``init`` (epoch 0, a negative), ``memorised`` (the
first evaluation with train accuracy 1 and test accuracy below 0.5, a negative), ``final`` (the
grokked model, or the last one of a run that did not grok), and ``run.json`` (the outcome and the
evaluations). Runs are written atomically and a killed run resumes from its last ``resume.pt``
(saved every ``--save-every`` epochs), so the command can be stopped and started again at will.
The checkpoints stay out of git; ``measure_population`` turns them into the committed data file.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from interp.checkpoint import write_atomic  # noqa: E402
from interp.data import all_pairs, labels, split_indices  # noqa: E402
from interp.model import cross_entropy  # noqa: E402
from interp.train import Recipe  # noqa: E402
from tests.published.zhong import Transformer as ZhongTransformer  # noqa: E402
from tests.published.zhong import zhong_config  # noqa: E402

P = 59
CLEAN_LOSS = 1e-4  # a grokked run trains on until its test loss is this low (weight decay's clean-up)


@dataclass(frozen=True)
class Family:
    """One family of the population: how its runs are built and how long they may train."""

    name: str
    kind: str  # "interp" (interp.train's MLP / transformer) or "zhong"
    task: str = "add"
    arch: str = "mlp"
    attn_coeff: float = 1.0
    train_fraction: float = 0.3
    weight_decay: float = 1.0
    max_epochs: int = 20_000
    settle: int = 2000  # epochs trained after grokking
    p: int = P
    extra: dict = field(default_factory=dict)
    horizon: int | None = None  # train to this epoch, whatever happens (issue 20: the field's recipes)
    snapshot_every: int = 1000  # with a horizon: a snapshot every N epochs, besides init and grokked


FAMILIES = {f.name: f for f in (
    Family("mlp-add", "interp", arch="mlp", train_fraction=0.5, max_epochs=20_000),
    # the check in the seed's own setting: p = 113, 30% train (run with --grokked 4)
    Family("mlp-add-113", "interp", arch="mlp", p=113, train_fraction=0.3, max_epochs=30_000),
    Family("tl-add", "interp", arch="transformer", train_fraction=0.5, max_epochs=15_000),
    Family("tl-sub", "interp", arch="transformer", task="sub", train_fraction=0.5, max_epochs=15_000),
    Family("zhong-c0", "zhong", attn_coeff=0.0, train_fraction=0.8, weight_decay=2.0, max_epochs=10_000, settle=1000),
    Family("zhong-c1", "zhong", attn_coeff=1.0, train_fraction=0.8, weight_decay=2.0, max_epochs=10_000, settle=1000),
)}

# Issue 20: each family trained to the fixed horizon of the published recipe it follows, with a
# snapshot every 1,000 epochs (``python -m calibration.train_population --horizon``). Seeds of a
# family differ in their initialisation; the split is the recipe's.
HORIZON_FAMILIES = {f.name: f for f in (
    # the seed notebook's MLP and recipe at its own p = 113, 30% train, to its 50,000 epochs
    Family("nb-mlp-113", "interp", arch="mlp", p=113, train_fraction=0.3, horizon=50_000),
    # no published p = 59 horizon: the notebook's
    Family("mlp-add", "interp", arch="mlp", train_fraction=0.5, horizon=50_000),
    # Nanda et al.'s recipe to TransformerLens's demo's 25,000 epochs
    Family("tl-add", "interp", arch="transformer", train_fraction=0.5, horizon=25_000),
    Family("tl-sub", "interp", arch="transformer", task="sub", train_fraction=0.5, horizon=25_000),
    # Zhong et al.'s train-main.py: 20,000 epochs
    Family("zhong-c0", "zhong", attn_coeff=0.0, train_fraction=0.8, weight_decay=2.0, horizon=20_000),
    Family("zhong-c1", "zhong", attn_coeff=1.0, train_fraction=0.8, weight_decay=2.0, horizon=20_000),
    # negatives that answer every test pair without a clock (issue 20, item 3a; stage full-data):
    # trained on every pair (train_fraction 1: nothing held out) with no weight decay, the same
    # optimiser otherwise; nothing forces them to generalise through a few frequencies
    Family("full-mlp", "interp", arch="mlp", train_fraction=1.0, weight_decay=0.0, horizon=5_000),
    Family("full-tl", "interp", arch="transformer", train_fraction=1.0, weight_decay=0.0, horizon=3_000),
)}


class InterpRun:
    """A run of ``interp.train``'s recipe (its Trainer: the MLP or the TransformerLens transformer)."""

    def __init__(self, family: Family, seed: int) -> None:
        from interp.train import BETA2, Trainer

        self.recipe = Recipe(p=family.p, seed=seed, arch=family.arch, task=family.task, beta2=BETA2[family.arch],
                             train_fraction=family.train_fraction, weight_decay=family.weight_decay)
        self.trainer = Trainer(self.recipe)

    @property
    def epoch(self) -> int:
        return self.trainer.epoch

    def step(self) -> None:
        self.trainer.step()

    def evaluate(self) -> dict[str, float]:
        return self.trainer.evaluate()

    def save(self, directory: Path, tag: str) -> None:
        """``<tag>.pt`` (the state dict, as interp.train writes it) and ``<tag>.json`` (metadata)."""
        from interp.checkpoint import save_checkpoint

        save_checkpoint(self.trainer.weights, directory / f"{tag}.pt")
        meta = {"epoch": self.epoch, "architecture": self.recipe.arch, "task": self.recipe.task,
                "recipe": vars(self.recipe) if hasattr(self.recipe, "__dict__") else {}, **self.evaluate()}
        write_atomic(directory / f"{tag}.json", lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"))

    def state(self) -> dict:
        return {"params": {k: v.detach().clone() for k, v in self.trainer.params.items()},
                "optimizer": self.trainer.optimizer.state_dict(), "epoch": self.epoch}

    def load_state(self, state: dict) -> None:
        with torch.no_grad():
            for name, param in self.trainer.params.items():
                param.copy_(state["params"][name])
        self.trainer.optimizer.load_state_dict(state["optimizer"])
        self.trainer.epoch = state["epoch"]


class ZhongRun:
    """A run of Zhong et al.'s recipe on their transformer (full batch, as their script runs it)."""

    def __init__(self, family: Family, seed: int) -> None:
        torch.manual_seed(seed)
        self.family, self.seed = family, seed
        self.model = ZhongTransformer(family.p, attn_coeff=family.attn_coeff)
        pairs = all_pairs(family.p)
        answers = labels(pairs, family.p, family.task)
        train, test = split_indices(family.p, family.train_fraction, seed=seed)
        self.splits = {"train": (pairs[train], answers[train]), "test": (pairs[test], answers[test])}
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3, weight_decay=family.weight_decay,
                                           betas=(0.9, 0.98))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda step: min(step / 10, 1))
        self.epoch = 0

    def step(self) -> None:
        pairs, answers = self.splits["train"]
        loss = cross_entropy(self.model.answer(pairs, last_only=True)["logits"], answers)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.epoch += 1

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        out = {}
        for split, (pairs, answers) in self.splits.items():
            logits = self.model.answer(pairs, last_only=True)["logits"]
            out[f"{split}_loss"] = cross_entropy(logits, answers).item()
            out[f"{split}_accuracy"] = (logits.argmax(-1) == answers).double().mean().item()
        return out

    def save(self, directory: Path, tag: str) -> None:
        """``model_<tag>.pt`` and ``config_<tag>.json``, as Zhong et al.'s script writes them."""
        config = zhong_config(self.model, tag, self.family.task, seed=self.seed, epoch_saved=self.epoch,
                              frac=self.family.train_fraction, **self.evaluate())
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        write_atomic(directory / f"model_{tag}.pt", lambda tmp: torch.save(state, tmp))
        write_atomic(directory / f"config_{tag}.json", lambda tmp: tmp.write_text(json.dumps(config)))

    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "epoch": self.epoch}

    def load_state(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]


def is_clean(stats: dict) -> bool:
    """Test accuracy 1 and test loss at most ``CLEAN_LOSS`` (weight decay's clean-up is done)."""
    return stats["test_accuracy"] == 1.0 and stats["test_loss"] <= CLEAN_LOSS


def make_run(family: Family, seed: int) -> InterpRun | ZhongRun:
    return (ZhongRun if family.kind == "zhong" else InterpRun)(family, seed)


def train_one(family: Family, seed: int, out: Path, save_every: int, log) -> dict:
    """Train (or resume) one run to its outcome; returns what ``run.json`` records."""
    directory = out / family.name / f"seed{seed}"
    done = directory / "run.json"
    if done.exists():
        record = json.loads(done.read_text())
        record["clean"] = bool(record.get("clean", record["grokked"])) and is_clean(record)  # as saved, at the end
        return record
    directory.mkdir(parents=True, exist_ok=True)
    run = make_run(family, seed)
    resume = directory / "resume.pt"
    record = {"family": family.name, "seed": seed, "p": family.p, "grokked_at": None, "clean_at": None,
              "memorised_at": None, "evaluations": []}
    if resume.exists():
        saved = torch.load(resume, map_location="cpu", weights_only=True)
        run.load_state(saved["run"])
        record = json.loads(saved["record"])
    else:
        run.save(directory, "init")
    start = time.time()
    while run.epoch < family.max_epochs:
        run.step()
        if run.epoch % 100:
            continue
        stats = run.evaluate()
        record["evaluations"].append({"epoch": run.epoch, **{k: round(v, 6) for k, v in stats.items()}})
        if record["memorised_at"] is None and stats["train_accuracy"] == 1.0 and stats["test_accuracy"] < 0.5:
            record["memorised_at"] = run.epoch
            run.save(directory, "memorised")
        if record["grokked_at"] is None and stats["test_accuracy"] == 1.0:
            record["grokked_at"] = run.epoch
        if record.get("clean_at") is None and stats["test_accuracy"] == 1.0 and stats["test_loss"] <= CLEAN_LOSS:
            record["clean_at"] = run.epoch
        if is_clean(stats) and run.epoch >= record["grokked_at"] + family.settle:
            break  # clean now, not only once (a transformer's loss can spike after it cleaned up)
        if run.epoch % save_every == 0:
            payload = {"run": run.state(), "record": json.dumps(record)}
            write_atomic(resume, lambda tmp, payload=payload: torch.save(payload, tmp))
    run.save(directory, "final")
    record.update(final_epoch=run.epoch, grokked=record["grokked_at"] is not None,
                  clean=is_clean(run.evaluate()), seconds=round(time.time() - start),
                  threads=torch.get_num_threads(), torch_version=torch.__version__, **run.evaluate())
    write_atomic(done, lambda tmp: tmp.write_text(json.dumps(record, indent=1) + "\n"))
    resume.unlink(missing_ok=True)
    log(f"{family.name} seed {seed}: grokked at {record['grokked_at']}, clean at {record.get('clean_at')}, "
        f"stopped at {run.epoch} ({record['seconds']} s)")
    return record


def snapshot_tag(epoch: int) -> str:
    return f"epoch{epoch:06d}"


def train_to_horizon(family: Family, seed: int, out: Path, log) -> dict:
    """Train (or resume) one run to its family's fixed horizon, keeping a snapshot every
    ``snapshot_every`` epochs and one at the grokking evaluation; returns what ``run.json`` records.

    Nothing stops the run early: the published recipes train a fixed number of epochs. The run
    resumes from its newest snapshot's ``resume.pt`` state (saved with each snapshot), so a killed
    run loses at most ``snapshot_every`` epochs and, resumed, gives the same weights bit for bit.
    """
    directory = out / family.name / f"seed{seed}"
    done = directory / "run.json"
    if done.exists():
        return json.loads(done.read_text())
    directory.mkdir(parents=True, exist_ok=True)
    run = make_run(family, seed)
    resume = directory / "resume.pt"
    record = {"family": family.name, "seed": seed, "p": family.p, "horizon": family.horizon,
              "grokked_at": None, "clean_at": None, "memorised_at": None, "snapshots": [], "evaluations": []}
    if resume.exists():
        saved = torch.load(resume, map_location="cpu", weights_only=True)
        run.load_state(saved["run"])
        record = json.loads(saved["record"])
    else:
        run.save(directory, snapshot_tag(0))
        record["snapshots"].append(0)
    start = time.time() - record.get("seconds_so_far", 0)
    while run.epoch < family.horizon:
        run.step()
        snapshot = run.epoch % family.snapshot_every == 0 or run.epoch == family.horizon
        if run.epoch % 100 and not snapshot:
            continue
        stats = run.evaluate()
        record["evaluations"].append({"epoch": run.epoch, **{k: round(v, 6) for k, v in stats.items()}})
        if record["memorised_at"] is None and stats["train_accuracy"] == 1.0 and stats["test_accuracy"] < 0.5:
            record["memorised_at"] = run.epoch
            snapshot = True
        if record["grokked_at"] is None and stats["test_accuracy"] == 1.0:
            record["grokked_at"] = run.epoch
            snapshot = True
        if record["clean_at"] is None and is_clean(stats):
            record["clean_at"] = run.epoch
        if snapshot:
            run.save(directory, snapshot_tag(run.epoch))
            record["snapshots"].append(run.epoch)
            record["seconds_so_far"] = round(time.time() - start)
            payload = {"run": run.state(), "record": json.dumps(record)}
            write_atomic(resume, lambda tmp, payload=payload: torch.save(payload, tmp))
    final = run.evaluate()
    record.update(final_epoch=run.epoch, grokked=record["grokked_at"] is not None, clean=is_clean(final),
                  seconds=round(time.time() - start), threads=torch.get_num_threads(),
                  torch_version=torch.__version__, **final)
    record.pop("seconds_so_far", None)
    write_atomic(done, lambda tmp: tmp.write_text(json.dumps(record, indent=1) + "\n"))
    resume.unlink(missing_ok=True)
    log(f"{family.name} seed {seed}: grokked at {record['grokked_at']}, clean at {record['clean_at']}, "
        f"horizon {run.epoch} ({record['seconds']} s)")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m calibration.train_population",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs")
    parser.add_argument("--families", default=",".join(FAMILIES), help="comma-separated (default: all)")
    parser.add_argument("--grokked", type=int, default=10, help="grokked seeds wanted per family")
    parser.add_argument("--max-seeds", type=int, default=20, help="stop a family after this many seeds")
    parser.add_argument("--save-every", type=int, default=1000, help="resume state every N epochs")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start each family at this seed (a second process on the same family: a "
                             "range of seeds of its own, e.g. 20)")
    parser.add_argument("--horizon", action="store_true",
                        help="issue 20's population: each family to its published fixed horizon, with "
                             "snapshots (into runs-horizon/ unless --out); trains seeds --first-seed to "
                             "--first-seed + --seeds - 1 of each family")
    parser.add_argument("--seeds", type=int, default=10, help="with --horizon: seeds per family")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    def log(text: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)

    if args.horizon:
        out = ROOT / "runs-horizon" if args.out == ROOT / "runs" else args.out
        families = [HORIZON_FAMILIES[name] for name in args.families.split(",")]
        for family in families:
            for seed in range(args.first_seed, args.first_seed + args.seeds):
                train_to_horizon(family, seed, out, log)
        return 0
    families = [FAMILIES[name] for name in args.families.split(",")]
    counts = {f.name: {"grokked": 0, "next": args.first_seed} for f in families}

    # round-robin over the families, so that a stopped run leaves every family partly trained
    while True:
        pending = [f for f in families if counts[f.name]["grokked"] < args.grokked
                   and counts[f.name]["next"] < args.first_seed + args.max_seeds]
        if not pending:
            break
        for family in pending:
            seed = counts[family.name]["next"]
            counts[family.name]["next"] += 1
            record = train_one(family, seed, args.out, args.save_every, log)
            counts[family.name]["grokked"] += bool(record.get("clean", record["grokked"]))
    log(json.dumps(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
