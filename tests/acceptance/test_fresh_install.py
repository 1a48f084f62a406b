"""The package as a user gets it: a wheel built from this tree, installed (not editable) into a
fresh virtualenv, used from a directory outside the repository.

Slow (a virtualenv and a pip install, about a minute), so it is marked ``slow``; the README's test
command and ``.ci/run`` run it. It needs the package registry, as any pip install does.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

from tests._bundled import copied_to, known_failures
from tests._paths import ROOT
from tests._subprocess import child_env

pytestmark = [pytest.mark.acceptance, pytest.mark.slow]
TORCH = "torch==2.13.0"  # the CPU build this machine's pip finds on disk (as .ci/run installs it)


def run(*args: str | Path, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env=child_env())


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh virtualenv holding torch and the wheel of this tree; returns its bin directory."""
    where = tmp_path_factory.mktemp("fresh")
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", where / "dist", ROOT, cwd=where)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((where / "dist").glob("interp_claims-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"interp/claims.yaml", "interp/plugin.py", "interp/arch/transformer.py",
            "interp/schemas/claims.schema.json", "interp/schemas/report.schema.json"} <= names
    assert not any(n.startswith(("tests/", "fixtures/")) for n in names)
    venv.create(where / "venv", with_pip=True)
    bin_dir = where / "venv" / "bin"
    for args in ([TORCH], [str(wheel)]):
        done = run(bin_dir / "python", "-m", "pip", "install", "-q", *args, cwd=where)
        assert done.returncode == 0, done.stderr[-2000:]
    return bin_dir


@pytest.fixture
def checkpoint(tmp_path) -> Path:
    """The bundled checkpoint, copied outside the repository (the user's own file)."""
    (tmp_path / "run").mkdir()
    return copied_to(tmp_path / "run")


def test_the_wheel_gates_a_checkpoint_from_outside_the_repository(installed, checkpoint, tmp_path):
    report = tmp_path / "report.json"
    gate = run(installed / "pytest", f"--checkpoint={checkpoint}", f"--claims-report={report}", cwd=tmp_path)
    assert gate.returncode == 0, gate.stdout[-3000:]
    data = json.loads(report.read_text())
    assert (data["schema_version"], data["architecture"], data["task"], data["p"]) == (5, "mlp", "add", 113)
    rows = {r["id"]: r for r in data["claims"]}
    refuted = {case: value for case, value in known_failures().items() if case.startswith("fve")}
    for case, value in refuted.items():  # its refuted FVE cases: measured, not gated on an MLP
        assert rows[case]["verdict"] == "NOT-GATED" and rows[case]["passed"] is False
        assert rows[case]["value"] == pytest.approx(value, abs=1e-4)
    totals = data["totals"]
    assert totals["failed"] == 0 and totals["known_failures"] == 0 and totals["passed"] == totals["claims"] > 0
    assert totals["claims"] + totals["not_gated"] == len(rows)
    # the plugin came from site-packages, not from this tree
    where = run(installed / "python", "-c", "import interp; print(interp.__file__)", cwd=tmp_path)
    assert "site-packages" in where.stdout and str(ROOT) not in where.stdout


def test_a_node_id_from_the_output_runs_again(installed, checkpoint, tmp_path):
    listed = run(installed / "pytest", f"--checkpoint={checkpoint}", "--co", "-q", cwd=tmp_path)
    node = next(line for line in listed.stdout.splitlines() if line.endswith("::restricted-loss[test]"))
    again = run(installed / "pytest", node, "-q", cwd=tmp_path)
    assert again.returncode == 0 and "1 passed" in again.stdout, again.stdout[-2000:]


def test_a_claims_file_from_the_clone_imports_none_of_its_tests(installed, checkpoint, tmp_path):
    """The fresh virtualenv has no hypothesis: importing the clone's test conftest would fail."""
    result = run(installed / "pytest", f"--checkpoint={checkpoint}", f"--claims={ROOT / 'claims.yaml'}",
                 "-k", "ratio", "-q", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert run(installed / "python", "-c", "import hypothesis", cwd=tmp_path).returncode != 0


MODULES_AT_EXIT = """
import sys
from pathlib import Path


def pytest_unconfigure(config):
    Path("modules.txt").write_text(" ".join(m for m in ("torch", "pydantic", "interp.gate") if m in sys.modules))
"""


@pytest.mark.parametrize("gates", [False, True], ids=["gates-nothing", "gates"])
def test_the_installed_plugin_imports_torch_only_when_it_gates(installed, checkpoint, tmp_path, gates):
    """Installed, the plugin loads in every pytest run of the user's environment: one that gates
    nothing must not pay for torch (about 1.5 s on a 2-core machine). (numpy is loaded anyway, by
    the pytest plugin of jaxtyping, a dependency.)"""
    (tmp_path / "conftest.py").write_text(MODULES_AT_EXIT)
    (tmp_path / "test_mine.py").write_text("def test_mine():\n    pass\n")
    args = [f"--checkpoint={checkpoint}", "test_mine.py"] if gates else ["test_mine.py"]
    result = run(installed / "pytest", *args, "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:]
    expected = ["torch", "pydantic", "interp.gate"] if gates else []  # pydantic: the claims file's validation
    assert (tmp_path / "modules.txt").read_text().split() == expected
