"""Facts from the files beside a checkpoint (:mod:`interp.facts`), by code base:

* ``<stem>.json`` (``interp.train``): ``task``; the project's split.
* ``config_<runid>.json`` beside ``model_<runid>.pt`` (Zhong et al.): ``C`` (p), ``funcs`` (the
  task, recognised as text and never evaluated), ``attn_coeff``, ``diff_vocab``, ``eqn_sign``,
  ``n_layers``, ``act_fn``, ``model_type``. Their split is unseeded: no file records it.
* ``cfg.json`` in the checkpoint's directory (Chughtai et al.): ``group``, ``group_parameter``
  (n), ``seed``, ``frac_train``.
* the run directory's name ``p_<p>_dmlp_<d>_<act>_...`` (the one-hot study): the activation; its
  ``train_data.pth`` / ``test_data.pth``: the split.
* a training checkpoint's own ``config`` (Nanda et al.: ``p``, ``fn_name``, ``seed``,
  ``frac_train``, ``act_type``): :func:`config_facts`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path

from interp.errors import CheckpointError
from interp.facts import FILE, Facts
from interp.names import TASKS

FUNCS = re.compile(r"^\s*lambda\s+(\w+)\s*:\s*\(\s*\1\[0\]\s*([+-])\s*\1\[1\]\s*\)\s*%\s*(\d+)\s*$")
FN_NAMES = {"add": "add", "subtract": "sub", "sub": "sub", "+": "add", "-": "sub"}
RUN_DIR = re.compile(r"(?:^|_)p_(\d+)_.*?_(ReLU|Quad|GeLU|Id|relu|quad|gelu)(?:_|$)")


def task_of_funcs(text: str, where: str) -> tuple[str, int]:
    """The task and modulus of Zhong et al.'s ``funcs`` string, read as text (never evaluated).

    >>> task_of_funcs("lambda x: (x[0]+x[1])%59", "cfg"), task_of_funcs("lambda x: (x[0]-x[1])%7", "cfg")
    (('add', 59), ('sub', 7))
    """
    found = FUNCS.match(str(text))
    if not found:
        raise CheckpointError(where, f"funcs {str(text)[:60]!r} is neither (x[0]+x[1])%p nor (x[0]-x[1])%p "
                              "(it is read as text, never run)")
    return ("add" if found.group(2) == "+" else "sub"), int(found.group(3))


def _json(path: Path, strict: bool = True) -> dict | None:
    """The JSON object in ``path``; None if there is none. A sidecar that is there but unreadable is
    refused (``strict``); a ``<stem>.json`` of unknown origin that is not a JSON object is ignored."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        if not strict:
            return None
        raise CheckpointError(path, f"not a readable JSON file ({str(exc).splitlines()[0][:120]})") from None
    if not isinstance(data, dict):
        if not strict:
            return None
        raise CheckpointError(path, f"expected a JSON object, found a {type(data).__name__}")
    return data


def sidecar_facts(path: Path, facts: Facts) -> None:
    """Offer every fact the files beside ``path`` hold (see the module docstring)."""
    path = Path(path)
    meta = _json(path.with_suffix(".json"), strict=False) if not path.name.startswith("model_") else None
    if meta is not None and ("recipe" in meta or "architecture" in meta or "task" in meta):
        where = f"{path.with_suffix('.json').name}"
        task = meta.get("task")
        if task is not None:
            if task not in TASKS:
                raise CheckpointError(path.with_suffix(".json"), f"task {task!r} is not one of {', '.join(TASKS)}")
            facts.offer("task", task, FILE, where)
        recipe = meta.get("recipe") or {}
        fraction = recipe.get("train_fraction") if isinstance(recipe, dict) else None
        if fraction == 1:  # trained on every pair (a full-data run): every pair is train and test
            facts.offer("split", "all", FILE, f"{where}: interp.train on every pair (recipe.train_fraction 1)")
        else:
            facts.offer("split", "project", FILE, f"{where}: interp.train")
            facts.offer("split_fraction", _fraction(fraction, path.with_suffix(".json"), "recipe.train_fraction"),
                        FILE, f"{where} recipe")
        facts.offer("epoch", meta.get("epoch"), FILE, where)
    if path.name.startswith("model_"):
        config_path = path.with_name(f"config_{path.stem[len('model_'):]}.json")
        config = _json(config_path)
        if config is not None:
            zhong_facts(config, config_path, facts, f"{path} ({config_path.name})")
    cfg = _json(path.parent / "cfg.json")
    if cfg is not None and "group" in cfg:
        where = "cfg.json"
        facts.offer("layout", "chughtai", FILE, where)
        facts.offer("group", cfg.get("group"), FILE, where)
        facts.offer("p", _int(cfg.get("group_parameter"), f"{path} (cfg.json)", "group_parameter"), FILE, where)
        facts.offer("task", "add", FILE, f"{where}: CyclicGroup")
        facts.offer("split", "chughtai", FILE, where)
        facts.offer("split_seed", _seed(cfg.get("seed"), f"{path} (cfg.json)", "seed"), FILE, where)
        facts.offer("split_fraction", _fraction(cfg.get("frac_train"), f"{path} (cfg.json)", "frac_train"), FILE, where)
    run_dir = RUN_DIR.search(path.parent.name)
    if run_dir:
        facts.offer("act", run_dir.group(2).lower(), FILE, f"run directory name {path.parent.name}")
        facts.offer("p", int(run_dir.group(1)), FILE, f"run directory name {path.parent.name}")


