"""The pytest plugin (entry point ``pytest11: interp``): options, claim collection, the shared
run cache, the summary table and the JSON report.

Each claim in ``claims.yaml`` becomes a test item ``<claims file>::<checkpoint>::<claim id>``,
e.g. ``claims.yaml::epoch050000::fve[k17-sin]``. All items of one checkpoint share one
:class:`interp.run.Run`, so the model runs once per checkpoint per session.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from interp.checkpoint import Checkpoint, find_checkpoints, load_checkpoint
from interp.claims import ClaimCase, ClaimsFile, evaluate, load_claims
from interp.errors import CheckpointError, InterpError, OptionError
from interp.keyfreqs import check_key_freqs, parse_key_freqs
from interp.run import Run, check_fits_in_memory

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLAIMS = PROJECT_ROOT / "claims.yaml"
DEFAULT_CHECKPOINT = PROJECT_ROOT / "fixtures" / "p113" / "epoch050000.pt"
STASH_KEY = pytest.StashKey["ClaimsSession"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interp", "interpretability claims (interp)")
    group.addoption("--checkpoint", action="append", default=None, metavar="PATH",
                    help="checkpoint file or run directory to verify (repeatable); "
                         f"default: {DEFAULT_CHECKPOINT.relative_to(PROJECT_ROOT)}")
    group.addoption("--claims", default=None, metavar="FILE",
                    help=f"claims file (default: {DEFAULT_CLAIMS.name} of the interp project)")
    group.addoption("--key-freqs", default=None, metavar="K1,K2,...",
                    help="pin the key frequencies instead of finding them from W_U")
    group.addoption("--claims-table", default=None, metavar="OUT.md|OUT.csv",
                    help="write one row per checkpoint, one column per claim (markdown or CSV by suffix)")
    group.addoption("--claims-figures", default=None, metavar="DIR",
                    help="render the evidence as PNG figures and an index.html into DIR (needs matplotlib)")
    group.addoption("--claims-report", default=None, metavar="OUT.json",
                    help="write every evaluated claim's value and verdict as JSON")
    group.addoption("--device", default="cpu", metavar="DEVICE",
                    help="torch device for the forward pass and spectra, e.g. cuda (default: cpu); "
                         "values and reports are the same, computed there and read back on the CPU")


@dataclass
class Target:
    """One checkpoint to verify, with its node name; the checkpoint and its run are loaded on first
    use. Under pytest-xdist a worker gets each checkpoint's sha256 and key frequencies from the
    main process (``known``): it collects every claim but loads only the checkpoints it runs."""

    path: Path
    name: str
    key_freqs: list[int] | None
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
        return {"path": str(self.path), "name": self.name, "sha256": self.sha256, "key_freqs": self.claim_key_freqs}

    @property
    def epoch(self) -> int | None:
        """The training epoch, from the metadata file ``interp.train`` writes beside it."""
        meta = self.checkpoint.path.with_suffix(".json")
        try:
            return int(json.loads(meta.read_text())["epoch"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    @property
    def run(self) -> Run:
        if self._run is None:
            self._run = Run(self.checkpoint, self.key_freqs, device=self.device)
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

    def target(self, name: str) -> Target:
        return next(t for t in self.targets if t.name == name)


def _option_paths(config: pytest.Config) -> tuple[Path, list[Path]]:
    claims = Path(config.getoption("claims") or DEFAULT_CLAIMS)
    given = config.getoption("checkpoint") or [DEFAULT_CHECKPOINT]
    return claims, [p for g in given for p in find_checkpoints(g)]


def _names(paths: list[Path]) -> list[str]:
    """Node names: the file stem, prefixed by its directory where stems collide."""
    stems = [p.stem for p in paths]
    return [f"{p.parent.name}-{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]


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
        from interp.figures import require_matplotlib

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


def build_session(config: pytest.Config) -> ClaimsSession:
    """Validate every option and input before anything runs (raises :class:`InterpError`)."""
    claims_path, ckpt_paths = _option_paths(config)
    claims = load_claims(claims_path)
    key_freqs_text = config.getoption("key_freqs")
    key_freqs = parse_key_freqs(key_freqs_text) if key_freqs_text is not None else None
    outputs = _output_options(config)
    device = _device(config)
    manifests = getattr(config, "workerinput", {}).get("interp_targets")
    if manifests is not None:  # an xdist worker: the main process has validated every checkpoint
        targets = [Target(Path(m["path"]), m["name"], key_freqs, known=m, device=device) for m in manifests]
        return ClaimsSession(claims, targets, **outputs)
    targets = []
    for path, name in zip(ckpt_paths, _names(ckpt_paths), strict=True):
        ckpt = load_checkpoint(path)
        check_fits_in_memory(ckpt)
        if key_freqs is not None:
            check_key_freqs(key_freqs, ckpt.weights.p)
        targets.append(Target(path, name, key_freqs, _checkpoint=ckpt, device=device))
    return ClaimsSession(claims, targets, **outputs)


def _claims_wanted(config: pytest.Config) -> bool:
    return any(config.getoption(o) for o in
               ("checkpoint", "claims", "claims_report", "claims_table", "claims_figures", "key_freqs"))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Validate everything up front, but only when claims are wanted: an interp option was given,
    or the paths pytest collects include the claims file (as this project's testpaths do). In any
    other pytest run the installed plugin stays inert."""
    config.addinivalue_line("markers", "claim(id, family): a claim from claims.yaml")
    claims_path = Path(config.getoption("claims") or DEFAULT_CLAIMS).resolve()
    listed = any(_covers(Path(a), claims_path, config) for a in config.args)
    if not (listed or _claims_wanted(config)):
        return
    try:
        session = build_session(config)
    except InterpError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[STASH_KEY] = session
    if getattr(config.option, "dist", "no") in ("load", "loadgroup"):
        # pytest-xdist: keep each checkpoint's claims on one worker (its items share the parent
        # node ``<claims file>::<checkpoint>``), so each model is loaded and run on one worker only.
        config.option.dist = "loadscope"
    config.pluginmanager.register(ReportPlugin(session), "interp-report")
    if not listed:
        config.args.append(str(claims_path))


