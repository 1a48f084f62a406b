"""Print the catalogue table of docs/bad-inputs.md from real runs of ``python -m pytest``.

Every case of ``tests/acceptance/test_bad_inputs.py`` is built in its own folder under a temporary
directory and run as a user would; the table shows the one ERROR line each gets and the exit code.
Run from the repository root: ``python docs/make_bad_inputs_table.py`` (the claims and option
cases gate the bundled checkpoint). The table prints no measured value, and the free memory the
"activations too big" case reports is written ``<free>``, so it is the same on any machine.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests._paths import BUNDLED  # noqa: E402
from tests.acceptance import test_bad_inputs as cases  # noqa: E402


def build(folder: Path, family: str, case: str) -> tuple[list[str], str]:
    """Arguments for one case and how the table describes it."""
    if family == "checkpoint":
        make, _ = cases.BAD_CHECKPOINTS[case]
        return [f"--checkpoint={make(folder / 'model.pt')}"], f"checkpoint: {case}"
    if family == "pickle":
        path = folder / "evil.pt"
        cases.PLANTS[case](path, folder / "pwned")
        return [f"--checkpoint={path}"], f"checkpoint: malicious pickle ({case}; its file is not created)"
    if family == "claims":
        text, _ = cases.BAD_CLAIMS[case]
        (folder / "claims.yaml").write_text(text)
        return [f"--checkpoint={BUNDLED}", "--claims", str(folder / "claims.yaml")], f"claims.yaml: {case}"
    args = cases.BAD_OPTIONS.get(case, (["--claims-report", "/proc/r.json"], ""))[0]
    return [f"--checkpoint={BUNDLED}", *args], f"option: {case} (`{' '.join(args)}`)"


def run(root: Path, family: str, case: str) -> str:
    folder = root / re.sub(r"\W+", "_", f"{family} {case}").strip("_")
    folder.mkdir()
    args, label = build(folder, family, case)
    result = subprocess.run([sys.executable, "-m", "pytest", *args, "-p", "no:cacheprovider"], cwd=root,
                            capture_output=True, text=True, check=False)
    output = result.stdout + result.stderr
    errors = [line for line in output.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1 and "Traceback" not in output and not (folder / "pwned").exists(), output
    message = errors[0].removeprefix("ERROR: ").replace(f"{root}/", "").replace("|", "\\|")
    message = re.sub(r"but only [0-9.]+ GB", "but only <free> GB", message)  # this machine's free memory
    return f"| {label} | `{message}` | {result.returncode} |"


def main() -> None:
    plan = ([("checkpoint", c) for c in cases.BAD_CHECKPOINTS] + [("pickle", k) for k in cases.PLANTS]
            + [("claims", c) for c in cases.BAD_CLAIMS] + [("option", c) for c in cases.BAD_OPTIONS]
            + [("option", "unwritable report path")])
    with tempfile.TemporaryDirectory() as folder, ThreadPoolExecutor(4) as pool:
        rows = list(pool.map(lambda fc: run(Path(folder), *fc), plan))
    print("| input | what `pytest` prints (after `ERROR: `) | exit |\n|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
