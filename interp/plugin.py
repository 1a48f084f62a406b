"""The pytest plugin (entry point ``pytest11: interp``): its options, what a run gates, and the
fixtures. The gating itself (claim items, the shared run cache, the summary and the reports) is
:mod:`interp.gate`.

A checkpoint is a test file: each claim on it is one test item, ``<checkpoint path>::<claim id>``,
e.g. ``fixtures/p113/epoch050000.pt::fve[k17-sin]`` (the path relative to pytest's rootdir, or
absolute outside it). Paste an id back into ``pytest`` and that claim runs again. All items of one
checkpoint share one :class:`interp.run.Run`, so the model runs once per checkpoint per session. A
file that holds a whole run adds the snapshot: ``full_run.pth::epoch000100::test-accuracy``.

What is gated:

* ``pytest --checkpoint=PATH`` (a file or a run directory, repeatable) with no test paths named:
  the claims on those checkpoints, and nothing else.
* ``pytest PATH.pt`` (or ``PATH.pt::<claim id>``): the same, for a checkpoint named as a test path.
* ``pytest tests --checkpoint=PATH``: the named tests and the claims.

In any other pytest run the installed plugin stays inert, and light: torch and everything that
gates come from :mod:`interp.gate`, imported only when a run names a checkpoint, so a pytest run
that gates nothing pays almost nothing for the installed plugin.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from interp.errors import InterpError, OptionError
from interp.names import CHECKPOINT_SUFFIXES, STASH_KEY, TASKS

if TYPE_CHECKING:
    from interp.gate import ClaimsSession
    from interp.run import Run

INTERP_OPTIONS = ("checkpoint", "claims", "gate", "claims_report", "claims_table", "claims_figures", "key_freqs",
                  "task", "interp_p", "input_form", "attn_coeff", "act", "split", "split_seed", "split_fraction")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Declare ``pytest_interp_model``: a lab's own model class comes in through it (:mod:`interp.adapter`)."""
    from interp import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("interp", "interpretability claims (interp)")
    group.addoption("--checkpoint", action="append", default=None, metavar="PATH",
                    help="checkpoint file or run directory to gate (repeatable); write --checkpoint=PATH. "
                         "With no test paths named, only the claims run")
    group.addoption("--claims", default=None, metavar="FILE",
                    help="claims file (default: the claims.yaml shipped in the interp package)")
    group.addoption("--gate", default=None, choices=("population", "seed", "all"),
                    help="which claims gate (decide the exit status): population (default) = each claim on the "
                         "architectures the calibration population bears it out on; seed = besides, the seed "
                         "notebook's four claims on one-hidden-layer ReLU MLPs at its thresholds; all = every "
                         "claim defined for the architecture (default: the ini option interp_gate, else population)")
    parser.addini("interp_gate", "the interp gate mode for this project: population, seed or all (--gate wins)",
                  default="")
    group.addoption("--key-freqs", default=None, metavar="K1,K2,...",
                    help="pin the key frequencies instead of finding them from the readout")
    group.addoption("--task", default=None, choices=TASKS,
                    help="what the model computes: (a + b) mod p or (a - b) mod p (default: the checkpoint's "
                         "config or sidecar file, else add)")
    facts = parser.getgroup("interp-facts", "interp: what a checkpoint's files do not say (wins over the files; "
                            "applies to every checkpoint of the run)")
    facts.addoption("--p", dest="interp_p", type=int, default=None, metavar="P",
                    help="the modulus (default: the file's config or sidecar, else the weights' shapes)")
    facts.addoption("--input-form", default=None, choices=("a,b,=", "a,b"),
                    help="a transformer's input: [a, b, =] read at '=' or [a, b] read at b (default: the "
                         "sidecar, else pos_embed.W_pos's rows)")
    facts.addoption("--attn-coeff", type=float, default=None, metavar="C",
                    help="Zhong et al.'s attention mix c*softmax + (1-c) (default: the sidecar, else 1)")
    facts.addoption("--act", default=None, choices=("relu", "gelu", "gelu_new", "quad"),
                    help="the neurons' activation (default: the config or run directory name, else relu)")
    facts.addoption("--split", default=None, choices=("project", "nanda", "chughtai", "all"),
                    help="how the train/test split was made: this project's, Nanda et al.'s, Chughtai et al.'s, "
                         "or none (every pair) (default: the files', else every pair)")
    facts.addoption("--split-seed", type=int, default=None, metavar="SEED", help="the split's seed (with --split)")
    facts.addoption("--split-fraction", type=float, default=None, metavar="F",
                    help="the training fraction (with --split)")
    group.addoption("--claims-table", default=None, metavar="OUT.md|OUT.csv",
                    help="write one row per checkpoint, one column per claim (markdown or CSV by suffix)")
    group.addoption("--claims-figures", default=None, metavar="DIR",
                    help="render the evidence as PNG figures and an index.html into DIR (needs matplotlib)")
    group.addoption("--claims-report", default=None, metavar="OUT.json",
                    help="write every evaluated claim's value and verdict as JSON (docs/report-schema.md)")
    group.addoption("--device", default="cpu", metavar="DEVICE",
                    help="torch device for the forward pass and spectra, e.g. cuda (default: cpu); "
                         "values and reports are the same, computed there and read back on the CPU")


