"""The feature-learning study's one-hot MLP and its run directories, re-implemented from its published
code: Y-Agent/modular-addition-feature-learning, ``src/model_base.py`` (``EmbedMLP``, ``MLP``,
``Embed``, ``get_fourier_basis``), ``src/nnTrainer.py`` (``Trainer``), ``src/utils.py``
(``Config``, ``gen_train_test``, ``cross_entropy_high_precision``, ``acc``), ``src/module_nn.py``
(the training loop) and ``src/configs.yaml``; read at commits 76a7ef0 / 0391203 (``model_base.py``
in its fork JLiangHe/modular-addition-feature-learning at 7b0df63, the file being absent from the
index of the original; the fork's ``src/utils.py`` at 3ea02cb is the older split code).

* The state dict. ``EmbedMLP`` holds ``embed`` (an ``Embed``) and ``mlp`` (an ``MLP``). ``MLP``
  registers ``W_in [d_mlp, d_model]`` and ``W_out [d_vocab, d_mlp]`` and the buffer
  ``register_buffer('basis', fourier_basis)``, so the keys are ``mlp.W_in``, ``mlp.W_out``,
  ``mlp.basis`` (:func:`fourier_basis`: ``[d_vocab, d_vocab]``, rows ``Const, cos 1, sin 1, ...``
  each of unit norm, for the odd moduli the study trains; ``[p + 2, p]`` for an even ``p``; not
  used by the forward). ``embed_type='one_hot'`` (the default in ``configs.yaml``, and ``d_model =
  d_vocab = p``) sets ``Embed.W_E = None``, a plain attribute; ``embed_type='learned'`` adds
  ``embed.W_E [d_model, d_vocab]`` (created first, so first in the state dict).
* The forward. ``Embed``: one-hot codes of ``a`` and ``b`` summed (``2 e_a`` when ``a == b``), or
  ``W_E[:, a] + W_E[:, b]``; ``MLP``: ``hook_pre = W_in @ x``, ``act`` (``ReLU``, ``GeLU`` =
  ``F.gelu``, ``Quad`` = ``torch.square``, ``Id``), ``hook_post``, ``logits = W_out @ hook_post``;
  no biases; ``d_vocab`` (= p) logits.
* Initialisation (``init_type='random'``): ``W_in = init_scale * randn(d_mlp, d_model) / sqrt(d_model)``,
  then ``W_out = init_scale * randn(d_vocab, d_mlp) / sqrt(d_model)`` (``d_model``, not ``d_mlp``),
  ``init_scale`` 0.1, under the global generator that ``Config`` seeds with ``seed`` before the
  model is built. (``init_type='single-freq'`` draws from numpy; the keys are the same, and it is
  not re-implemented here.)
* Training (``module_nn.run_experiment``): full batch; AdamW(``lr``, ``weight_decay``, betas
  ``(0.9, 0.98)``) with ``LambdaLR(lambda step: min(step / 10, 1))``, so the first step has
  learning rate 0 and leaves the weights as they were. Each ``do_a_training_step(epoch)`` first
  measures the train and test loss (``log_softmax`` in float32, despite the function's name) and
  accuracy (argmax of the ``d_vocab`` logits) on the weights as they are, then steps; then
  ``if epoch % save_every == 0`` the loop saves ``<epoch>.pth``. **So ``<epoch>.pth`` holds the
  weights after ``epoch + 1`` steps, beside the numbers measured one step earlier** (at epoch 0
  the step has learning rate 0, so there the two agree exactly).
* ``<epoch>.pth``: ``{"model", "train_loss", "test_loss", "grad_norm", "param_norm",
  "test_accuracy", "train_accuracy", "epoch"}`` (Python floats and an int). ``final.pth`` (after
  the loop, ``post_training_save(save_optimizer_and_scheduler=True)``): ``{"model", "train_loss",
  "test_loss", "train_losses", "test_losses", "grad_norms", "param_norms", "epoch"}`` with
  ``epoch = num_epochs``, plus ``"optimizer"`` and ``"scheduler"`` (their ``state_dict()``; the
  lambda is saved as ``None``).
* The run directory: ``saved_models/p_{p}_dmlp_{d_mlp}_{act_type}_{init_type}_scale_{init_scale}
  _decay_{weight_decay}_{%m%d%H%M}``, e.g. ``p_23_dmlp_512_ReLU_random_scale_0.1_decay_2.0_08180102``;
  ``train_data.pth`` and ``test_data.pth`` are saved before training. Two forms, by the code's age
  (``split_form``):

  - ``"tensors"`` (``utils.gen_train_test`` at 76a7ef0, the code beside the published
    ``p_97_..._11231917``): each file is a tuple ``(pairs [k, 2], labels [k])`` of int64 tensors on
    the training device, the pairs in row order permuted by ``torch.randperm(p * p)`` (the global
    generator, after the model's initialisation; ``random.seed(seed)`` is also called, which does
    not touch torch). ``frac_train == 1``: both files hold every pair.
  - ``"list"`` (the older ``gen_train_test``, kept in the fork's ``src/utils.py``; the study's
    ``empirical_insight_grokk.ipynb`` reads the published ``p_23_..._08180102`` files with
    ``for i, j in train_data``): a Python list of ``(a, b)`` tuples, ``random.seed(seed)``,
    ``random.shuffle`` of the pairs in row order.

* The files are saved from CUDA (the ``Config`` device): every tensor's storage is tagged
  ``cuda:0``, except AdamW's ``step`` counters, which torch keeps on the CPU. Without a GPU the
  writer here tags them so (:func:`save_as_from`); ``torch.load`` then needs ``map_location``.
"""

