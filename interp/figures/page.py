"""``index.html``: a table of contents, the sweep figure, and per checkpoint its claims' verdicts
(the terminal's words) and its figures, each with an ``id`` to link to."""

from __future__ import annotations

import html
import os
import re
import struct
from pathlib import Path
from urllib.parse import quote

from interp.checkpoint import write_atomic
from interp.figures.common import CAPTIONS, FIGURES, SHORT, TITLES
from interp.figures.sweep import render_sweep
from interp.report import folded, verdict_word

# The terminal's verdict words (interp.claims.verdicts), with what each means, for the page.
VERDICTS = (
    ("PASS", "pass", "the claim holds"),
    ("PASS (by construction)", "pass", "holds on every checkpoint of this architecture, trained or not"),
    ("FAIL", "fail", "it does not hold (or its value is not finite, or a recorded failure drifted)"),
    ("KNOWN-FAIL", "known", "a failure recorded in the claims file for exactly this checkpoint"),
    ("N/A", "na", "not applicable (counted as failing): a claim it requires does not hold, so the model does not "
                  "solve the task"),
    ("NOT-GATED", "skip", "measured, but the claim does not gate this architecture (docs/claims.md, "
                          "\"Which architectures each claim gates\"); not counted"),
    ("SKIP", "skip", "not defined for this architecture; not counted"),
)
VERDICT_CLASS = {"PASS": "pass", "FAIL": "fail", "KNOWN-FAIL": "known", "N/A": "na", "NOT-GATED": "skip",
                 "SKIP": "skip"}

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1340px;margin:0 auto;
 padding:0 16px 40px;color:#222;line-height:1.35}
