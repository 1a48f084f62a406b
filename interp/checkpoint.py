"""Load and save checkpoints safely.

A checkpoint is a plain state dict of floating-point tensors in one of the formats of
:mod:`interp.model` (this project's MLP, or a 1-layer TransformerLens transformer), stored either
as a PyTorch file (``.pt``, read with ``weights_only=True`` so that no code in it can run) or as
``.safetensors`` (a format that cannot carry code). Every problem is a one-line
:class:`~interp.errors.CheckpointError` naming the file. A JSON file of the same stem beside it
(written by ``interp.train``) is its metadata: epoch, task, recipe.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from interp.errors import CheckpointError
from interp.model import Model, model_from_state_dict
from interp.names import CHECKPOINT_SUFFIXES


@dataclass(frozen=True)
class Checkpoint:
    """A validated checkpoint: its model, where it came from and its sha256."""

    path: Path
    sha256: str
    model: Model

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def metadata(self) -> dict:
        """The metadata ``interp.train`` writes beside a checkpoint (``<stem>.json``), or ``{}``."""
        return read_metadata(self.path)


def read_metadata(path: Path) -> dict:
    """``<stem>.json`` beside ``path`` as a dict; ``{}`` if it is absent or not a JSON object."""
    try:
        meta = json.loads(Path(path).with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_checkpoints(path: str | Path) -> list[Path]:
    """``path`` itself if it is a file, else every checkpoint file directly inside the directory,
    sorted by name. Raises if there is nothing to load."""
    path = Path(path)
    if path.is_dir():
        found = sorted(f for f in path.iterdir() if f.is_file() and f.suffix in CHECKPOINT_SUFFIXES
                       and not f.name.endswith(".optim.pt"))
        if not found:
            raise CheckpointError(path, f"directory holds no checkpoint ({', '.join(CHECKPOINT_SUFFIXES)})")
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


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate one checkpoint file (never executing code from it)."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(path, "is a directory; use find_checkpoints() for a run directory")
    if not path.exists():
        raise CheckpointError(path, "no such file")
    if path.stat().st_size == 0:
        raise CheckpointError(path, "empty file")
    digest = sha256_of(path)
    model = model_from_state_dict(_read_state_dict(path), str(path))
    return Checkpoint(path=path, sha256=digest, model=model)


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
