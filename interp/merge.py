"""Merge the JSON reports of the shards of one gating run into the report, sweep table and figure
page that one unsharded run writes:

    python -m interp.report merge --out merged.json [--table sweep.md] [--figures DIR] shard*.json

A shard is one ``pytest`` process that gated some of a run's claim cases, for example one group of
pytest-split (``--splits N --group i``, docs/gating.md, "Across machines"). Its report lists every
checkpoint of the run, and under ``deselected`` the claim cases it did not run; a checkpoint whose
cases straddle two shards is in both with part of its cases in each. The merge:

* refuses, in one line naming the file (exit status 4), a shard that is not a report of this
  schema version, or that gated with another claims file (sha256), other options (``options``:
  the facts given as options, ``--claims``, ``--key-freqs``, the gate mode) or another gate mode
  (``gate``) than the first shard; or that says something else of a checkpoint (its sha256, key
  frequencies, task, facts...), or gives a claim case another result, than a shard before it;
* joins each checkpoint's claim cases in the claims file's order, and keeps under ``deselected``
  only what no shard ran (a missing shard's cases stay there, and the merge says how many);
* writes the report, table and page with the writers of a pytest run (:func:`interp.report.
  write_report`, :func:`interp.report.write_table`, :func:`interp.figures.page.render_index`) from a
  :class:`interp.targets.ClaimsSession` rebuilt from the reports, so that they are the unsharded
  run's: values, verdicts and totals. Each shard draws its own checkpoints' figures
  (``--claims-figures``); gather them into one directory and give it as ``--figures``: the merge
  adds the sweep figure and ``index.html``.

The claims file is read again for the order of the cases: from the path the shards recorded, else
the one shipped with interp, else ``--claims FILE``; whichever it is, its sha256 must be the one
the shards recorded.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from interp.errors import ClaimsError, InterpError, OptionError

RUN_KEYS = ("schema_version", "gate", "claims_file", "options", "notes")  # the run's, not a checkpoint's
RESULT_KEYS = ("algorithm", "totals", "claims", "not_evaluated", "deselected")  # what a shard ran
SKIP = "SKIP"


class MergeError(InterpError):
    """A shard report that cannot be merged with the others."""


class RecordedOptions:
    """The facts given as options, as a report recorded them (what :class:`interp.facts.Facts`
    gives the report's writer)."""

    def __init__(self, recorded: dict) -> None:
        self.recorded = recorded

    def summary(self) -> dict:
        return dict(self.recorded)


def read_shard(path: Path) -> dict:
    """A shard's report, read and checked against the report's model: one line if it is not one."""
    from interp.schemas.report import SCHEMA_VERSION, report_model

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise MergeError(path, f"cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MergeError(path, f"not a JSON report ({exc})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise MergeError(path, "not an interp claims report (no schema_version)")
    if data["schema_version"] != SCHEMA_VERSION:
        raise MergeError(path, f"schema_version {data['schema_version']}, but this interp reads and writes "
                               f"{SCHEMA_VERSION}: merge with the interp that gated the shards")
    try:
        report_model(data)
    except ValueError as exc:  # pydantic's ValidationError: its first error, in one line
        errors = getattr(exc, "errors", lambda: [])()
        first = errors[0] if errors else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"])
        raise MergeError(path, f"not an interp claims report ({where}: {first['msg']})") from None
    if "claims_file" not in data:
        raise MergeError(path, "has no claims_file: a report written without its trace cannot be merged")
    return data


def checkpoint_entries(report: dict) -> list[dict]:
    """A report's checkpoint entries: its ``checkpoints``, or the one checkpoint it is about."""
    if "checkpoints" in report:
        return report["checkpoints"]
    return [{k: v for k, v in report.items() if k not in RUN_KEYS}]


def check_same_run(first: tuple[Path, dict], other: tuple[Path, dict]) -> None:
    """Refuse a shard that gated with another claims file, other options or another gate mode."""
    (path0, run0), (path, run) = first, other
    mode0, mode = run0.get("gate", "population"), run.get("gate", "population")
    if mode != mode0:
        raise MergeError(path, f"gated in gate mode {mode}, {path0} in {mode0}: shards of one run gate alike")
    sha0, sha = run0["claims_file"]["sha256"], run["claims_file"]["sha256"]
    if sha != sha0:
        raise MergeError(path, f"gated with the claims file {run['claims_file']['path']} (sha256 {sha[:12]}), "
                               f"{path0} with {run0['claims_file']['path']} (sha256 {sha0[:12]}): shards of one "
                               "run gate with one claims file")
    options0, options = run0["options"], run["options"]
    for name in sorted(set(options0) | set(options)):
        if options0.get(name) != options.get(name):
            raise MergeError(path, f"gated with other options than {path0}: {name} is "
                                   f"{_option_words(options.get(name))} there, {_option_words(options0.get(name))} "
                                   f"in {path0}")


def _option_words(option: dict | None) -> str:
    return "not given" if option is None else f"{json.dumps(option['value'])} ({option['source']})"


def claims_for(recorded: dict, given: Path | None):
    """The claims file the shards gated with (its sha256 checked), for the order of the cases."""
    from interp.claims.load import DEFAULT_CLAIMS, load_claims

    candidates = [given] if given is not None else [Path(recorded["path"]), DEFAULT_CLAIMS]
    for path in candidates:
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == recorded["sha256"]:
            return load_claims(path)
    where = given if given is not None else recorded["path"]
    raise ClaimsError(where, f"is not here, or not the claims file the shards gated with (sha256 "
                             f"{recorded['sha256'][:12]}): give that file with --claims FILE")


def identity(entry: dict) -> dict:
    """What a report says of a checkpoint, whatever the shard ran of it."""
    return {k: v for k, v in entry.items() if k not in RESULT_KEYS}


def target_info(entry: dict) -> dict:
    """A checkpoint's :attr:`interp.targets.Target.info`, from its report entry."""
    from interp.targets import DIMS

    epoch = entry["epoch"] if "entry" in entry else entry["facts"].get("epoch", {}).get("value")
    return {"checkpoint": entry["checkpoint"], "entry": entry.get("entry"), "sha256": entry["sha256"],
            **{k: entry[k] for k in DIMS if k in entry}, "architecture": entry["architecture"],
            "n_layers": entry["n_layers"], "gated_as": entry["gated_as"], "layout": entry["format"],
            "task": entry["task"], "task_source": entry["task_source"], "key_freqs": entry["key_freqs"],
            "key_freqs_source": entry["key_freqs_source"],
            "epoch": epoch if isinstance(epoch, int) and not isinstance(epoch, bool) else None,
            "key_freqs_found": entry.get("key_freqs_found"), "facts": entry["facts"],
            "stored": entry.get("stored", {})}


class Checkpoint:
    """One checkpoint's results, joined over the shards."""

    def __init__(self, path: Path, entry: dict) -> None:
        self.first, self.entry, self.ran, self.algorithm = path, entry, {}, None
        self.key = (entry["checkpoint"], entry.get("entry"))

    def label(self) -> str:
        return self.key[0] + (f"::{self.key[1]}" if self.key[1] is not None else "")

    def add(self, path: Path, entry: dict) -> None:
        """A shard's entry for this checkpoint: the same identity, and the cases it ran."""
        mine, theirs = identity(self.entry), identity(entry)
        for name in sorted(set(mine) | set(theirs)):
            if mine.get(name) != theirs.get(name):
                raise MergeError(path, f"{self.label()}: {name} is {json.dumps(theirs.get(name))[:80]} there, "
                                       f"{json.dumps(mine.get(name))[:80]} in {self.first}")
        rows = [(row["id"], row) for row in entry["claims"]]
        rows += [(skip["id"], {"id": skip["id"], "verdict": SKIP, "reason": skip["reason"]})
                 for skip in entry["not_evaluated"]]
        for case_id, row in rows:
            before = self.ran.get(case_id)
            if before is not None and before[1] != row:
                raise MergeError(path, f"{self.label()}: {case_id} came out otherwise in {before[0]}")
            self.ran.setdefault(case_id, (path, row))
        if rows and self.algorithm is None:
            self.algorithm = entry.get("algorithm")


def session_rows(claims, checkpoint: Checkpoint, name: str) -> list[dict]:
    """The checkpoint's rows as a pytest run holds them (:attr:`ClaimsSession.rows`), in the
    claims file's order; a SKIP row rebuilt from the claim as the plugin writes it."""
    from interp.claims.verdicts import Verdict
    from interp.gate import verdict_row

    cases = [case for claim in claims.claims for case in claim.expand(checkpoint.entry["key_freqs"])]
    known = {case.id for case in cases}
    stray = next((case_id for case_id in checkpoint.ran if case_id not in known), None)
    if stray is not None:
        raise MergeError(checkpoint.ran[stray][0], f"{checkpoint.label()}: {stray} is not a case of the claims file")
    out = []
    for order, case in enumerate(cases):
        if case.id not in checkpoint.ran:
            continue
        row = checkpoint.ran[case.id][1]
        if row["verdict"] == SKIP:
            at = case.at(checkpoint.entry["gated_as"])
            row = verdict_row(Verdict(at, SKIP, None, row["reason"]))
        out.append({"checkpoint": name, "order": order, "row": row, "algorithm": checkpoint.algorithm})
    return out


def merged_session(shards: list[tuple[Path, dict]], claims_option: Path | None = None, outputs: dict | None = None):
    """The :class:`interp.targets.ClaimsSession` of the unsharded run, rebuilt from its shards."""
    from interp.targets import ClaimsSession, Target, display_names, target_label
    from interp.trace import Trace

    for shard in shards[1:]:
        check_same_run(shards[0], shard)
    run = shards[0][1]
    checkpoints: dict[tuple, Checkpoint] = {}
    notes: list[str] = []
    for path, report in shards:
        notes.extend(n for n in report.get("notes", []) if n not in notes)
        for entry in checkpoint_entries(report):
            key = (entry["checkpoint"], entry.get("entry"))
            checkpoints.setdefault(key, Checkpoint(path, entry)).add(path, entry)
    claims = claims_for(run["claims_file"], claims_option)
    options = run["options"]
    given_freqs = options.get("key_freqs", {}).get("value")
    files = list(dict.fromkeys(Path(ck.key[0]) for ck in checkpoints.values()))
    names = dict(zip(files, display_names(files), strict=True))
    targets, rows, algorithms, selected = [], {}, {}, {}
    for checkpoint in checkpoints.values():
        entry, info = checkpoint.entry, target_info(checkpoint.entry)
        name = target_label(names[Path(checkpoint.key[0])], checkpoint.key[1])
        known = {"sha256": entry["sha256"], "task": entry["task"], "task_source": entry["task_source"],
                 "key_freqs": entry["key_freqs"]}
        targets.append(Target(Path(checkpoint.key[0]), name, given_freqs, checkpoint.key[1], known=known,
                              _info=info))
        rows[name] = session_rows(claims, checkpoint, name)
        selected[name] = [d["row"]["id"] for d in rows[name]]
        if checkpoint.algorithm is not None:
            algorithms[name] = checkpoint.algorithm
        if not rows[name]:
            del rows[name]
    file = run["claims_file"]
    trace = Trace(Path(file["path"]), file["sha256"], "claims" in options, given_freqs, selected)
    facts = {k: v for k, v in options.items() if k not in ("claims", "key_freqs", "gate")}
    mode = run.get("gate", "population")
    source = options["gate"]["source"] if "gate" in options else "default"
    return ClaimsSession(claims, targets, **(outputs or {"report_path": None}), rows=rows, algorithms=algorithms,
                         options=RecordedOptions(facts), notes=notes, trace=trace, gate_mode=mode, gate_source=source)


def merge(paths: list[Path], out: Path, table: Path | None = None, figures: Path | None = None,
          claims_option: Path | None = None) -> str:
    """Read the shards, check them, write the merged report (and table, and page); one line back."""
    from interp import report, trace
    from interp.targets import _check_output_path

    if table is not None and table.suffix not in (".md", ".csv"):
        raise OptionError("--table", f"{table}: use a .md or .csv file name")
    outputs = {"report_path": _check_output_path(out, "--out"),
               "table_path": table and _check_output_path(table, "--table"), "figures_dir": figures}
    if figures is not None:
        if not figures.is_dir():
            raise OptionError("--figures", f"{figures} is not a directory (gather the shards' --claims-figures there)")
        _check_output_path(figures / "index.html", "--figures")
        from interp.figures.common import require_matplotlib

        require_matplotlib()
    state = merged_session([(path, read_shard(path)) for path in paths], claims_option, outputs)
    report.write_report(state, out)
    if table is not None:
        report.write_table(state, table)
    if figures is not None:
        from interp.figures.page import render_index

        render_index(state, figures)
    counts = report.totals([d["row"] for data in state.rows.values() for d in data if d["row"]["verdict"] != SKIP])
    missing = sum(len(trace.deselected(state, t) or ()) for t in state.targets)
    line = (f"merged {len(paths)} shard reports into {out}: {len(state.targets)} checkpoints, {counts['passed']} of "
            f"{counts['claims']} gated claim cases hold ({counts['failed']} failed, {counts['not_applicable']} N/A, "
            f"{counts['known_failures']} known failures)")
    return line + (f"; {missing} claim cases ran in no shard (listed as deselected)" if missing else "")


def main(argv: list[str] | None = None) -> int:
    """``python -m interp.report merge ...``: 0 when merged, 4 with one line when a shard is refused."""
    parser = argparse.ArgumentParser(prog="python -m interp.report", description="Tools for claims reports.")
    commands = parser.add_subparsers(dest="command", required=True)
    sub = commands.add_parser("merge", help="join the reports of the shards of one run (docs/gating.md)",
                              description=__doc__.split("\n\n")[0])
    sub.add_argument("shards", nargs="+", type=Path, metavar="SHARD.json", help="the shards' --claims-report files")
    sub.add_argument("--out", required=True, type=Path, metavar="OUT.json", help="the merged report")
    sub.add_argument("--table", type=Path, metavar="OUT.md|OUT.csv", help="also the sweep table (as --claims-table)")
    sub.add_argument("--figures", type=Path, metavar="DIR",
                     help="the directory holding the shards' --claims-figures: add the sweep figure and index.html")
    sub.add_argument("--claims", type=Path, metavar="FILE",
                     help="the claims file the shards gated with, where its recorded path is not on this machine")
    args = parser.parse_args(argv)
    try:
        print(merge(args.shards, args.out, args.table, args.figures, args.claims))
    except InterpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 4
    return 0
