"""Load and save checkpoints safely.

A checkpoint is a plain state dict ``{"W_E", "W_in", "W_U"}`` of floating-point tensors, stored
either as a PyTorch file (``.pt``, read with ``weights_only=True`` so that no code in it can run)
or as ``.safetensors`` (a format that cannot carry code). Every problem is a one-line
:class:`~interp.errors.CheckpointError` naming the file.
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
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from interp.errors import CheckpointError
from interp.model import WEIGHT_NAMES, Weights

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")
# (row, column) of each weight's shape that must equal p, d_model, d_mlp.
_DIMS = {"p": (("W_E", 0), ("W_U", 1)), "d_model": (("W_E", 1), ("W_in", 0)),
         "d_mlp": (("W_in", 1), ("W_U", 0))}
_COMPUTE_DTYPES = (torch.float32, torch.float64)


@dataclass(frozen=True)
class Checkpoint:
    """A validated checkpoint: its weights, where it came from and its sha256."""

    path: Path
    sha256: str
    weights: Weights

    @property
    def name(self) -> str:
        return self.path.stem


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


def validate_state_dict(state: object, where: str | Path) -> Weights:
    """Check a loaded object strictly and return the weights in a compute dtype (float16 and
    bfloat16 become float32).

    >>> w = validate_state_dict(Weights.random(5, 3, 4).state_dict(), "x.pt")
    >>> validate_state_dict({"W_E": w.W_E}, "x.pt")
    Traceback (most recent call last):
    interp.errors.CheckpointError: x.pt: missing key(s) W_U, W_in; expected exactly W_E, W_in, W_U
    """
    if not isinstance(state, dict):
        raise CheckpointError(where, f"not a state dict: holds a {type(state).__name__}, "
                              f"expected a dict of {', '.join(WEIGHT_NAMES)}")
    keys = set(state)
    missing, extra = set(WEIGHT_NAMES) - keys, keys - set(WEIGHT_NAMES)
    if missing or extra:
        parts = ([f"missing key(s) {', '.join(sorted(missing))}"] if missing else []) + (
            [f"unexpected key(s) {', '.join(sorted(map(str, extra)))}"] if extra else [])
        raise CheckpointError(where, f"{'; '.join(parts)}; expected exactly {', '.join(WEIGHT_NAMES)}")
    tensors = {}
    for name in WEIGHT_NAMES:
        t = state[name]
        if not isinstance(t, Tensor):
            raise CheckpointError(where, f"{name} is a {type(t).__name__}, not a tensor")
        if t.ndim != 2:
            raise CheckpointError(where, f"{name} has rank {t.ndim} (shape {list(t.shape)}), expected 2")
        if not t.is_floating_point():
            raise CheckpointError(where, f"{name} has dtype {t.dtype}, expected a floating-point dtype")
        t = t.detach().to("cpu")
        if t.dtype not in _COMPUTE_DTYPES:
            t = t.float()
        if not torch.isfinite(t).all():
            raise CheckpointError(where, f"{name} holds NaN or Inf values")
        tensors[name] = t
    for dim, ((n1, i1), (n2, i2)) in _DIMS.items():
        a, b = tensors[n1].shape[i1], tensors[n2].shape[i2]
        if a != b:
            raise CheckpointError(where, f"{n1} and {n2} disagree on {dim}: {n1}.shape={list(tensors[n1].shape)}, "
                                  f"{n2}.shape={list(tensors[n2].shape)}")
    if tensors["W_E"].shape[0] < 3:
        raise CheckpointError(where, f"p={tensors['W_E'].shape[0]} is too small (need p >= 3)")
    for dim, ((name, axis), _) in _DIMS.items():
        if tensors[name].shape[axis] == 0:
            raise CheckpointError(where, f"{dim}=0: the weights are empty (need {dim} >= 1)")
    dtypes = {t.dtype for t in tensors.values()}
    dtype = torch.float64 if dtypes == {torch.float64} else torch.float32
    return Weights(*(tensors[n].to(dtype) for n in WEIGHT_NAMES))


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
    weights = validate_state_dict(_read_state_dict(path), path)
    return Checkpoint(path=path, sha256=digest, weights=weights)


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


def save_checkpoint(weights: Weights, path: str | Path) -> None:
    """Save weights atomically as ``.safetensors`` or a PyTorch state dict, by suffix."""
    path = Path(path)
    state = {k: v.detach().contiguous().cpu() for k, v in weights.state_dict().items()}
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        write_atomic(path, lambda tmp: save_file(state, str(tmp)))
    else:
        # Through a buffer: torch.save names the archive inside the zip after the file, and the
        # temporary file's random name would make the bytes (and sha256) differ run to run.
        buffer = io.BytesIO()
        torch.save(state, buffer)
        write_atomic(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
