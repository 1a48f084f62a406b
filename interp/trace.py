"""What a gating run leaves behind of how it was run, so that a green gate says what it gated:
the claims file (its path and sha256), every option that changes a verdict, the claim cases the
run did not select, and a warning where ``--key-freqs`` differ from the frequencies the model's
own readout gives (docs/report-schema.md, "The trace").

Selection. A claim case is *deselected* when it is a case of a gated checkpoint but not an item
of the run: pytest's ``-k``, ``-m`` or ``--deselect`` left it out, or the command line named node
ids of only some claims (those never become items, and pytest reports no deselection for them).
The plugin records the selected cases per checkpoint once collection is done
(``pytest_collection_finish``); under pytest-xdist the main process collects nothing, so each
worker sends its selection back with its output (``workeroutput``) and the main process, which
writes the reports, takes it from there (every worker collects the same items).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from interp.errors import ClaimsError
from interp.keyfreqs import key_frequencies

WORKER_KEY = "interp_selected"  # workeroutput's key: {checkpoint name: [selected case ids]}


@dataclass
class Trace:
    """The run's trace: the claims file, the options given, and the selection (once known)."""

    claims_path: Path
    claims_sha256: str
    claims_given: bool  # --claims, else the claims file shipped in the package
    key_freqs: list[int] | None = None  # --key-freqs
    selected: dict[str, list[str]] | None = None  # checkpoint name -> selected case ids

    def claims_file(self) -> dict:
        """The report's ``claims_file``."""
        return {"path": str(self.claims_path), "sha256": self.claims_sha256,
                "source": "option --claims" if self.claims_given else "default (shipped with interp)"}

    def options(self) -> dict:
        """The verdict-changing options given that are not facts, as ``options`` records facts."""
        out = {}
        if self.claims_given:
            out["claims"] = {"value": str(self.claims_path), "source": "option --claims"}
        if self.key_freqs is not None:
            out["key_freqs"] = {"value": list(self.key_freqs), "source": "option --key-freqs"}
        return out


def make_trace(claims_option: str | None, default: Path, key_freqs: list[int] | None) -> Trace:
    """The trace of a session whose claims file has been loaded (so it exists and reads)."""
    path = Path(claims_option if claims_option else default).resolve()
    try:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise ClaimsError(path, f"cannot be read ({exc.strerror})") from None
    return Trace(path, sha, bool(claims_option), key_freqs)


def found_key_freqs(run) -> list[int] | None:
    """With ``--key-freqs``: the frequencies the model's own readout gives by the rule (what the
    run would use without the option); else None (the run's own are the found ones)."""
    if run.given_key_freqs is None:
        return None
    return key_frequencies(run.readout_fourier.T)


def key_freqs_warning(info: dict) -> str | None:
    """A warning when the given key frequencies are not the ones the model's readout gives."""
    found = info.get("key_freqs_found")
    if found is None or sorted(found) == sorted(info["key_freqs"]):
        return None
    return (f"--key-freqs {info['key_freqs']} differ from the key frequencies this model's readout gives, "
            f"{found}: the claims expand over and read the given ones")


def select(items) -> dict[str, list[str]]:
    """``{checkpoint name: [case id, ...]}`` of claim items (:class:`interp.gate.ClaimItem`)."""
    selected: dict[str, list[str]] = {}
    for item in items:
        selected.setdefault(item.target.name, []).append(item.case.id)
    return selected


def all_cases(claims, target) -> list[str]:
    """Every claim case of ``claims`` on ``target``, in the claims file's order."""
    return [case.id for claim in claims.claims for case in claim.expand(target.claim_key_freqs)]


def deselected(state, target) -> list[str] | None:
    """The claim cases of ``target`` that the run did not select, in the claims file's order;
    None where no selection reached this process (no collection: every xdist worker failed)."""
    if state.trace is None or state.trace.selected is None:
        return None
    chosen = set(state.trace.selected.get(target.name, ()))
    return [case for case in all_cases(state.claims, target) if case not in chosen]


def nothing_selected(state) -> list[str]:
    """The checkpoints none of whose claim cases the run selected."""
    if state.trace is None or state.trace.selected is None:
        return []
    return [t.name for t in state.targets if not state.trace.selected.get(t.name)]


# -- the terminal summary ("interp claims") ----------------------------------------------------------
GATE_WORDS = {
    "population": "each claim gates the architectures the calibration population bears it out on",
    "seed": ("the population's gate, and the seed notebook's four claims on one-hidden-layer ReLU MLPs at its "
             "thresholds"),
    "all": "every claim defined for the architecture gates",
}


def gate_line(mode: str, source: str) -> str:
    """The summary's line naming the gate mode (it changes verdicts).

    >>> gate_line("seed", "option --gate")
    "gate: seed (option --gate): the population's gate, and the seed notebook's four claims on \
one-hidden-layer ReLU MLPs at its thresholds"
    """
    return f"gate: {mode} ({source}): {GATE_WORDS[mode]}"


def run_lines(state) -> list[str]:
    """Once per run: the claims file, and the checkpoints of which nothing was selected."""
    if state.trace is None:
        return []
    file = state.trace.claims_file()
    lines = [f"claims file: {file['path']}, sha256 {file['sha256'][:12]}, {file['source']}",
             gate_line(getattr(state, "gate_mode", "population"), getattr(state, "gate_source", "default"))]
    idle = nothing_selected(state)
    if idle:
        lines.append(f"not gated, every claim case deselected: {len(idle)} checkpoint"
                     f"{'s' if len(idle) > 1 else ''} ({', '.join(idle)})")
    return lines


def checkpoint_lines(state, target) -> list[str]:
    """Under a checkpoint's heading: how many of its claim cases were deselected, and a warning
    where ``--key-freqs`` differ from the model's own."""
    lines, missing = [], deselected(state, target)
    if missing:
        lines.append(f"  {len(missing)} of {len(all_cases(state.claims, target))} claim cases deselected (-k, -m, "
                     "--deselect or node ids): not run, not counted")
    warning = key_freqs_warning(target.info)
    return lines + ([f"  WARNING: {warning}"] if warning else [])
