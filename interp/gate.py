"""What the pytest plugin does once a run gates a checkpoint: the session (claims, checkpoints
and their cached runs), one test item per claim case, and the summary and reports at the end.

:mod:`interp.plugin`, the entry point pytest loads in every run, imports this module (and with it
torch and the model code) only when a checkpoint is named; see its docstring for what is gated.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from interp.checkpoint import Checkpoint, find_checkpoints, load_checkpoint
from interp.claims.claim import ClaimCase, ClaimsFile
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import FAIL, KNOWN_FAIL, NOT_APPLICABLE, PASS, SKIP, Verdict, assess
from interp.errors import CheckpointError, OptionError
from interp.keyfreqs import check_key_freqs, parse_key_freqs
from interp.memory import check_fits_in_memory
from interp.names import STASH_KEY, TASKS
from interp.run import Run

__all__ = ["ClaimItem", "ClaimsSession", "ReportPlugin", "Target", "build_session", "collect_checkpoint",
           "find_checkpoints", "verdict_row"]  # find_checkpoints: for interp.plugin, which imports no torch


@dataclass
class Target:
    """One checkpoint to gate. The checkpoint and its run are loaded on first use. Under
    pytest-xdist a worker gets each checkpoint's sha256, task and key frequencies from the main
    process (``known``): it collects every claim but loads only the checkpoints it runs."""

    path: Path
    name: str
    key_freqs: list[int] | None
    task: str = "add"
    task_source: str = "default"
    known: dict | None = None
    _checkpoint: Checkpoint | None = None
    device: str = "cpu"
    _run: Run | None = None

    @property
    def checkpoint(self) -> Checkpoint:
        if self._checkpoint is None:
            checkpoint = load_checkpoint(self.path)
            if self.known is not None and checkpoint.sha256 != self.known["sha256"]:
                raise CheckpointError(self.path, "changed on disk while the suite ran (sha256 differs)")
            self._checkpoint = checkpoint
        return self._checkpoint

    @property
    def sha256(self) -> str:
        return self.known["sha256"] if self.known is not None else self.checkpoint.sha256

    @property
    def claim_key_freqs(self) -> list[int]:
        """The key frequencies the claims expand over (the main process's, under xdist)."""
        return self.known["key_freqs"] if self.known is not None else self.run.key_freqs

    def manifest(self) -> dict:
        """What a worker needs to collect this checkpoint's claims without loading it."""
        return {"path": str(self.path), "name": self.name, "sha256": self.sha256, "task": self.task,
                "task_source": self.task_source, "key_freqs": self.claim_key_freqs}

    @property
    def epoch(self) -> int | None:
        """The training epoch, from the metadata file ``interp.train`` writes beside it."""
        try:
            return int(self.checkpoint.metadata["epoch"])
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def run(self) -> Run:
        if self._run is None:
            self._run = Run(self.checkpoint, self.key_freqs, device=self.device, task=self.task)
        return self._run


@dataclass
class ClaimsSession:
    """Everything the plugin knows for one pytest session (read-only for tests)."""

    claims: ClaimsFile
    targets: list[Target]
    report_path: Path | None
    table_path: Path | None = None
    figures_dir: Path | None = None
    rows: dict[str, list[dict]] = field(default_factory=dict)  # checkpoint name -> report rows

    def target(self, path: Path) -> Target:
        return next(t for t in self.targets if t.path == path)


def _names(paths: list[Path]) -> list[str]:
    """Display names: the file stem, or ``<directory>-<stem>`` for every checkpoint when they come
    from several directories (so that each name says which run it belongs to).

    >>> _names([Path("run/epoch1.pt"), Path("run/epoch2.pt")])
    ['epoch1', 'epoch2']
    >>> _names([Path("add/epoch1.pt"), Path("sub/epoch2.pt")])
    ['add-epoch1', 'sub-epoch2']
    """
    if len({p.parent for p in paths}) > 1:
        return [f"{p.parent.name}-{p.stem}" for p in paths]
    return [p.stem for p in paths]


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


def _task(checkpoint: Checkpoint, option: str | None) -> tuple[str, str]:
    """The task and where it came from: ``--task``, else the metadata file's ``task``, else add."""
    if option is not None:
        return option, "option"
    task = checkpoint.metadata.get("task")
    if task is None:
        return "add", "default"
    if task not in TASKS:
        raise CheckpointError(checkpoint.path.with_suffix(".json"), f"task {task!r} is not one of {', '.join(TASKS)}")
    return task, "metadata"


def build_session(config: pytest.Config, paths: list[Path]) -> ClaimsSession:
    """Validate every option and input before anything runs (raises :class:`InterpError`)."""
    claims = load_claims(config.getoption("claims") or DEFAULT_CLAIMS)
    key_freqs_text = config.getoption("key_freqs")
    key_freqs = parse_key_freqs(key_freqs_text) if key_freqs_text is not None else None
    outputs = _output_options(config)
    device = _device(config)
    manifests = getattr(config, "workerinput", {}).get("interp_targets")
    if manifests is not None:  # an xdist worker: the main process has validated every checkpoint
        targets = [Target(Path(m["path"]), m["name"], key_freqs, m["task"], m["task_source"], known=m,
                          device=device) for m in manifests]
        return ClaimsSession(claims, targets, **outputs)
    targets = []
    for path, name in zip(paths, _names(paths), strict=True):
        ckpt = load_checkpoint(path)
        check_fits_in_memory(ckpt)
        if key_freqs is not None:
            check_key_freqs(key_freqs, ckpt.model.p)
        task, source = _task(ckpt, config.getoption("task"))
        targets.append(Target(path, name, key_freqs, task, source, _checkpoint=ckpt, device=device))
    return ClaimsSession(claims, targets, **outputs)


def collect_checkpoint(file_path: Path, parent: pytest.Collector, session: ClaimsSession) -> pytest.Collector | None:
    """The collector for ``file_path`` if it is one of the session's checkpoints, else None."""
    resolved = file_path.resolve()
    if not any(t.path == resolved for t in session.targets):
        return None
    rootpath = parent.config.rootpath
    nodeid = None if resolved.is_relative_to(rootpath) else resolved.as_posix()  # absolute outside rootdir
    return CheckpointFile.from_parent(parent, path=file_path, nodeid=nodeid)


class CheckpointFile(pytest.File):
    """One checkpoint: one item per expanded claim."""

    def collect(self):
        session: ClaimsSession = self.config.stash[STASH_KEY]
        target = session.target(self.path.resolve())
        cases = [c for claim in session.claims.claims for c in claim.expand(target.claim_key_freqs)]
        for order, case in enumerate(cases):
            item = ClaimItem.from_parent(self, name=case.id, case=case, order=order)
            item.add_marker(pytest.mark.claim(case.claim.id, case.claim.family))
            item.add_marker(pytest.mark.xdist_group(name=target.name))
            yield item


class ClaimFailed(AssertionError):
    """A claim that does not hold: its value misses the threshold, is not finite, drifted from
    its known-failure record, or the claim is not applicable (see :func:`interp.claims.verdicts.assess`)."""


class ClaimItem(pytest.Item):
    """One claim on one checkpoint."""

    def __init__(self, *, case: ClaimCase, order: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.order = order
        self.verdict: Verdict | None = None

    def runtest(self) -> None:
        session: ClaimsSession = self.config.stash[STASH_KEY]
        target = session.target(self.path.resolve())
        verdict = assess(self.case, target.run, session.claims, target.sha256)
        self.verdict = verdict
        if verdict.value is not None:
            self.user_properties.extend([
                ("value", verdict.value), ("threshold", f"{self.case.claim.op} {self.case.claim.threshold:g}"),
                ("margin", verdict.margin)])
        if verdict.status == PASS:
            return
        if verdict.status == KNOWN_FAIL:
            pytest.xfail(verdict.line())
        if verdict.status == SKIP:
            pytest.skip(verdict.line())
        raise ClaimFailed(verdict.line())

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, None, f"claim {self.case.id} ({self.case.claim.metric})"


def verdict_row(verdict: Verdict) -> dict:
    """A report row: SPEC's fields, then margin, verdict, statement, family and the reasons."""
    claim = verdict.case.claim
    value = verdict.value if verdict.value is not None and math.isfinite(verdict.value) else None
    row = {"id": verdict.case.id, "metric": claim.metric, "params": verdict.case.params, "value": value,
           "op": claim.op, "threshold": claim.threshold, "passed": verdict.passed,
           "margin": None if value is None else verdict.margin, "verdict": verdict.status,
           "statement": claim.statement, "family": claim.family}
    if verdict.by_construction:
        row["holds_by_construction"] = True
    if verdict.known_failure is not None:
        row["known_failure"] = verdict.known_failure.reason
    if verdict.status == NOT_APPLICABLE:
        row["not_applicable"] = verdict.message
    elif verdict.status in (FAIL, SKIP) and verdict.message:
        row["message"] = verdict.message
    return row


class ReportPlugin:
    """Gathers each claim's row (also from xdist workers, on the test reports) and writes the
    summary and the reports at the end of the session."""

    def __init__(self, state: ClaimsSession, config: pytest.Config) -> None:
        self.state = state
        self.config = config

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """pytest-xdist, main process: hand each worker the checkpoints' identities, tasks and key
        frequencies, so that it loads only the checkpoints whose claims it runs."""
        node.workerinput["interp_targets"] = [t.manifest() for t in self.state.targets]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        report = yield
        if isinstance(item, ClaimItem) and item.verdict is not None and report.when == "call":
            target = self.state.target(item.path.resolve())
            report.interp_row = {"checkpoint": target.name, "order": item.order, "row": verdict_row(item.verdict)}
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "interp_row", None)
        if data is None:
            return
        self.state.rows.setdefault(data["checkpoint"], []).append(data)
        _junit_classname(self.config, report, data["checkpoint"])

    def pytest_terminal_summary(self, terminalreporter) -> None:
        from interp.report import summary_lines

        if self.state.rows:
            terminalreporter.section("interp claims")
            for line in summary_lines(self.state):
                terminalreporter.write_line(line)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from interp.report import write_report

        worker = hasattr(session.config, "workerinput")
        if self.state.figures_dir is not None:
            from interp.figures.per_checkpoint import render_checkpoint

            controller = session.config.pluginmanager.has_plugin("dsession")  # xdist main: workers draw
            for target in self.state.targets:  # the checkpoints whose claims ran in this process
                if target.name in self.state.rows and not controller:
                    render_checkpoint(target, self.state.claims, self.state.figures_dir)
        if worker:
            return
        if self.state.report_path is not None:
            write_report(self.state, self.state.report_path)
        if self.state.table_path is not None:
            from interp.report import write_table

            write_table(self.state, self.state.table_path)
        if self.state.figures_dir is not None:
            from interp.figures.page import render_index

            render_index(self.state, self.state.figures_dir)


def _junit_classname(config: pytest.Config, report: pytest.TestReport, checkpoint: str) -> None:
    """``--junitxml``: class name = the checkpoint's name, so a CI viewer groups claims by
    checkpoint (pytest would derive it from the path, with a leading dot for absolute ones)."""
    try:
        from _pytest.junitxml import xml_key
    except ImportError:  # pragma: no cover - pytest moved it: keep pytest's own class name
        return
    xml = config.stash.get(xml_key, None)
    if xml is not None:
        xml.node_reporter(report).add_attribute("classname", f"interp.{checkpoint}")
