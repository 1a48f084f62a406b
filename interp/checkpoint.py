"""Load and save checkpoints safely.

A checkpoint file holds one model or a whole run (:mod:`interp.containers`) in one of the field's
layouts (:mod:`interp.layouts`), stored either as a PyTorch file (``.pt``/``.pth``, read with
``weights_only=True`` so that nothing but tensors and plain containers is unpickled and no code
in it can run; tensors saved on a GPU load on the CPU) or as ``.safetensors`` (a format that
cannot carry code). What the weights do not say comes from options, the file's own config and
the files beside it (:mod:`interp.sidecars`), recorded with its source (:mod:`interp.facts`).
Every problem is a one-line :class:`~interp.errors.CheckpointError` naming the file.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from interp import containers
from interp.errors import CheckpointError
from interp.facts import DEFAULT, FILE, Facts
from interp.layouts import Adapter, read_model
from interp.model import Model
from interp.names import CHECKPOINT_SUFFIXES
from interp.sidecars import sidecar_facts

SPLIT_FILES = ("train_data.pth", "test_data.pth")  # the one-hot study's split, not checkpoints
NOT_CHECKPOINTS = (*SPLIT_FILES, "resume.pt")


@dataclass(frozen=True)
class Checkpoint:
    """A validated checkpoint: its model, where it came from, its sha256, and what is known of it
    beyond the weights (``facts``: p, task, input form, split, layout, each with its source).
    ``entry`` names the model within a file that holds several (a full-run file's epochs)."""

    path: Path
    sha256: str
    model: Model
    facts: Facts = field(default_factory=Facts)
    entry: str | None = None
    epoch: int | None = None
    stored: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.path.stem if self.entry is None else f"{self.path.stem}@{self.entry}"

    @property
    def task(self) -> str:
        return self.facts.get("task", "add")


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _natural(path: Path) -> tuple:
    """Sort key: numbers by value (``100.pth`` after ``99.pth``)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", path.name))


def _checkpoints_in(directory: Path) -> list[Path]:
    """The checkpoint files directly inside ``directory`` (not optimizer states, split files or
    resume states), sorted by name with numbers by value."""
    return sorted((f for f in directory.iterdir() if f.is_file() and f.suffix in CHECKPOINT_SUFFIXES
                   and not f.name.endswith(".optim.pt") and f.name not in NOT_CHECKPOINTS), key=_natural)


def find_checkpoints(path: str | Path) -> list[Path]:
    """``path`` itself if it is a file; else every checkpoint file directly inside the directory
    (a run), sorted by name with numbers by value; else, for a folder of runs (a population of
    seeds, a sweep of hyper-parameters), every run directory directly inside it, in name order,
    each run's checkpoints in that order. Raises if there is nothing to load.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("seed10/epoch2.pt", "seed10/epoch10.pt", "seed9/final.pth", "notes/x.txt"):
    ...     (root / name).parent.mkdir(exist_ok=True); (root / name).touch()
    >>> [p.relative_to(root).as_posix() for p in find_checkpoints(root)]
    ['seed9/final.pth', 'seed10/epoch2.pt', 'seed10/epoch10.pt']
    """
    path = Path(path)
    if path.is_dir():
        found = _checkpoints_in(path)
        if not found:  # a folder of runs: one level down
            runs = sorted((d for d in path.iterdir() if d.is_dir()), key=_natural)
            found = [f for run in runs for f in _checkpoints_in(run)]
        if not found:
            raise CheckpointError(path, f"directory holds no checkpoint ({', '.join(CHECKPOINT_SUFFIXES)}), "
                                  "nor do the run directories directly inside it")
        return found
    if not path.exists():
        raise CheckpointError(path, "no such file")
    return [path]


def _read_state_dict(path: Path) -> object:
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(path, device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(path, f"not a readable safetensors file ({_first_line(exc)})") from None
    with open(path, "rb") as fh:
        head = fh.read(2)
    if not zipfile.is_zipfile(path):
        if head == b"PK":
            raise CheckpointError(path, "not a readable PyTorch checkpoint (a truncated or damaged zip archive)")
        if head[:1] != b"\x80":  # neither torch.save's zip nor a pickle
            raise CheckpointError(path, "not a readable PyTorch checkpoint (neither a zip archive nor a pickle)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. torch's note about the pickle protocol
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            path, f"not a plain tensor state dict: the weights-only loader refused it ({_refusal(exc)}); "
            "nothing from the file was run") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile, OSError, UnicodeDecodeError,
            AttributeError, TypeError, IndexError, KeyError) as exc:
        raise CheckpointError(path, f"not a readable PyTorch checkpoint ({_first_line(exc)})") from None


def _refusal(exc: BaseException) -> str:
    """The useful part of torch's weights-only refusal: the global or opcode it would not load
    (its wording differs between torch versions), never its advice to load the file unsafely."""
    text = str(exc)
    found = re.search(r"[Uu]nsupported (?:global: )?GLOBAL ([\w.]+)", text)
    if found:
        return f"it names the global {found.group(1)}"
    found = re.search(r"WeightsUnpickler error:\s*(.+)", text)
    if found:
        return found.group(1).strip()[:200]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def load_checkpoints(path: str | Path, options: Facts | None = None,
                     adapters: tuple[Adapter, ...] = ()) -> list[Checkpoint]:
    """Load and validate every model of one checkpoint file (never executing code from it).

    Parameters
    ----------
    options: facts given as options (:data:`interp.facts.OPTION`), which win over the files'.
    adapters: ``pytest_interp_model`` implementations, tried before the layouts.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(path, "is a directory; use find_checkpoints() for a run directory")
    if not path.exists():
        raise CheckpointError(path, "no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "empty file")
    digest = sha256_of(path)
    base = options.copy() if options is not None else Facts()
    sidecar_facts(path, base)
    if all((path.parent / name).is_file() for name in SPLIT_FILES):
        base.offer("split", "files", FILE, ", ".join(SPLIT_FILES))
    out = []
    for entry in containers.entries(_read_state_dict(path), str(path), base):
        facts = entry.facts
        where = str(path) if entry.key is None else f"{path} [{entry.key}]"
        model = read_model(entry.state, where, facts, adapters)
        if facts.get("p", model.p) != model.p:
            raise CheckpointError(where, f"p={facts.get('p')} ({facts.source('p')}) but the weights hold p={model.p}")
        facts.offer("p", model.p, DEFAULT, "the model")
        facts.offer("task", "add", DEFAULT, "")
        facts.offer("split", "all", DEFAULT, "no file says how the split was made")
        out.append(Checkpoint(path=path, sha256=digest, model=model, facts=facts, entry=entry.key,
                              epoch=entry.epoch if entry.epoch is not None else facts.get("epoch"),
                              stored=entry.stored, notes=entry.notes))
    return out


def load_checkpoint(path: str | Path, options: Facts | None = None, adapters: tuple[Adapter, ...] = (),
                    entry: str | None = None) -> Checkpoint:
    """Load and validate one model: the file's only one, or the one named ``entry``."""
    found = load_checkpoints(path, options, adapters)
    if entry is None and len(found) == 1:
        return found[0]
    for checkpoint in found:
        if checkpoint.entry == entry:
            return checkpoint
    names = ", ".join(str(c.entry) for c in found[:5]) + (", ..." if len(found) > 5 else "")
    raise CheckpointError(path, f"holds {len(found)} models ({names}); name one" if entry is None
                          else f"holds no model {entry!r} ({names})")


def write_atomic(target: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``target``, then rename it onto
    ``target``. An interruption leaves ``target`` as it was (absent or the previous version)."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual permissions
    try:
        write(Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_checkpoint(model: Model, path: str | Path) -> None:
    """Save a model's state dict atomically as ``.safetensors`` or a PyTorch file, by suffix."""
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        write_atomic(path, lambda tmp: save_file(state, str(tmp)))
    else:
        # Through a buffer: torch.save names the archive inside the zip after the file, and the
        # temporary file's random name would make the bytes (and sha256) differ run to run.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_atomic(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
