"""The figures page a person reads (``--claims-figures DIR``: ``DIR/index.html``): every in-page
link lands on an anchor, every file it links exists, its table of contents reaches every checkpoint
and every figure, it links the sweep table and the JSON report exactly when they were written, and
its verdicts are the terminal's words, claim by claim. Small models keep it fast: a tiny MLP run
(four checkpoints with epochs) and one random 1-layer transformer (no W_E W_in map)."""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from interp import train
from interp.arch.transformer import Transformer
from interp.checkpoint import save_checkpoint

pytestmark = pytest.mark.acceptance

VERDICT_WORDS = ("PASS", "PASS (by construction)", "FAIL", "KNOWN-FAIL", "N/A", "NOT-GATED (holds)",
                 "NOT-GATED (does not hold)", "NOT-GATED (N/A)", "SKIP")
# a claim row of the terminal summary: id (a claim whose cases are all N/A: "fve[*] (8 cases)"), ..., verdict
SUMMARY_ROW = re.compile(r"^  (\S+(?: \(\d+ cases\))?) .*?  (PASS \(by construction\)|PASS|FAIL|KNOWN-FAIL|N/A|"
                         r"NOT-GATED \((?:holds|does not hold|N/A)\)|SKIP)$")
MLP_NAMES = ["epoch000000", "epoch000100", "epoch000200", "epoch000300"]
TRANSFORMER = "transformer-random"
COMMON_FIGURES = {"neurons", "pre_post", "logits", "fve", "readout", "embedding"}