def zhong_facts(config: dict, sidecar: Path, facts: Facts, where: str) -> None:
    """Zhong et al.'s ``config_<runid>.json`` (``where``: the model file and the sidecar, for messages)."""
    name = sidecar.name
    facts.offer("layout", "zhong", FILE, name)
    p = _int(config.get("C"), where, "C") if "C" in config else None
    if "funcs" in config:
        task, modulus = task_of_funcs(config["funcs"], where)
        facts.offer("task", task, FILE, f"{name} funcs")
        p = p or modulus
    elif "model_type" in config:
        facts.offer("task", "add", FILE, f"{name}: train-linear.py trains (a + b) mod C")
    facts.offer("p", p, FILE, f"{name} C")
    facts.offer("model_type", config.get("model_type"), FILE, name)
    if "attn_coeff" in config:
        coeff = _number(config["attn_coeff"], where, "attn_coeff", "between 0 and 1", lambda c: 0.0 <= c <= 1.0)
        facts.offer("attn_coeff", coeff, FILE, f"{name} attn_coeff")
    if config.get("eqn_sign") is not None:
        facts.offer("input_form", "a,b,=" if config["eqn_sign"] else "a,b", FILE, f"{name} eqn_sign")
    if config.get("diff_vocab") and p:
        facts.offer("b_offset", p, FILE, f"{name} diff_vocab")
    if config.get("act_fn"):
        facts.offer("act", str(config["act_fn"]).lower(), FILE, f"{name} act_fn")
    facts.offer("split", "all", FILE, f"{name}: Zhong et al.'s split is an unseeded random_split")


def config_facts(config: object, where: str, facts: Facts) -> None:
    """A training checkpoint's ``config`` (Nanda et al.'s ``saved_runs``, Grok-Grok's full-run file)."""
    if not isinstance(config, dict):
        return
    label = "config"
    if "p" in config:
        facts.offer("p", _int(config["p"], where, "config.p"), FILE, f"{label}.p")
    fn_name = config.get("fn_name")
    if fn_name is not None:
        if fn_name not in FN_NAMES:
            raise CheckpointError(where, f"config.fn_name {fn_name!r}: only add and subtract are gated")
        facts.offer("task", FN_NAMES[fn_name], FILE, f"{label}.fn_name")
    if "seed" in config and "frac_train" in config:
        facts.offer("split", "nanda", FILE, f"{label}.seed, {label}.frac_train")
        facts.offer("split_seed", _seed(config["seed"], where, "config.seed"), FILE, f"{label}.seed")
        facts.offer("split_fraction", _fraction(config["frac_train"], where, "config.frac_train"), FILE,
                    f"{label}.frac_train")
    if config.get("act_type"):
        facts.offer("act", str(config["act_type"]).lower(), FILE, f"{label}.act_type")


def _int(value: object, where: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointError(where, f"{key} is {value!r}, expected an integer")
    return value


def _number(value: object, where: object, key: str, meaning: str, holds: Callable[[float], bool]) -> float:
    """``value`` as a float, if it is a finite JSON number (not a string, not a boolean) for which
    ``holds`` is true; else the one-line error, naming the file, the key and ``meaning``.

    >>> _number(0.5, "config_r1.json", "attn_coeff", "between 0 and 1", lambda c: 0 <= c <= 1)
    0.5
    >>> _number("nan", "config_r1.json", "attn_coeff", "between 0 and 1", lambda c: 0 <= c <= 1)
    Traceback (most recent call last):
    interp.errors.CheckpointError: config_r1.json: attn_coeff is 'nan', expected a number between 0 and 1
    """
    number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    if not (math.isfinite(number) and holds(number)):
        raise CheckpointError(where, f"{key} is {value!r}, expected a number {meaning}")
    return number


def _fraction(value: object, where: object, key: str) -> float | None:
    """A split fraction: a number strictly between 0 and 1 (None stays None: not given)."""
    return None if value is None else _number(value, where, key, "between 0 and 1 (exclusive)", lambda f: 0 < f < 1)


def _seed(value: object, where: object, key: str) -> int | None:
    """A split seed: an integer (None stays None: not given)."""
    return None if value is None else _int(value, where, key)