def _covers(arg: Path, target: Path, config: pytest.Config) -> bool:
    path = Path(str(arg).split("::")[0])
    path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
    path = path.resolve()
    return path == target or path in target.parents


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    session = parent.config.stash.get(STASH_KEY, None)
    if session is not None and file_path.resolve() == session.claims.path.resolve():
        return ClaimsCollector.from_parent(parent, path=file_path)
    return None


class ClaimsCollector(pytest.File):
    """A claims file: one child per checkpoint."""

    def collect(self):
        session: ClaimsSession = self.config.stash[STASH_KEY]
        for target in session.targets:
            yield CheckpointCollector.from_parent(self, name=target.name)


class CheckpointCollector(pytest.Collector):
    """One checkpoint: one item per expanded claim."""

    def collect(self):
        session: ClaimsSession = self.config.stash[STASH_KEY]
        target = session.target(self.name)
        cases = [c for claim in session.claims.claims for c in claim.expand(target.claim_key_freqs)]
        for order, case in enumerate(cases):
            item = ClaimItem.from_parent(self, name=case.id, case=case, order=order)
            item.add_marker(pytest.mark.claim(case.claim.id, case.claim.family))
            known = session.claims.known_failure(case.id, target.sha256)
            if known is not None:
                item.add_marker(pytest.mark.xfail(strict=True, raises=ClaimFailed,
                                                  reason=f"known failure: {known.reason}"))
            yield item


class ClaimFailed(AssertionError):
    """A claim whose measured value does not meet its threshold."""


class KnownFailureDrift(AssertionError):
    """A known failure whose measured value no longer matches the recorded one."""


KNOWN_VALUE_TOLERANCE = 1e-4


class ClaimItem(pytest.Item):
    """One claim on one checkpoint."""

    def __init__(self, *, case: ClaimCase, order: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.order = order

    def runtest(self) -> None:
        session: ClaimsSession = self.config.stash[STASH_KEY]
        target = session.target(self.parent.name)
        run = target.run
        case = self.case
        value = evaluate(case, run)
        passed = case.judge(value)
        known = session.claims.known_failure(case.id, target.sha256)
        row = {"id": case.id, "metric": case.claim.metric, "params": case.params, "value": value,
               "op": case.claim.op, "threshold": case.claim.threshold, "passed": passed}
        if case.claim.holds_by_construction:
            row["holds_by_construction"] = True
        if known is not None:
            row["known_failure"] = known.reason
        self.user_properties.append(("value", value))
        self.user_properties.append(("threshold", f"{case.claim.op} {case.claim.threshold}"))
        self.user_properties.append(("interp_row", json.dumps(
            {"checkpoint": target.name, "family": case.claim.family, "order": self.order,
             "statement": case.claim.statement, "row": row})))
        if known is not None and abs(value - known.value) > KNOWN_VALUE_TOLERANCE:
            raise KnownFailureDrift(f"{case.id}: measured {value:.6g}, but known_failures records "
                                    f"{known.value:.6g} for this checkpoint; update the record")
        if not passed:
            raise ClaimFailed(f"{case.id}: {value:.6g} {case.claim.op} {case.claim.threshold:g} is false "
                              f"-- {case.claim.statement}")

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, ClaimFailed | KnownFailureDrift):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, 0, f"claim {self.case.id} ({self.case.claim.metric})"


@pytest.fixture(scope="session")
def interp_session(pytestconfig: pytest.Config) -> ClaimsSession:
    """The plugin's session state: claims, checkpoints and their cached runs. Read-only."""
    return pytestconfig.stash[STASH_KEY]


@pytest.fixture(scope="session")
def interp_run(interp_session: ClaimsSession) -> Run:
    """The cached run of the (first) checkpoint under test. Read-only: never modify its tensors."""
    return interp_session.targets[0].run


class ReportPlugin:
    """Gathers each claim's row (also from xdist workers, through ``user_properties``) and
    writes the summary and the report at the end of the session."""

    def __init__(self, state: ClaimsSession) -> None:
        self.state = state

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        """pytest-xdist, main process: hand each worker the checkpoints' identities and key
        frequencies, so that it loads only the checkpoints whose claims it runs."""
        node.workerinput["interp_targets"] = [t.manifest() for t in self.state.targets]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == "interp_row":
                data = json.loads(value)
                self.state.rows.setdefault(data["checkpoint"], []).append(data)

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
            from interp.figures import render_checkpoint

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
            from interp.figures import render_index

            render_index(self.state, self.state.figures_dir)