def require_matplotlib() -> None:
    """matplotlib is in the test extra: absent, skip, or fail if INTERP_REQUIRE_EXTRAS=1 (CI).
    Present, pyplot and its backend are imported here, in this process: each in-process pytest run
    drops the modules it imported, and a second run would mix those with the ones kept here."""
    try:
        import matplotlib
    except ImportError as exc:
        message = f"matplotlib is not installed ({exc}): pip install -e '.[test]'"
    else:
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        plt.close(plt.figure())  # loads the backend
        return
    if os.environ.get("INTERP_REQUIRE_EXTRAS") == "1":
        pytest.fail(f"{message} (required: INTERP_REQUIRE_EXTRAS=1)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny MLP run (p = 17, epochs 0-300), a random transformer (p = 23, no metadata) and a
    claims file in which one claim requires test-accuracy, so that the untrained models get N/A."""
    require_matplotlib()
    root = tmp_path_factory.mktemp("figures-page")
    assert train.main(["--p", "17", "--d-model", "8", "--d-mlp", "24", "--epochs", "300", "--save-every", "100",
                       "--out", str(root / "mlp run"), "--no-progress", "--eval-every", "100"]) == 0
    (root / "tf").mkdir()
    model = Transformer.random(p=23, d_model=32, n_heads=2, d_head=16, d_mlp=64)
    save_checkpoint(model, root / "tf" / f"{TRANSFORMER}.pt")
    claims = yaml.safe_load((resources.files("interp") / "claims.yaml").read_text(encoding="utf-8"))
    claims["known_failures"] = []  # recorded for the bundled checkpoint only
    if not any(c.get("requires") for c in claims["claims"]):
        next(c for c in claims["claims"] if c["id"] == "neuron-clusters")["requires"] = ["test-accuracy"]
    (root / "claims.yaml").write_text(yaml.safe_dump(claims, sort_keys=False), encoding="utf-8")
    return {"mlp": root / "mlp run", "transformer": root / "tf" / f"{TRANSFORMER}.pt", "claims": root / "claims.yaml"}


class Page(HTMLParser):
    """What the tests read of index.html: ids, links (and whether they sit in the table of
    contents), checkpoint sections with their text and figures, and each claim row's verdict."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: list[str] = []
        self.links: list[tuple[str, str, bool]] = []  # (attribute, value, in the table of contents)
        self.sections: dict[str, dict] = {}  # checkpoint name -> {"id", "text", "figures", "verdicts"}
        self.figures: list[str] = []  # every <figure>'s id
        self.in_toc = False
        self.section: dict | None = None
        self.cell: tuple[str, list[str]] | None = None  # (class, text) of the <td> being read
        self.claim: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        for name in ("href", "src"):
            if name in a:
                self.links.append((name, a[name], self.in_toc))
        if tag == "nav" and a.get("id") == "contents":
            self.in_toc = True
        if tag == "section" and "data-checkpoint" in a:
            self.section = {"id": a.get("id"), "text": [], "figures": [], "verdicts": {}}
            self.sections[a["data-checkpoint"]] = self.section
        if tag == "figure":
            self.figures.append(a.get("id"))
            if self.section is not None:
                self.section["figures"].append(a.get("id"))
        if tag == "td" and self.section is not None:
            self.cell = (a.get("class") or "", [])

    def handle_endtag(self, tag):
        if tag == "nav":
            self.in_toc = False
        if tag == "section":
            self.section = None
        if tag == "td" and self.cell is not None:
            classes, text = self.cell[0].split(), "".join(self.cell[1]).strip()
            if "id" in classes:
                self.claim = text
            elif "v" in classes:
                assert self.claim not in self.section["verdicts"], f"{self.claim} listed twice"
                self.section["verdicts"][self.claim] = text
            self.cell = None

    def handle_data(self, data):
        if self.section is not None:
            self.section["text"].append(data)
        if self.cell is not None:
            self.cell[1].append(data)


def read_page(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def terminal_verdicts(lines: list[str], names: list[str]) -> dict[str, dict[str, str]]:
    """Per checkpoint, each claim's verdict as the terminal summary prints it."""
    out: dict[str, dict[str, str]] = {}
    current = None
    for line in lines:
        head = next((n for n in names if line.startswith(f"{n} (")), None)
        if head is not None:
            current = out.setdefault(head, {})
            continue
        match = SUMMARY_ROW.match(line)
        if current is not None and match:
            current[match.group(1)] = match.group(2)
    return out


def check_links(page: Page, out: Path) -> None:
    """Every fragment names an id on the page (ids unique); every other link is a relative path
    to an existing file."""
    assert len(page.ids) == len(set(page.ids)), "duplicate ids"
    for attr, value, _ in page.links:
        parts = urlsplit(value)
        if value.startswith("#"):
            assert value[1:] in page.ids, f'{attr}="{value}" has no matching id'
            continue
        assert not parts.scheme and not parts.netloc and not value.startswith("/"), f"{value} is not relative"
        assert (out / unquote(parts.path)).is_file(), f'{attr}="{value}" names no file under {out}'


def toc_targets(page: Page) -> set[str]:
    return {value[1:] for attr, value, in_toc in page.links if in_toc and value.startswith("#")}


def toc_files(page: Page, out: Path) -> set[Path]:
    return {(out / unquote(urlsplit(v).path)).resolve() for a, v, toc in page.links if toc and not v.startswith("#")}


def test_page_links_every_checkpoint_figure_and_file_and_uses_the_terminals_verdicts(pytester, inputs):
    out, table, report = pytester.path / "figs", pytester.path / "tables" / "sweep.md", pytester.path / "report.json"
    table.parent.mkdir()
    result = pytester.runpytest_inprocess(
        f"--checkpoint={inputs['mlp']}", f"--checkpoint={inputs['transformer']}", f"--claims={inputs['claims']}",
        f"--claims-figures={out}", f"--claims-table={table}", f"--claims-report={report}", "-v",
        "-p", "no:cacheprovider")  # -v: the terminal prints every checkpoint's table, not only the last one's
    assert result.ret == 1  # untrained models: claims fail
    assert table.is_file() and report.is_file()
    page = read_page(out / "index.html")
    check_links(page, out)

    # from two directories, every checkpoint is named <directory>-<stem>
    names = [*(f"{inputs['mlp'].name}-{n}" for n in MLP_NAMES), f"{inputs['transformer'].parent.name}-{TRANSFORMER}"]
    transformer = names[-1]
    assert list(page.sections) == names
    toc = toc_targets(page)
    for name, section in page.sections.items():
        assert section["id"] in toc, f"the table of contents does not link {name}"
        figures = {f.removeprefix(f"{section['id']}-") for f in section["figures"]}
        assert figures == (COMMON_FIGURES if name == transformer else COMMON_FIGURES | {"wneur"})
        drawn = {p.stem for p in (out / name).glob("*.png")}
        assert drawn == figures, f"{name}: figures on disk and on the page differ"
        text = " ".join("".join(section["text"]).split())
        assert ("transformer · task add" if name == transformer else "mlp · task add") in text
    assert set(page.figures) <= toc, f"figures missing from the table of contents: {set(page.figures) - toc}"
    assert "sweep" in page.figures and (out / "sweep.png").is_file()

    # the sweep table and the report, linked from the table of contents by their relative paths
    assert toc_files(page, out) == {table.resolve(), report.resolve()}
    hrefs = {v for a, v, toc in page.links if toc and a == "href"}
    assert {"../tables/sweep.md", "../report.json"} <= hrefs

    # the terminal's verdict words, claim by claim, on every checkpoint
    terminal = terminal_verdicts(result.outlines, names)
    assert list(terminal) == names
    for name in names:
        assert page.sections[name]["verdicts"] == terminal[name], name
    words = {v for s in page.sections.values() for v in s["verdicts"].values()}
    assert words <= set(VERDICT_WORDS)
    assert {"FAIL", "N/A", "SKIP"} <= words  # N/A: claims that require test-accuracy; SKIP: W_neur
    assert terminal[transformer]["wneur-key-share"] == "SKIP"
    text = (out / "index.html").read_text(encoding="utf-8")
    assert "FAILS" not in text and ">holds<" not in text


def test_without_a_table_or_report_the_page_links_neither(pytester, inputs):
    out = pytester.path / "figs"
    result = pytester.runpytest_inprocess(f"--checkpoint={inputs['transformer']}", f"--claims={inputs['claims']}",
                                          f"--claims-figures={out}", "-p", "no:cacheprovider")
    assert result.ret == 1
    page = read_page(out / "index.html")
    check_links(page, out)
    assert toc_files(page, out) == set()  # no table, no report; one checkpoint: no sweep either
    assert not (out / "sweep.png").exists() and "sweep" not in page.ids
    assert list(page.sections) == [TRANSFORMER]
    assert set(page.figures) <= toc_targets(page) and page.sections[TRANSFORMER]["id"] in toc_targets(page)
    assert not (out / TRANSFORMER / "wneur.png").exists()
    assert page.sections[TRANSFORMER]["verdicts"] == terminal_verdicts(result.outlines, [TRANSFORMER])[TRANSFORMER]
