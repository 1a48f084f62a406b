"""What a gating run is about: the checkpoints to gate (one :class:`Target` per model, so a
full-run file gives one per snapshot), the facts given as options, and the session that holds
them with the claims and the output paths. Everything is validated up front
(:func:`build_session`), before any claim runs.

What is up front and what is deferred. Up front, every checkpoint is read, once: its file, its
sha256, its layout and facts, and its key frequencies, found from its weights alone (the claim
cases, hence the test items, expand over them), and what the summary and the reports say of it
(:attr:`Target.info`). Then its model is dropped. The run (the forward pass over all ``p*p``
pairs, the spectra, the claims) is deferred: a checkpoint is read again, its sha256 checked, and
run only when one of its claims runs, and released after its last one. So a process that runs
the claims of some checkpoints only (a pytest-split shard, ``-k``, an xdist worker) runs and
holds only those; what it pays for the others is the read (milliseconds at p = 113:
docs/gating.md, "Across machines").
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from interp.algorithm import classify_run
from interp.checkpoint import Checkpoint, load_checkpoints
from interp.claims.claim import GATE_MODES, ClaimsFile, gate_architecture
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.errors import CheckpointError, OptionError
from interp.facts import OPTION, Facts
from interp.keyfreqs import check_key_freqs, parse_key_freqs
from interp.memory import check_fits_in_memory
from interp.run import Run
from interp.splits import KINDS
from interp.trace import Trace, found_key_freqs, make_trace

CYCLIC_VIEWS = ("readout_spectra", "split_logits")  # Run's lazy views that hold the run itself
DIMS = ("p", "d_model", "d_mlp", "n_heads", "d_head")  # a model's shapes, as its dims() gives them
_FILE_CACHE: dict[tuple[Path, str | None], list[Checkpoint]] = {}  # the last file loaded, per process


def _load_all(path: Path, options: Facts, adapters: tuple) -> list[Checkpoint]:
    """Every model of a file, the last file kept: a full-run file is read once for its snapshots."""
    key = (path, None)
    if key not in _FILE_CACHE:
        _FILE_CACHE.clear()
        _FILE_CACHE[key] = load_checkpoints(path, options, adapters)
    return _FILE_CACHE[key]


@dataclass
class Target:
    """One model to gate: a file, or one snapshot (``entry``) of a full-run file. Read up front
    for its key frequencies and :attr:`info` (:meth:`settle`), the model is then dropped; the
    checkpoint and its run are loaded again on first use and released after its last claim
    (unless figures are drawn). Under pytest-xdist a worker gets each checkpoint's sha256, task
    and key frequencies from the main process (``known``): it collects every claim but loads only
    what it runs."""

    path: Path
    name: str
    key_freqs: list[int] | None
    entry: str | None = None
    options: Facts = field(default_factory=Facts)
    adapters: tuple = ()
    known: dict | None = None
    _checkpoint: Checkpoint | None = None
    device: str = "cpu"
    _run: Run | None = None
    _algorithm: dict | None = None
    _info: dict | None = None

    @property
    def checkpoint(self) -> Checkpoint:
        if self._checkpoint is None:
            found = [c for c in _load_all(self.path, self.options, self.adapters) if c.entry == self.entry]
            if not found or (self.known is not None and found[0].sha256 != self.known["sha256"]):
                raise CheckpointError(self.path, "changed on disk while the suite ran (sha256 differs)")
            self._checkpoint = found[0]
        return self._checkpoint

    @property
    def sha256(self) -> str:
        return self.known["sha256"] if self.known is not None else self.checkpoint.sha256

    @property
    def task(self) -> str:
        return self.known["task"] if self.known is not None else self.checkpoint.task

    @property
    def task_source(self) -> str:
        return self.known["task_source"] if self.known is not None else self.checkpoint.facts.source("task")

    @property
    def claim_key_freqs(self) -> list[int]:
        """The key frequencies the claims expand over (the main process's, under xdist)."""
        return self.known["key_freqs"] if self.known is not None else self.run.key_freqs

    def manifest(self) -> dict:
        """What a worker needs to collect this checkpoint's claims without loading it."""
        return {"path": str(self.path), "name": self.name, "entry": self.entry, "sha256": self.sha256,
                "task": self.task, "task_source": self.task_source, "key_freqs": self.claim_key_freqs}

    @property
    def epoch(self) -> int | None:
        """The training epoch: the file's, its snapshot's, or the metadata file's beside it."""
        return self.info["epoch"]

    @property
    def dims(self) -> dict[str, int]:
        """The model's shapes (``p``, ``d_model``, ``d_mlp``, and a transformer's ``n_heads``,
        ``d_head``), from :attr:`info`."""
        return {k: self.info[k] for k in DIMS if k in self.info}

    @property
    def info(self) -> dict:
        """What the summary and the reports say of this model (kept after :meth:`release`): its
        identity, shapes, architecture, task, key frequencies, and every fact with its source."""
        if self._info is None:
            ck, run = self.checkpoint, self.run
            epoch = ck.epoch if isinstance(ck.epoch, int) and not isinstance(ck.epoch, bool) else None
            self._info = {"checkpoint": str(ck.path), "entry": ck.entry, "sha256": ck.sha256, **ck.model.dims(),
                          "architecture": ck.model.architecture, "n_layers": getattr(ck.model, "n_layers", 1),
                          "gated_as": gate_architecture(ck.model),
                          "layout": ck.facts.get("layout"), "task": self.task, "task_source": self.task_source,
                          "key_freqs": run.key_freqs, "key_freqs_source": run.key_freqs_source, "epoch": epoch,
                          "key_freqs_found": found_key_freqs(run),
                          "facts": ck.facts.summary(), "stored": dict(ck.stored)}
        return self._info

    @property
    def algorithm(self) -> dict:
        """Clock or pizza (:func:`interp.algorithm.classify_run`), computed where the model runs
        (a pytest-xdist worker sends it to the main process with each claim's row)."""
        if self._algorithm is None:
            self._algorithm = classify_run(self.run)
        return self._algorithm

    @property
    def run(self) -> Run:
        if self._run is None:
            self._run = Run(self.checkpoint, self.key_freqs, device=self.device, task=self.task)
        return self._run

    def settle(self) -> None:
        """Find what collection and the reports need from the weights alone (:attr:`info`: the
        key frequencies, the identity, the facts), then drop the model (:meth:`release`): it is
        read again if one of its claims runs."""
        self.info  # noqa: B018 - computed for what release keeps
        self.release()

    def release(self) -> None:
        """Drop the run and the model after the last claim (their :attr:`info` stays), so that a
        long sweep holds one model in memory at a time."""
        if self._run is not None:
            info = self.info
            self.known = self.known or {"sha256": info["sha256"], "task": info["task"],
                                        "task_source": info["task_source"], "key_freqs": info["key_freqs"]}
            for view in CYCLIC_VIEWS:  # they refer back to the run: the cycle would keep its ~26 MB (p = 113)
                vars(self._run).pop(view, None)  # until Python's cycle collector ran; they are rebuilt on use
        self._run = None
        self._checkpoint = None


@dataclass
class ClaimsSession:
    """Everything the plugin knows for one pytest session (read-only for tests)."""

    claims: ClaimsFile
    targets: list[Target]
    report_path: Path | None
    table_path: Path | None = None
    figures_dir: Path | None = None
    rows: dict[str, list[dict]] = field(default_factory=dict)  # checkpoint name -> report rows
    algorithms: dict[str, dict] = field(default_factory=dict)  # checkpoint name -> its clock/pizza entry
    options: Facts = field(default_factory=Facts)
    notes: list[str] = field(default_factory=list)
    trace: Trace | None = None  # the claims file, the options given, the selection (interp.trace)
    gate_mode: str = "population"  # --gate / ini interp_gate (interp.claims.claim.GATE_MODES)
    gate_source: str = "default"

    def target(self, path: Path, entry: str | None = None) -> Target:
        return next(t for t in self.targets if t.path == path and t.entry == entry)

    def targets_of(self, path: Path) -> list[Target]:
        return [t for t in self.targets if t.path == path]


def display_names(paths: list[Path]) -> list[str]:
    """Display names: the file stem, or ``<directory>-<stem>`` for every checkpoint when they come
    from several directories (so that each name says which run it belongs to).

    >>> display_names([Path("run/epoch1.pt"), Path("run/epoch2.pt")])
    ['epoch1', 'epoch2']
    >>> display_names([Path("add/epoch1.pt"), Path("sub/epoch2.pt")])
    ['add-epoch1', 'sub-epoch2']
    """
    if len({p.parent for p in paths}) > 1:
        return [f"{p.parent.name}-{p.stem}" for p in paths]
    return [p.stem for p in paths]


def target_label(name: str, entry: str | None) -> str:
    """A target's name: its display name, and ``@<entry>`` for a snapshot of a full-run file.

    >>> target_label("run", "epoch000100"), target_label("epoch1", None)
    ('run@epoch000100', 'epoch1')
    """
    return name if entry is None else f"{name}@{entry}"


def _check_output_path(path: Path, option: str) -> Path:
    """Fail now, not after the run, if ``path`` cannot be written."""
    if path.is_dir():
        raise OptionError(option, f"{path} is a directory, expected a file path")
    if not path.parent.is_dir():
        raise OptionError(option, f"directory {path.parent} does not exist")
    try:  # a real probe: os.access says yes to root, and to read-only or virtual file systems
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise OptionError(option, f"{path} cannot be written ({exc.strerror})") from None
    if path.exists() and not os.access(path, os.W_OK):
        raise OptionError(option, f"{path} cannot be written")
    return path


def _output_options(config: pytest.Config) -> dict[str, Path | None]:
    report, table, figures = (config.getoption(o) for o in ("claims_report", "claims_table", "claims_figures"))
    if table and Path(table).suffix not in (".md", ".csv"):
        raise OptionError("--claims-table", f"{table}: use a .md or .csv file name")
    if figures:
        try:
            Path(figures).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OptionError("--claims-figures", f"{figures} cannot be created ({exc.strerror})") from None
        _check_output_path(Path(figures) / "index.html", "--claims-figures")
        from interp.figures.common import require_matplotlib

        require_matplotlib()
    return {"report_path": report and _check_output_path(Path(report), "--claims-report"),
            "table_path": table and _check_output_path(Path(table), "--claims-table"),
            "figures_dir": figures and Path(figures)}


def _device(config: pytest.Config) -> str:
    """``--device``, checked now: a device torch does not know, or cannot reach, fails at once."""
    name = config.getoption("device")
    try:
        torch.empty(0, device=name)
    except (RuntimeError, ValueError, AssertionError) as exc:  # AssertionError: torch built without CUDA
        raise OptionError("--device", f"{name!r} cannot be used here ({str(exc).splitlines()[0]})") from None
    return name


def option_facts(config: pytest.Config) -> Facts:
    """The facts given as options, checked: ``--task``, ``--p``, ``--input-form``,
    ``--attn-coeff``, ``--act``, ``--split``, ``--split-seed``, ``--split-fraction``. Each applies
    to every checkpoint of the run and wins over what the files say."""
    facts = Facts()

    def give(name: str, option: str, value) -> None:
        facts.offer(name, value, OPTION, option)

    give("task", "--task", config.getoption("task"))
    p = config.getoption("interp_p", None)
    if p is not None:
        if p < 3:
            raise OptionError("--p", f"must be >= 3, got {p}")
        give("p", "--p", p)
    form = config.getoption("input_form", None)
    if form is not None:
        give("input_form", "--input-form", form)
    coeff = config.getoption("attn_coeff", None)
    if coeff is not None:
        if not 0.0 <= coeff <= 1.0:
            raise OptionError("--attn-coeff", f"must be between 0 and 1, got {coeff:g}")
        give("attn_coeff", "--attn-coeff", coeff)
    give("act", "--act", config.getoption("act", None))
    split = config.getoption("split", None)
    if split is not None:
        give("split", "--split", split)
    seed = config.getoption("split_seed", None)
    fraction = config.getoption("split_fraction", None)
    if fraction is not None and not 0.0 < fraction < 1.0:
        raise OptionError("--split-fraction", f"must be between 0 and 1, got {fraction:g}")
    if (seed is not None or fraction is not None) and split is None:
        raise OptionError("--split-seed" if seed is not None else "--split-fraction",
                          f"needs --split ({', '.join(k for k in KINDS if k not in ('files', 'all'))})")
    give("split_seed", "--split-seed", seed)
    give("split_fraction", "--split-fraction", fraction)
    return facts


def hook_adapters(config: pytest.Config) -> tuple:
    """The ``pytest_interp_model`` implementations, as one adapter (pytest calls them in order)."""
    hook = config.hook.pytest_interp_model
    if not hook.get_hookimpls():
        return ()

    def pytest_interp_model(where: str, state: dict, facts: Facts):
        return hook(path=Path(where.split(" [")[0]), state=state, options=facts)

    return (pytest_interp_model,)


def gate_mode(config: pytest.Config) -> tuple[str, str]:
    """The gate mode and where it came from: ``--gate``, else the ini option ``interp_gate``
    (checked: a misspelt mode is a bad input), else ``population``."""
    given = config.getoption("gate", None)
    if given:
        return given, "option --gate"
    ini = str(config.getini("interp_gate") or "").strip()
    if not ini:
        return "population", "default"
    where = config.inipath.name if config.inipath else "the ini file"
    if ini not in GATE_MODES:
        raise OptionError(f"interp_gate ({config.inipath or 'ini'})",
                          f"unknown gate mode {ini!r}; known: {', '.join(GATE_MODES)}")
    return ini, f"ini interp_gate ({where})"


def build_session(config: pytest.Config, paths: list[Path]) -> ClaimsSession:
    """Validate every option and input before anything runs (raises :class:`InterpError`)."""
    mode, mode_source = gate_mode(config)
    claims = load_claims(config.getoption("claims") or DEFAULT_CLAIMS)
    key_freqs_text = config.getoption("key_freqs")
    key_freqs = parse_key_freqs(key_freqs_text) if key_freqs_text is not None else None
    trace = make_trace(config.getoption("claims"), DEFAULT_CLAIMS, key_freqs)
    outputs = _output_options(config)
    device = _device(config)
    options = option_facts(config)
    adapters = hook_adapters(config)
    manifests = getattr(config, "workerinput", {}).get("interp_targets")
    if manifests is not None:  # an xdist worker: the main process has validated every checkpoint
        targets = [Target(Path(m["path"]), m["name"], key_freqs, m["entry"], options, adapters, known=m,
                          device=device) for m in manifests]
        return ClaimsSession(claims, targets, **outputs, options=options, trace=trace, gate_mode=mode,
                             gate_source=mode_source)
    targets, notes = [], []
    for path, name in zip(paths, display_names(paths), strict=True):
        found = load_checkpoints(path, options, adapters)
        check_fits_in_memory(found[0])  # before anything of its size is allocated (the key frequencies' basis)
        for ckpt in found:
            if key_freqs is not None:
                check_key_freqs(key_freqs, ckpt.model.p)
            target = Target(path, target_label(name, ckpt.entry), key_freqs, ckpt.entry, options, adapters,
                            _checkpoint=ckpt, device=device)
            target.settle()  # its key frequencies and info from the weights; the model is read again to run
            targets.append(target)
            notes.extend(n for n in ckpt.notes if n not in notes)
        if len(paths) == 1 and len(found) == 1:  # one model in all: keep it rather than read it twice
            targets[0]._checkpoint = found[0]
        _FILE_CACHE.clear()
    return ClaimsSession(claims, targets, **outputs, options=options, notes=notes, trace=trace, gate_mode=mode,
                         gate_source=mode_source)