h1{margin:14px 0 4px}h2{margin:22px 0 6px}h3{margin:14px 0 6px;font-size:1.05em}
[id]{scroll-margin-top:8px}
a{color:#0645ad}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;vertical-align:top}
th{border-bottom:1px solid #999;font-weight:600}
.toc td,.toc th{border-bottom:1px solid #e4e4e4;padding:3px 8px}
.toc tbody tr:hover{background:#f5f8ff}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.claims{font-size:.92em;width:100%}
.claims tr.case td{border-top:1px solid #eee}
.claims tr.first td{border-top:1px solid #bbb}
.claims td.id{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.95em}
.claims td.what{color:#333;max-width:560px}
.note{color:#555;font-size:.92em;margin:2px 0 0}.shared{margin:0 0 6px}
.v{font-weight:600;white-space:nowrap}
.pass{color:#0a7a2f}.fail{color:#c0151b}.known{color:#9a5b00}.na{color:#6a2c91}.skip{color:#777}
.counts span{margin-right:10px;white-space:nowrap}
.meta{color:#444;font-size:.92em;margin:0 0 8px}.meta code{font-size:.95em}
.legend{font-size:.9em;color:#333;margin:6px 0}.legend span.v{margin-left:8px}
.grid{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:12px 14px;align-items:start}
.grid figure{margin:0}.grid figcaption{font-size:.8em}
figure img{width:100%;height:auto;border:1px solid #ccc;background:#fff}
figcaption{font-size:.85em;color:#444;margin-top:3px}
.sweep img{max-width:1340px}
section.checkpoint{border-top:3px solid #ddd;margin-top:26px}
.up{font-size:.8em;font-weight:normal;margin-left:10px}
"""


def _png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's header, so the page reserves each image's space."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
    except OSError:
        return None
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def _url(path: str) -> str:
    """A relative URL for a path (``/``-separated), quoted and escaped for an attribute."""
    return html.escape(quote(path.replace(os.sep, "/")), quote=True)


def _relative(path, out_dir: Path) -> str:
    return os.path.relpath(os.path.abspath(path), os.path.abspath(out_dir))


class _Anchors:
    """Unique, readable ``id`` values (a suffix where two would collide)."""

    def __init__(self, reserved: tuple[str, ...]) -> None:
        self.used = set(reserved)

    def new(self, text: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "checkpoint"
        if not base[0].isalpha():
            base = f"c-{base}"
        anchor, n = base, 2
        while anchor in self.used:
            anchor, n = f"{base}-{n}", n + 1
        self.used.add(anchor)
        return anchor


def _value(value) -> str:
    from interp.claims.verdicts import format_value

    return "—" if value is None else format_value(value)


def _counts(rows: list[dict]) -> str:
    words = [verdict_word(r).split(" ")[0] for r in rows]
    return "".join(f"<span class='v {VERDICT_CLASS[w]}'>{words.count(w)} {html.escape(w)}</span>"
                   for w in VERDICT_CLASS if w in words)


def _reason(row: dict) -> str | None:
    """Why a row came out as it did, where the row alone does not say it (as the terminal does)."""
    if row.get("not_applicable"):
        return row["not_applicable"]
    reason = row.get("known_failure") or row.get("message")
    return f"{row['verdict']}: {reason}" if reason else None


def _claim_table(rows: list[dict]) -> list[str]:
    """The checkpoint's claim table, in the claims file's order: one row per case, except that a
    claim whose cases are all N/A (or all NOT-GATED) is one row, ``<id>[*] (n cases)`` with the worst case's value (as
    in the terminal); a claim's statement and its notes (the N/A, KNOWN-FAIL, SKIP and FAIL
    reasons) in one cell across its rows. A reason that several claims share (N/A because the
    model fails test-accuracy) is said once, above the table."""
    groups: list[list[dict]] = []
    for r in rows:
        if groups and groups[-1][0]["id"].split("[")[0] == r["id"].split("[")[0]:
            groups[-1].append(r)
        else:
            groups.append([r])
    groups = [folded(group) for group in groups]  # as the terminal: all N/A, or all NOT-GATED: one row
    claims_with: dict[str, list[str]] = {}  # reason -> the claims (not cases) it is given for
    for group in groups:
        for reason in dict.fromkeys(_reason(r) for r in group):
            if reason:
                claims_with.setdefault(reason, []).append(group[0]["id"].split("[")[0])
    shared = [reason for reason, claims in claims_with.items() if len(claims) > 1]
    out = []
    for reason in shared:
        verdict = next(r["verdict"] for r in rows if _reason(r) == reason)
        claims = claims_with[reason]
        every = len(claims) == sum(any(r["verdict"] == verdict for r in g) for g in groups)
        who = f"every {verdict} claim below" if every else ", ".join(claims)
        who += "; not applicable, counted as failing" if verdict == "N/A" else ""
        out.append(f"<p class='note shared'><span class='v {VERDICT_CLASS.get(verdict, '')}'>{html.escape(verdict)}"
                   f"</span> ({html.escape(who)}): {html.escape(reason)}</p>")
    out.append("<table class='claims'><thead><tr><th>claim</th><th class='num'>value</th>"
               "<th class='num'>threshold</th><th class='num'>margin</th><th>verdict</th>"
               "<th>what it claims</th></tr></thead><tbody>")
    for group in groups:
        notes: dict[str, list[str]] = {}
        for r in group:
            reason = _reason(r)
            if reason and reason not in shared:
                notes.setdefault(reason, []).append(r["id"])
        what = html.escape(group[0]["statement"]) + "".join(
            f"<p class='note'>{html.escape(note if len(ids) == len(group) else ', '.join(ids) + ': ' + note)}</p>"
            for note, ids in notes.items())
        for i, r in enumerate(group):
            margin = "" if r["margin"] is None else f"{r['margin'] + 0.0:+.4f}"
            cell = f"<td class='what' rowspan='{len(group)}'>{what}</td>" if i == 0 else ""
            cls = VERDICT_CLASS.get(r["verdict"], "")
            out.append(f"<tr class='{'case first' if i == 0 else 'case'}'><td class='id'>{html.escape(r['id'])}</td>"
                       f"<td class='num'>{_value(r['value'])}</td>"
                       f"<td class='num'>{html.escape(r['op'])} {r['threshold']:g}</td><td class='num'>{margin}</td>"
                       f"<td class='v {cls}'>{html.escape(verdict_word(r))}</td>{cell}</tr>")
    out.append("</tbody></table>")
    return out


def render_index(state, out_dir: Path) -> Path:
    """``index.html``: a table of contents (every checkpoint, every figure, the sweep, the table
    and report files that were written), then the sweep, then per checkpoint its claims' verdicts
    (the terminal's words) and its figures in a grid, each with an ``id`` to link to."""
    out_dir = Path(out_dir)
    sweep = render_sweep(state, out_dir)
    anchors = _Anchors(("contents", "sweep", "verdicts", "files", "top"))
    sections = []
    for target in state.targets:
        rows = [d["row"] for d in sorted(state.rows.get(target.name, []), key=lambda d: d["order"])]
        if not rows:
            continue
        anchor = anchors.new(target.name)
        figures = [(name, anchors.new(f"{anchor}-{name.removesuffix('.png')}"))
                   for name, _, _ in FIGURES if (out_dir / target.name / name).is_file()]
        sections.append((target, anchor, rows, figures))
    files = [(label, _relative(path, out_dir)) for label, path in
             (("sweep table", state.table_path), ("JSON report", state.report_path))
             if path is not None and Path(path).is_file()]

    n = len(sections)
    parts = ["<!doctype html>", "<html lang='en'><head><meta charset='utf-8'>",
             "<meta name='viewport' content='width=device-width, initial-scale=1'>",
             f"<title>interp claims: {n} checkpoint{'s' if n != 1 else ''}</title>",
             f"<style>{STYLE}</style></head><body>",
             f"<h1 id='top'>Claims report: {n} checkpoint{'s' if n != 1 else ''}</h1>",
             "<nav id='contents' aria-label='contents'>"]
    if files or sweep is not None:
        links = ([f"<a href='#sweep'>sweep figure</a> (each claim against the "
                  f"{'epoch' if all(t.epoch is not None for t, *_ in sections) else 'checkpoint'})"]
                 if sweep is not None else [])
        links += [f"<a href='{_url(rel)}'>{label}</a> ({html.escape(rel)})" for label, rel in files]
        parts.append(f"<p class='files' id='files'>{' · '.join(links)}</p>")
    parts.append("<table class='toc'><thead><tr><th>checkpoint</th><th class='num'>epoch</th><th>architecture</th>"
                 "<th>task</th><th class='num'>p</th><th>verdicts</th><th>figures</th></tr></thead><tbody>")
    for target, anchor, rows, figures in sections:
        epoch = "" if target.epoch is None else f"{target.epoch:,}"
        figure_links = " · ".join(f"<a href='#{fa}'>{html.escape(SHORT[name])}</a>" for name, fa in figures)
        parts.append(f"<tr><td><a href='#{anchor}'>{html.escape(target.name)}</a></td><td class='num'>{epoch}</td>"
                     f"<td>{html.escape(target.info['architecture'])}</td><td>{html.escape(target.task)}</td>"
                     f"<td class='num'>{target.info['p']}</td><td class='counts'>{_counts(rows)}</td>"
                     f"<td>{figure_links}</td></tr>")
    parts.append("</tbody></table></nav>")
    parts.append("<p class='legend' id='verdicts'>Verdicts, as in pytest's summary:" + "".join(
        f" <span class='v {cls}'>{html.escape(word)}</span> {html.escape(meaning)};"
        for word, cls, meaning in VERDICTS).rstrip(";") + ".</p>")

    if sweep is not None:
        parts.append("<h2>Sweep <a class='up' href='#contents'>↑ contents</a></h2>")
        parts.append(f"<figure class='sweep' id='sweep'><a href='{_url(sweep.name)}'><img src='{_url(sweep.name)}' "
                     f"alt='claims across the sweep'{_dims(sweep)}></a><figcaption>Each claim's worst value over "
                     "its cases (per key frequency and term) against the "
                     f"{'epoch' if all(t.epoch is not None for t, *_ in sections) else 'checkpoint'}: green circles "
                     "hold, red crosses fail, purple squares are not applicable (the model does not solve the "
                     "task); dashed: the threshold. Click for full size.</figcaption></figure>")

    for target, anchor, rows, figures in sections:
        info = target.info  # what the model is, without loading it (a merged report's page has no model)
        dims = ", ".join(f"{k}={v}" for k, v in target.dims.items())
        epoch = "" if target.epoch is None else f" · epoch {target.epoch:,}"
        parts.append(f"<section class='checkpoint' id='{anchor}' data-checkpoint='{html.escape(target.name)}'>")
        parts.append(f"<h2>{html.escape(target.name)} <a class='up' href='#contents'>↑ contents</a></h2>")
        parts.append(f"<p class='meta'><b>{html.escape(info['architecture'])}</b> · task <b>"
                     f"{html.escape(target.task)}</b> ({html.escape(target.task_source)}){epoch} · {dims} · key "
                     f"frequencies {info['key_freqs']} ({html.escape(info['key_freqs_source'])})<br>"
                     f"<code>{html.escape(info['checkpoint'])}</code> · sha256 <code>{info['sha256']}</code></p>")
        parts.append(f"<p class='counts'>{_counts(rows)}</p>")
        parts.extend(_claim_table(rows))
        if figures:
            parts.append("<h3>Figures <span class='note'>(click one for full size)</span></h3><div class='grid'>")
            for name, fa in figures:
                src = _url(f"{target.name}/{name}")
                parts.append(f"<figure id='{fa}'><a href='{src}'><img src='{src}' loading='lazy' "
                             f"alt='{html.escape(TITLES[name])}'{_dims(out_dir / target.name / name)}></a>"
                             f"<figcaption><b>{html.escape(TITLES[name])}.</b> {html.escape(CAPTIONS[name])}"
                             "</figcaption></figure>")
            parts.append("</div>")
        parts.append("</section>")
    parts.append("</body></html>")
    path = out_dir / "index.html"
    text = "\n".join(parts) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path


def _dims(path: Path) -> str:
    size = _png_size(path)
    return "" if size is None else f" width='{size[0]}' height='{size[1]}'"