def _arg_path(arg: str, config: pytest.Config) -> Path:
    path = Path(arg.split("::")[0])
    return (path if path.is_absolute() else Path(config.invocation_params.dir) / path).resolve()


def _is_checkpoint_arg(arg: str, config: pytest.Config) -> bool:
    path = _arg_path(arg, config)
    return path.suffix in CHECKPOINT_SUFFIXES and path.is_file()


def _check_two_word_form(config: pytest.Config) -> None:
    """``--checkpoint PATH`` as two words: pytest reads PATH as a test path while it looks for its
    configuration file, before this plugin's options exist. Where that changed the rootdir or the
    configuration file, stop with one line; where it changed nothing, carry on."""
    args = list(config.invocation_params.args)
    words = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--checkpoint"]
    if not words:
        return
    try:
        from _pytest.config.findpaths import determine_setup
    except ImportError:  # pragma: no cover - pytest moved it: nothing to compare with
        return
    # what pytest would have chosen from the same command line without those words
    others = [a for a in args if a not in words]
    wanted = {"inifile": config.known_args_namespace.inifilename, "args": others,
              "rootdir_cmd_arg": config.known_args_namespace.rootdir or None,
              "invocation_dir": config.invocation_params.dir,
              "override_ini": config.known_args_namespace.override_ini}
    accepted = inspect.signature(determine_setup).parameters
    rootdir, inipath = determine_setup(**{k: v for k, v in wanted.items() if k in accepted})[:2]
    if (rootdir, inipath) != (config.rootpath, config.inipath):
        raise pytest.UsageError(
            f"--checkpoint {words[0]}: as two words, pytest took {words[0]} for a test path before the interp "
            f"plugin loaded and chose rootdir {config.rootpath} (configuration: {config.inipath or 'none'}) instead "
            f"of {rootdir} ({inipath or 'none'}); write it as one word: --checkpoint={words[0]}")


def _gate() -> ModuleType:
    """:mod:`interp.gate`, imported on first use: torch and the model code load only when a run
    gates something. Always through ``sys.modules``, so that every hook of one session sees the
    same module (``from interp import gate`` could return a stale attribute of the package after
    an in-process pytest run restored ``sys.modules``)."""
    return importlib.import_module("interp.gate")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Work out what is gated and validate all of it up front. Inert unless a checkpoint is named
    (``--checkpoint``, or a checkpoint file as a test path) or another interp option is given."""
    config.addinivalue_line("markers", "claim(id, family): a claim from a claims file, on one checkpoint")
    if not config.pluginmanager.hasplugin("xdist"):
        config.addinivalue_line("markers", "xdist_group(name): keeps items together under pytest-xdist")
    options = config.getoption("checkpoint") or []
    named = config.args_source == pytest.Config.ArgsSource.ARGS  # test paths on the command line
    replace_args = bool(options) and not named  # --checkpoint and no test paths named: the claims only
    arg_checkpoints = [] if replace_args else [a for a in config.args if _is_checkpoint_arg(a, config)]
    if not (arg_checkpoints or any(config.getoption(o) for o in INTERP_OPTIONS)):
        return
    gate = _gate()
    try:
        _check_two_word_form(config)
        if not (arg_checkpoints or options):
            raise OptionError("interp", "no checkpoint to gate: give --checkpoint=PATH (a file or a run directory)")
        from_options = [p.resolve() for given in options for p in gate.find_checkpoints(given)]
        paths = list(dict.fromkeys([_arg_path(a, config) for a in arg_checkpoints] + from_options))
        session = gate.build_session(config, paths)
    except InterpError as exc:
        raise pytest.UsageError(str(exc)) from None
    if replace_args:
        config.args[:] = [str(p) for p in from_options]
        claims_only = True
    else:
        config.args.extend(str(p) for p in from_options if p not in {_arg_path(a, config) for a in config.args})
        claims_only = all(_is_checkpoint_arg(a, config) for a in config.args)
    if claims_only and config.option.tbstyle == "auto":
        config.option.tbstyle = "no"  # each failing claim is one line of the short summary and the table
    if claims_only and len(session.targets) > 1 and config.get_verbosity() <= 0:
        # a sweep: the claims summary gives one line per checkpoint with its first failing claim;
        # pytest's short summary would add a line per failing claim case (thousands). -v keeps it
        config.option.reportchars = "E"
    config.stash[STASH_KEY] = session
    config.pluginmanager.register(gate.ReportPlugin(session, config), "interp-report")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    session = parent.config.stash.get(STASH_KEY, None)
    if session is None:
        return None
    return _gate().collect_checkpoint(file_path, parent, session)


def _session_or_fail(config: pytest.Config) -> ClaimsSession:
    session = config.stash.get(STASH_KEY, None)
    if session is None:
        pytest.fail("the interp fixtures need a checkpoint: run pytest with --checkpoint=PATH "
                    "(the interp plugin stays inactive without one)", pytrace=False)
    return session


@pytest.fixture(scope="session")
def interp_session(pytestconfig: pytest.Config) -> ClaimsSession:
    """The plugin's session state: claims, checkpoints and their cached runs. Read-only."""
    return _session_or_fail(pytestconfig)


@pytest.fixture(scope="session")
def interp_run(interp_session: ClaimsSession) -> Run:
    """The cached run of the (first) checkpoint under test. Read-only: never modify its tensors."""
    return interp_session.targets[0].run
