"""Train a model on modular addition or subtraction with a published recipe.

Both recipes are full-batch AdamW (lr 1e-3, weight decay 1.0) on the 30% train split, float64
cross-entropy:

* ``--arch mlp`` (default), the seed notebook's: betas (0.9, 0.95); ``manual_seed(seed)``, then
  ``W_E``, ``W_in``, ``W_U`` each ``randn / sqrt(fan_in)``.
* ``--arch transformer``, Nanda et al. 2023's: a 1-layer transformer with d_model 128, 4 heads of
  32, d_mlp 512, ReLU, no LayerNorm; betas (0.9, 0.98); TransformerLens's initialisation; the
  biases stay at zero (not trained). Saved as TransformerLens state dicts.

``--task add`` (default) learns ``(a + b) mod p``; ``--task sub`` learns ``(a - b) mod p``.

Example::

    python -m interp.train --p 113 --epochs 50000 --out runs/p113 --save-at 0,800,2500,50000
    python -m interp.train --arch transformer --task sub --epochs 25000 --out runs/sub

writes ``runs/p113/epoch050000.pt`` (the weights), ``epoch050000.json`` (hyperparameters, epoch,
losses, accuracies, torch version, sha256) and ``epoch050000.optim.pt`` (the optimizer state, for
``--resume``). Every file is written atomically, so Ctrl-C leaves the last saved checkpoint whole.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from interp.arch.mlp import MLP
from interp.arch.transformer import Transformer
from interp.checkpoint import load_checkpoint, save_checkpoint, write_atomic
from interp.data import TASKS, all_pairs, labels, split_indices
from interp.errors import InterpError, OptionError
from interp.model import cross_entropy, forward

BETA2 = {"mlp": 0.95, "transformer": 0.98}


@dataclass(frozen=True)
class Recipe:
    """Hyperparameters of one training run (all recorded in each checkpoint's metadata).
    ``n_heads`` and ``d_head`` apply to the transformer only."""

    p: int = 113
    d_model: int = 128
    d_mlp: int = 512
    seed: int = 0
    lr: float = 1e-3
    weight_decay: float = 1.0
    beta1: float = 0.9
    beta2: float = 0.95
    train_fraction: float = 0.3
    arch: str = "mlp"
    task: str = "add"
    n_heads: int = 4
    d_head: int = 32

    def initial_model(self) -> MLP | Transformer:
        if self.arch == "transformer":
            return Transformer.random(self.p, self.d_model, self.n_heads, self.d_head, self.d_mlp, self.seed)
        return MLP.random(self.p, self.d_model, self.d_mlp, self.seed)


def checkpoint_stem(epoch: int) -> str:
    return f"epoch{epoch:06d}"


class Trainer:
    """Holds the data, the parameters and the optimizer; ``step()`` is one full-batch epoch."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        pairs = all_pairs(recipe.p)
        answers = labels(pairs, recipe.p, recipe.task)
        train, test = split_indices(recipe.p, recipe.train_fraction)
        if recipe.train_fraction >= 1:  # a full-data run: every pair is trained on, and tested on
            test = train
        self.splits = {"train": (pairs[train], answers[train]), "test": (pairs[test], answers[test])}
        init = recipe.initial_model()
        self._cls = type(init)
        # every weight is trained; the transformer's biases stay at zero, as in Nanda et al.
        self.params = {name: t.clone().requires_grad_(not name.startswith("b_"))
                       for name, t in init.tensors().items()}
        self.optimizer = torch.optim.AdamW(
            [t for t in self.params.values() if t.requires_grad], lr=recipe.lr,
            weight_decay=recipe.weight_decay, betas=(recipe.beta1, recipe.beta2))
        self.epoch = 0

    @property
    def weights(self) -> MLP | Transformer:
        return self._cls(**{name: t.detach() for name, t in self.params.items()})

    def step(self) -> float:
        pairs, answers = self.splits["train"]
        loss = cross_entropy(forward(self._cls(**self.params), pairs)["logits"], answers)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.epoch += 1
        return loss.item()

    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        """Loss and accuracy on both splits, for the current weights."""
        out = {}
        for split, (pairs, answers) in self.splits.items():
            logits = forward(self.weights, pairs)["logits"]
            out[f"{split}_loss"] = cross_entropy(logits, answers).item()
            out[f"{split}_accuracy"] = (logits.argmax(-1) == answers).double().mean().item()
        return out

    def save(self, out_dir: Path, suffix: str = ".pt") -> Path:
        """Write weights, optimizer state and metadata for the current epoch, each atomically."""
        stem = out_dir / checkpoint_stem(self.epoch)
        path = stem.with_suffix(suffix)
        save_checkpoint(self.weights, path)
        optim_path = out_dir / f"{stem.name}.optim.pt"
        write_atomic(optim_path, lambda tmp: torch.save(
            {"optimizer": self.optimizer.state_dict(), "epoch": self.epoch}, tmp))
        meta = {
            "epoch": self.epoch,
            "checkpoint": path.name,
            "sha256": load_checkpoint(path).sha256,
            "optimizer_state": optim_path.name,
            "architecture": self.recipe.arch,
            "task": self.recipe.task,
            "recipe": asdict(self.recipe),
            **self.evaluate(),
            "torch_version": torch.__version__,
            "python_version": platform.python_version(),
            "threads": torch.get_num_threads(),
        }
        write_atomic(stem.with_suffix(".json"),
                     lambda tmp: tmp.write_text(json.dumps(meta, indent=2) + "\n"))
        return path

    def resume(self, path: Path) -> None:
        """Continue from a checkpoint written by :meth:`save` (its ``.optim.pt`` must be beside it)."""
        meta_path = path.with_suffix(".json")
        optim_path = path.parent / f"{path.stem}.optim.pt"
        for needed in (meta_path, optim_path):
            if not needed.exists():
                raise OptionError(path, f"cannot resume: {needed.name} is missing beside it")
        meta = json.loads(meta_path.read_text())
        if Recipe(**meta["recipe"]) != self.recipe:
            raise OptionError(path, f"cannot resume: it was trained with {meta['recipe']}, "
                              f"not {asdict(self.recipe)}")
        saved = load_checkpoint(path).model.tensors()
        with torch.no_grad():
            for name, param in self.params.items():
                param.copy_(saved[name])
        state = torch.load(optim_path, map_location="cpu", weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch = int(state["epoch"])


def parse_epochs(text: str) -> list[int]:
    """``--save-at 0,800,2500`` (argparse reports a bad value as a usage error)."""
    try:
        epochs = sorted({int(e) for e in text.split(",") if e.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs, got {text!r}") from None
    if any(e < 0 for e in epochs):
        raise argparse.ArgumentTypeError(f"epochs must be >= 0, got {text!r}")
    return epochs


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m interp.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--arch", choices=("mlp", "transformer"), default="mlp",
                        help="the seed's MLP, or Nanda et al.'s 1-layer transformer (default %(default)s)")
    parser.add_argument("--task", choices=TASKS, default="add",
                        help="(a + b) mod p or (a - b) mod p (default %(default)s)")
    parser.add_argument("--p", type=int, default=Recipe.p, help="modulus (default %(default)s)")
    parser.add_argument("--d-model", type=int, default=Recipe.d_model)
    parser.add_argument("--d-mlp", type=int, default=Recipe.d_mlp)
    parser.add_argument("--n-heads", type=int, default=Recipe.n_heads, help="transformer only")
    parser.add_argument("--d-head", type=int, default=Recipe.d_head, help="transformer only")
    parser.add_argument("--epochs", type=int, default=50_000, help="train until this epoch")
    parser.add_argument("--seed", type=int, default=Recipe.seed, help="initialisation seed")
    parser.add_argument("--out", type=Path, required=True, help="run directory")
    parser.add_argument("--save-at", type=parse_epochs, default=[], help="e.g. 0,800,2500")
    parser.add_argument("--save-every", type=int, default=0, help="also save every N epochs")
    parser.add_argument("--format", choices=("pt", "safetensors"), default="pt")
    parser.add_argument("--resume", type=Path, help="a checkpoint written by this command")
    parser.add_argument("--eval-every", type=int, default=100,
                        help="refresh the test loss in the progress bar every N epochs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _train(args)
    except InterpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: every checkpoint already saved is complete", file=sys.stderr)
        return 130


def _train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if args.p < 3:
        raise OptionError("--p", f"must be >= 3, got {args.p}")
    recipe = Recipe(p=args.p, d_model=args.d_model, d_mlp=args.d_mlp, seed=args.seed, arch=args.arch,
                    task=args.task, n_heads=args.n_heads, d_head=args.d_head, beta2=BETA2[args.arch])
    trainer = Trainer(recipe)
    if args.resume:
        trainer.resume(args.resume)
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = f".{args.format}"
    save_at = set(args.save_at) | {args.epochs}

    def due(epoch: int) -> bool:
        return epoch in save_at or (args.save_every > 0 and epoch % args.save_every == 0)

    if due(trainer.epoch) and not args.resume:
        trainer.save(args.out, suffix)
    bar = tqdm(total=args.epochs, initial=trainer.epoch, disable=args.no_progress,
               desc="train", unit="epoch", dynamic_ncols=True)
    with bar:
        while trainer.epoch < args.epochs:
            train_loss = trainer.step()
            bar.update(1)
            if trainer.epoch % args.eval_every == 0 or trainer.epoch == args.epochs:
                stats = trainer.evaluate()
                bar.set_postfix(train_loss=f"{train_loss:.3g}", test_loss=f"{stats['test_loss']:.3g}",
                                test_acc=f"{stats['test_accuracy']:.3f}")
            if due(trainer.epoch):
                trainer.save(args.out, suffix)
    final = trainer.evaluate()
    print(json.dumps({"epoch": trainer.epoch, **final}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
