"""What the pytest plugin does once a run gates a checkpoint: one test item per claim case on
each model (the session itself, its targets and options: :mod:`interp.targets`), and the summary
and reports at the end.

:mod:`interp.plugin`, the entry point pytest loads in every run, imports this module (and with it
torch and the model code) only when a checkpoint is named; see its docstring for what is gated.
A file that holds one model is one collector of claim items; a full-run file (a sweep) holds one
collector per snapshot, so an item's id is ``run.pth::epoch000100::fve[k17-sin]``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from interp.checkpoint import find_checkpoints
from interp.claims.claim import ClaimCase
from interp.claims.verdicts import FAIL, KNOWN_FAIL, NOT_APPLICABLE, NOT_GATED, PASS, SKIP, Verdict, assess
from interp.names import STASH_KEY
from interp.targets import ClaimsSession, Target, build_session
from interp.trace import WORKER_KEY, select

__all__ = ["ClaimItem", "ClaimsSession", "ReportPlugin", "Target", "build_session", "collect_checkpoint",
           "find_checkpoints", "verdict_row"]  # find_checkpoints: for interp.plugin, which imports no torch


def collect_checkpoint(file_path: Path, parent: pytest.Collector, session: ClaimsSession) -> pytest.Collector | None:
    """The collector for ``file_path`` if it is one of the session's checkpoints, else None."""
    resolved = file_path.resolve()
    if not session.targets_of(resolved):
        return None
    rootpath = parent.config.rootpath
    nodeid = None if resolved.is_relative_to(rootpath) else resolved.as_posix()  # absolute outside rootdir
    return CheckpointFile.from_parent(parent, path=file_path, nodeid=nodeid)


def _claim_items(collector: pytest.Collector, target: Target):
    session: ClaimsSession = collector.config.stash[STASH_KEY]
    cases = [c for claim in session.claims.claims for c in claim.expand(target.claim_key_freqs)]
    for order, case in enumerate(cases):
        item = ClaimItem.from_parent(collector, name=case.id, case=case, order=order, target=target)
        item.add_marker(pytest.mark.claim(case.claim.id, case.claim.family))
        item.add_marker(pytest.mark.xdist_group(name=target.name))
        yield item


class CheckpointFile(pytest.File):
    """One checkpoint file: one item per expanded claim, or one :class:`Snapshot` per model of a
    full-run file."""

    def collect(self):
        session: ClaimsSession = self.config.stash[STASH_KEY]
        targets = session.targets_of(self.path.resolve())
        if len(targets) == 1 and targets[0].entry is None:
            yield from _claim_items(self, targets[0])
            return
        for target in targets:
            yield Snapshot.from_parent(self, name=target.entry, target=target)


class Snapshot(pytest.Collector):
    """One model of a full-run file (named by its epoch, or ``final``)."""

    def __init__(self, *, target: Target, **kwargs) -> None:
        super().__init__(**kwargs)
        self.target = target

    def collect(self):
        yield from _claim_items(self, self.target)


class ClaimFailed(AssertionError):
    """A claim that does not hold: its value misses the threshold, is not finite, drifted from
    its known-failure record, or the claim is not applicable (see :func:`interp.claims.verdicts.assess`)."""


class ClaimItem(pytest.Item):
    """One claim on one checkpoint."""

    def __init__(self, *, case: ClaimCase, order: int, target: Target, **kwargs) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.order = order
        self.target = target
        self.verdict: Verdict | None = None

    def runtest(self) -> None:
        session: ClaimsSession = self.config.stash[STASH_KEY]
        target = self.target
        verdict = assess(self.case, target.run, session.claims, target.sha256, session.gate_mode)
        self.verdict = verdict
        if verdict.value is not None:
            self.user_properties.extend([
                ("value", verdict.value), ("threshold", f"{verdict.case.claim.op} {verdict.case.claim.threshold:g}"),
                ("margin", verdict.margin)])
        if verdict.status == PASS:
            return
        if verdict.status == KNOWN_FAIL:
            pytest.xfail(verdict.line())
        if verdict.status in (SKIP, NOT_GATED):  # NOT-GATED: a skip that pytest_report_teststatus counts apart
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
    elif verdict.status == NOT_GATED and verdict.unmet:  # not gated, and N/A besides: the model does not solve it
        row["not_applicable"] = (f"it describes how a model solves the task, and this one does not "
                                 f"({'; '.join(verdict.unmet)} is false)")
    if verdict.status in (FAIL, SKIP, NOT_GATED) and verdict.message:
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

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Record which claim cases the run selected (the report lists the others as deselected);
        an xdist worker sends them to the main process with its output."""
        selected = select(item for item in session.items if isinstance(item, ClaimItem))
        if self.state.trace is not None:
            self.state.trace.selected = selected
        if hasattr(self.config, "workeroutput"):
            self.config.workeroutput[WORKER_KEY] = selected

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error) -> None:
        """pytest-xdist, main process: a worker's selection (every worker collects the same items)."""
        selected = getattr(node, "workeroutput", None) or {}
        if WORKER_KEY in selected and self.state.trace is not None and self.state.trace.selected is None:
            self.state.trace.selected = selected[WORKER_KEY]

    def pytest_runtest_teardown(self, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        """After a model's last claim, release its run (unless figures are drawn at the end)."""
        if isinstance(item, ClaimItem) and self.state.figures_dir is None and \
                getattr(nextitem, "target", None) is not item.target:
            item.target.release()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call):
        report = yield
        if isinstance(item, ClaimItem) and item.verdict is not None and report.when == "call":
            target = item.target
            report.interp_row = {"checkpoint": target.name, "order": item.order, "row": verdict_row(item.verdict),
                                 "algorithm": target.algorithm}
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config):
        """A NOT-GATED claim is skipped to pytest, but counted apart: ``n`` in the progress line,
        ``N not-gated`` in the last line, and not listed in the skipped summary (the claims
        summary has them, one row per claim)."""
        data = getattr(report, "interp_row", None)
        if data is not None and report.when == "call" and data["row"]["verdict"] == NOT_GATED:
            return "not-gated", "n", ("NOT-GATED", {"yellow": True})
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = getattr(report, "interp_row", None)
        if data is None:
            return
        self.state.rows.setdefault(data["checkpoint"], []).append(data)
        self.state.algorithms.setdefault(data["checkpoint"], data["algorithm"])
        _junit_classname(self.config, report, data["checkpoint"])

    def pytest_terminal_summary(self, terminalreporter) -> None:
        from interp.report import summary_lines

        if self.state.rows:
            terminalreporter.section("interp claims")
            for line in summary_lines(self.state, verbose=self.config.get_verbosity() > 0):
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