from __future__ import annotations

import math
import random
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from tests.published.train import all_pairs

ACTS = ("ReLU", "GeLU", "Quad", "Id")
EPOCH_KEYS = ("model", "train_loss", "test_loss", "grad_norm", "param_norm", "test_accuracy", "train_accuracy",
              "epoch")
FINAL_KEYS = ("model", "train_loss", "test_loss", "train_losses", "test_losses", "grad_norms", "param_norms",
              "epoch", "optimizer", "scheduler")
STATE_KEYS = ("mlp.W_in", "mlp.W_out", "mlp.basis")
SPLIT_FORMS = ("tensors", "list")


def fourier_basis(p: int) -> torch.Tensor:
    """The study's ``get_fourier_basis(p)``: the constant, then ``cos(2 pi k x / p)`` and
    ``sin(...)`` for ``k = 1 .. p // 2`` (each row of unit norm): ``[p, p]`` for an odd ``p``. For
    an even ``p`` its loop also makes ``cos p/2`` and ``sin p/2`` (zero but for rounding, which
    normalising scales up to unit norm) and then appends ``cos(pi x)`` again: ``[p + 2, p]``."""
    x = torch.arange(p)
    rows = [torch.ones(p) / math.sqrt(p)]
    for k in range(1, p // 2 + 1):
        for wave in (torch.cos, torch.sin):
            row = wave(2 * torch.pi * x * k / p)
            rows.append(row / row.norm())
    if p % 2 == 0:
        row = torch.cos(torch.pi * x)
        rows.append(row / row.norm())
    return torch.stack(rows)


class Embed(nn.Module):
    """``one_hot``: no parameter; ``learned``: ``W_E [d_model, d_vocab]``."""

    def __init__(self, d_vocab: int, d_model: int, embed_type: str = "one_hot") -> None:
        super().__init__()
        self.d_vocab, self.embed_type = d_vocab, embed_type
        if embed_type == "learned":
            self.W_E = nn.Parameter(torch.randn(d_model, d_vocab) / math.sqrt(d_model))
        elif embed_type == "one_hot":
            self.W_E = None
        else:
            raise ValueError(f"embed_type {embed_type!r}")

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """``[k, d_model]``: the two inputs' codes summed."""
        if self.W_E is None:
            return F.one_hot(pairs, self.d_vocab).float().sum(dim=1)
        return self.W_E[:, pairs[:, 0]].T + self.W_E[:, pairs[:, 1]].T


class MLP(nn.Module):
    """``W_in [d_mlp, d_model]``, ``W_out [d_vocab, d_mlp]`` and the ``basis`` buffer."""

    def __init__(self, d_model: int, d_mlp: int, d_vocab: int, act_type: str, init_scale: float = 0.1) -> None:
        super().__init__()
        if act_type not in ACTS:
            raise ValueError(f"act_type {act_type!r} not in {ACTS}")
        self.act_type = act_type
        self.W_in = nn.Parameter(init_scale * torch.randn(d_mlp, d_model) / math.sqrt(d_model))
        self.W_out = nn.Parameter(init_scale * torch.randn(d_vocab, d_mlp) / math.sqrt(d_model))
        self.register_buffer("basis", fourier_basis(d_vocab))

    def act(self, x: torch.Tensor) -> torch.Tensor:
        return {"ReLU": F.relu, "GeLU": F.gelu, "Quad": torch.square, "Id": lambda t: t}[self.act_type](x)


class EmbedMLP(nn.Module):
    """The study's ``EmbedMLP(d_vocab, d_model, d_mlp, act_type, init_scale, embed_type)``.

    ``answer(pairs)`` gives ``logits [k, d_vocab]``, ``hook_pre`` and ``hook_post [k, d_mlp]``. The
    weights are drawn from the global generator, as the study draws them (seed it first, or use
    :func:`train_run`, which does).
    """

    def __init__(self, d_vocab: int, d_mlp: int = 512, act_type: str = "ReLU", init_scale: float = 0.1,
                 embed_type: str = "one_hot", d_model: int | None = None) -> None:
        super().__init__()
        d_model = d_vocab if d_model is None and embed_type == "one_hot" else (d_model or 128)
        self.p, self.d_mlp = d_vocab, d_mlp
        self.embed = Embed(d_vocab, d_model, embed_type)
        self.mlp = MLP(d_model, d_mlp, d_vocab, act_type, init_scale)

    def answer(self, pairs: torch.Tensor) -> dict[str, torch.Tensor]:
        pre = self.embed(pairs) @ self.mlp.W_in.T
        post = self.mlp.act(pre)
        return {"logits": post @ self.mlp.W_out.T, "hook_pre": pre, "hook_post": post}

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        return self.answer(pairs)["logits"]


@dataclass(frozen=True)
class Recipe:
    """One run of ``module_nn.py``: the ``configs.yaml`` keys it reads, and ``stamp`` (the
    ``%m%d%H%M`` ending the directory's name), ``split_form`` (see the module docstring)."""

    p: int = 97
    d_mlp: int = 1024
    act_type: str = "ReLU"
    init_scale: float = 0.1
    lr: float = 5e-5
    weight_decay: float = 0
    frac_train: float = 1
    num_epochs: int = 5000
    save_every: int = 200
    seed: int = 42
    embed_type: str = "one_hot"
    split_form: str = "tensors"
    stamp: str = "01010000"

    @property
    def run_name(self) -> str:
        return (f"p_{self.p}_dmlp_{self.d_mlp}_{self.act_type}_random_scale_{self.init_scale}"
                f"_decay_{self.weight_decay}_{self.stamp}")


def split(recipe: Recipe) -> tuple[object, object]:
    """``(train, test)`` in the form the recipe's code saves (call after the model is built: the
    ``"tensors"`` form draws from the global generator)."""
    p, n = recipe.p, recipe.p * recipe.p
    if recipe.split_form == "list":
        pairs = [(a, b) for a in range(p) for b in range(p)]
        random.seed(recipe.seed)
        random.shuffle(pairs)
        if recipe.frac_train == 1:
            return pairs, pairs
        cut = int(recipe.frac_train * n)
        return pairs[:cut], pairs[cut:]
    if recipe.split_form != "tensors":
        raise ValueError(f"split_form {recipe.split_form!r} not in {SPLIT_FORMS}")
    pairs = all_pairs(p)
    answers = (pairs[:, 0] + pairs[:, 1]) % p
    random.seed(recipe.seed)
    order = torch.randperm(n)
    pairs, answers = pairs[order], answers[order]
    if recipe.frac_train == 1:
        return (pairs, answers), (pairs, answers)
    cut = int(recipe.frac_train * n)
    return (pairs[:cut], answers[:cut]), (pairs[cut:], answers[cut:])


def as_tensors(data: object, p: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pairs [k, 2], labels [k])`` of either split form (the study's ``full_loss`` and ``acc``
    compute the labels of a list with ``config.fn``)."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], torch.Tensor):
        return data
    pairs = torch.tensor(data, dtype=torch.long)
    return pairs, (pairs[:, 0] + pairs[:, 1]) % p


def measure(model: EmbedMLP, data: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, float]:
    """``(loss, accuracy)`` as ``full_loss`` and ``acc`` compute them: the loss keeps its graph."""
    pairs, answers = data
    logits = model(pairs)
    loss = -F.log_softmax(logits.to(torch.float32), dim=-1).gather(-1, answers[:, None]).mean()
    return loss, (logits.argmax(dim=1) == answers).sum().item() / answers.size(0)


@contextmanager
def save_as_from(device: str = "cuda:0", keep_on_cpu: tuple[torch.Tensor, ...] = ()):
    """While open, ``torch.save`` tags every storage ``device`` except those of ``keep_on_cpu``."""
    cpu = {t.untyped_storage().data_ptr() for t in keep_on_cpu}
    original = torch.serialization.location_tag
    torch.serialization.location_tag = lambda s: "cpu" if s.data_ptr() in cpu else device
    try:
        yield
    finally:
        torch.serialization.location_tag = original


def train_run(parent: Path, recipe: Recipe, device_tag: str | None = "cuda:0") -> Path:
    """Run ``module_nn.py`` with ``recipe`` on the CPU and write its run directory under ``parent``
    as the study writes it (``device_tag``: the device its storages are tagged with; None: as
    they are). The global generators' states are restored afterwards. Returns the directory."""
    directory = parent / recipe.run_name
    directory.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        state = random.getstate()
        random.seed(recipe.seed)
        torch.manual_seed(recipe.seed)  # Config: set_all_seeds(seed), before the model is built
        model = EmbedMLP(recipe.p, recipe.d_mlp, recipe.act_type, recipe.init_scale, recipe.embed_type)
        optimizer = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay,
                                      betas=(0.9, 0.98))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lambda step: min(step / 10, 1))
        train_data, test_data = split(recipe)
        random.setstate(state)

    def save(obj: object, name: str) -> None:
        if device_tag is None:
            torch.save(obj, directory / name)
            return
        steps = tuple(s["step"] for s in optimizer.state.values() if isinstance(s.get("step"), torch.Tensor))
        with save_as_from(device_tag, keep_on_cpu=steps):
            torch.save(obj, directory / name)

    save(train_data, "train_data.pth")
    save(test_data, "test_data.pth")
    train_set, test_set = as_tensors(train_data, recipe.p), as_tensors(test_data, recipe.p)
    curves: dict[str, list[float]] = {"train_losses": [], "test_losses": [], "grad_norms": [], "param_norms": []}
    for epoch in range(recipe.num_epochs):
        train_loss, train_acc = measure(model, train_set)
        with torch.no_grad():
            test_loss, test_acc = measure(model, test_set)
        train_loss.backward()
        grad_norm = sum(q.grad.norm(2).item() ** 2 for q in model.parameters() if q.grad is not None) ** 0.5
        param_norm = sum(q.norm(2).item() ** 2 for q in model.parameters()) ** 0.5
        for key, value in zip(curves, (train_loss.item(), test_loss.item(), grad_norm, param_norm), strict=True):
            curves[key].append(value)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        if epoch % recipe.save_every == 0:
            save({"model": model.state_dict(), "train_loss": train_loss.item(), "test_loss": test_loss.item(),
                  "grad_norm": grad_norm, "param_norm": param_norm, "test_accuracy": test_acc,
                  "train_accuracy": train_acc, "epoch": epoch}, f"{epoch}.pth")
    save({"model": model.state_dict(), "train_loss": curves["train_losses"][-1],
          "test_loss": curves["test_losses"][-1], **curves, "epoch": recipe.num_epochs,
          "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, "final.pth")
    return directory


FIXTURES = {  # fixtures/onehot: what each directory stands for, and its recipe
    "grokking": Recipe(p=23, d_mlp=512, act_type="ReLU", lr=1e-3, weight_decay=2.0, frac_train=0.75,
                       num_epochs=2000, save_every=500, seed=42, split_form="list", stamp="12030400"),
    "full-data": Recipe(p=97, d_mlp=64, act_type="ReLU", lr=1e-3, weight_decay=0, frac_train=1,
                        num_epochs=1500, save_every=500, seed=42, split_form="tensors", stamp="12030400"),
    "quad": Recipe(p=23, d_mlp=256, act_type="Quad", lr=1e-3, weight_decay=2.0, frac_train=0.75,
                   num_epochs=1000, save_every=1000, seed=42, split_form="list", stamp="12030400"),
}


if __name__ == "__main__":  # python -m tests.published.onehot fixtures/onehot [name ...]
    import sys

    torch.set_num_threads(1)
    out = Path(sys.argv[1])
    for name in sys.argv[2:] or FIXTURES:
        print(name, train_run(out, FIXTURES[name]))
