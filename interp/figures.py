"""Figures a person can look at: the notebook's evidence, per checkpoint, as PNG files, and an
``index.html`` with a table of contents, captions and every claim's verdict
(``pytest --claims-figures DIR``).

All numbers come from the cached :class:`interp.run.Run` (nothing re-runs the model) and from the
claims' rows. matplotlib is an optional extra: ``pip install "interp-claims[figures]"``.

Per checkpoint, ``DIR/<checkpoint>/`` holds the figures of :data:`FIGURES` that apply to its
architecture (``wneur.png`` only where the model has a token-to-neuron map ``W_E W_in``, i.e. the
MLP; ``fve.png`` only where the claims file has an ``fve`` claim). ``DIR/sweep.png`` plots each
claim against the epoch over two or more checkpoints. ``DIR/index.html`` links all of it, with
anchors: ``#<checkpoint>`` per checkpoint, ``#<checkpoint>-<figure>`` per figure, ``#sweep``.
"""

from __future__ import annotations

import html
import math
import os
import re
import struct
from itertools import pairwise
from pathlib import Path
from urllib.parse import quote

import torch

from interp.checkpoint import write_atomic
from interp.errors import OptionError
from interp.fourier import basis_names

# (file, title, caption): every figure render_checkpoint may draw, in the order the page shows them
FIGURES = (
    ("neurons.png", "neurons",
     "Three neurons, each the strongest of a different frequency: post-ReLU activations over (a, b) (top) and "
     "log10 of their squared centered 2D Fourier coefficients (bottom). A clock neuron lights one frequency's "
     "3x3 block of terms (Const, sin, cos of a and b)."),
    ("pre_post.png", "all neurons in the 2D Fourier basis",
     "Norm of all neurons in the 2D Fourier basis (log10 energy summed over neurons, centered): for the MLP, "
     "pre-ReLU holds only the first row and column (terms in a or b alone); post-ReLU adds products."),
    ("logits.png", "logits in the 2D Fourier basis",
     "Logits in the 2D Fourier basis (log10 energy summed over classes, centered): the clock puts it in "
     "same-frequency products of key frequencies."),
    ("fve.png", "FVE per key frequency",
     "Fraction of variance explained per key frequency (the neurons read along the readout's sin and cos "
     "directions), with the claim's threshold."),
    ("readout.png", "the readout's Fourier components",
     "Energy of the readout (W_U; W_out W_U for a transformer) along each Fourier direction of its output "
     "(||readout F^T||^2 per column); shaded: the key frequencies."),
    ("embedding.png", "the embedding's Fourier components",
     "Energy of the embedding W_E of the number tokens along each Fourier direction of the token "
     "(||F W_E||^2 per row); shaded: the key frequencies."),
    ("wneur.png", "W_neur's Fourier components",
     "Energy of W_neur = W_E W_in (MLP only) along each Fourier direction of the token (||F W_neur||^2 per "
     "row); shaded: the key frequencies."),
)
TITLES = {name: title for name, title, _ in FIGURES}
CAPTIONS = {name: caption for name, _, caption in FIGURES}
SHORT = {"neurons.png": "neurons", "pre_post.png": "pre/post-ReLU", "logits.png": "logits", "fve.png": "FVE",
         "readout.png": "readout", "embedding.png": "embedding", "wneur.png": "W_neur"}
READOUT = {"mlp": "W_U", "transformer": "W_out W_U"}  # what the readout is, per architecture
DPI = 110

# The sweep's point styles: a colour and a marker each, so that they read without colour too.
HOLDS, FAILS, NOT_APPLICABLE = "holds", "fails", "n/a"
POINT_STYLE = {
    HOLDS: {"color": "#1a9641", "marker": "o", "label": "holds (every case PASS)"},
    FAILS: {"color": "#d7191c", "marker": "X", "label": "fails (a case FAIL or KNOWN-FAIL)"},
    NOT_APPLICABLE: {"color": "#7b3294", "marker": "s",
                     "label": "not applicable (model does not solve the task)"},
}
SYMLOG_LINSCALE = 0.6  # the sweep's epoch axis: the linear part [0, first saved epoch] as wide as 0.6 decades
RUN_COLORS = ("#4d4d4d", "tab:blue", "tab:brown", "tab:cyan", "tab:olive", "tab:pink")

# The terminal's verdict words (interp.claims), with what each means, for the page.
VERDICTS = (
    ("PASS", "pass", "the claim holds"),
    ("PASS (by construction)", "pass", "holds on every checkpoint of this architecture, trained or not"),
    ("FAIL", "fail", "it does not hold (or its value is not finite, or a recorded failure drifted)"),
    ("KNOWN-FAIL", "known", "a failure recorded in the claims file for exactly this checkpoint"),
    ("N/A", "na", "not applicable (counted as failing): a claim it requires does not hold, so the model does not "
                  "solve the task"),
    ("SKIP", "skip", "not defined for this architecture; not counted"),
)
VERDICT_CLASS = {"PASS": "pass", "FAIL": "fail", "KNOWN-FAIL": "known", "N/A": "na", "SKIP": "skip"}


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise OptionError("--claims-figures", 'needs matplotlib: pip install "interp-claims[figures]"') from None


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_png(fig, path: Path, dpi: int = DPI) -> None:
    """Write ``fig`` as a PNG atomically: a reader never sees half a file."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))


def _ticks(ax, p: int, axes: str = "xy") -> None:
    """Label Const and the sin row of every few frequencies (a round step, about 12 labels)."""
    names = basis_names(p)
    n_freqs = (p - 1) // 2
    step = next((s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if n_freqs / s <= 12), max(1, n_freqs // 12))
    pos = [0, *range(2 * step - 1, p, 2 * step)]
    if "x" in axes:
        ax.set_xticks(pos, [names[i] for i in pos], rotation=90, fontsize=7)
    if "y" in axes:
        ax.set_yticks(pos, [names[i] for i in pos], fontsize=7)


def _log_energy(energy: torch.Tensor) -> torch.Tensor:
    return torch.log10(energy.double() + energy.max().double() * 1e-12)


def _energy_map(ax, energy: torch.Tensor, title: str, fig) -> None:
    """log10 energy over (a component, b component); the colour scale starts at the 1st percentile
    of the nonzero cells, so one exactly-zero cell (Const x Const, centered) does not flatten it."""
    logged = _log_energy(energy)
    nonzero = logged[energy > 0]
    vmin = torch.quantile(nonzero, 0.01).item() if nonzero.numel() else None
    image = ax.imshow(logged.numpy(), cmap="viridis", origin="upper", vmin=vmin)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("b component")
    ax.set_ylabel("a component")
    _ticks(ax, energy.shape[0])
    fig.colorbar(image, ax=ax, shrink=0.8, label="log10 energy")


def _mark_keys(ax, key_freqs: list[int]) -> None:
    for i, k in enumerate(key_freqs):
        ax.axvspan(2 * k - 1.5, 2 * k + 0.5, color="tab:orange", alpha=0.25, lw=0,
                   label="key frequency (sin, cos)" if i == 0 else None)


def _strong_neurons(run, count: int = 3) -> list[int]:
    """The neuron with the most centered post-ReLU energy in each of the ``count`` frequencies whose
    strongest neuron is strongest (so the figure shows different frequencies)."""
    energy = run.post_spectra.double().pow(2).sum((0, 1))  # centered energy per neuron
    best_freq = run.neuron_freq_shares.argmax(1)
    chosen: dict[int, int] = {}
    for n in energy.argsort(descending=True).tolist():
        chosen.setdefault(int(best_freq[n]), n)
        if len(chosen) == count:
            break
    return list(chosen.values())


def render_checkpoint(target, claims, out_dir: Path) -> list[Path]:
    """Write this checkpoint's PNGs into ``out_dir/<checkpoint name>/``; return their paths.
    Figures of :data:`FIGURES` that do not apply to it (left there by an earlier run) are removed."""
    plt = _pyplot()
    run, p = target.run, target.run.p
    architecture = target.checkpoint.model.architecture
    folder = Path(out_dir) / target.name
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str, title: str | None = None) -> None:
        fig.suptitle(f"{target.name} ({architecture}, task {target.task}): {title or TITLES[name]}", fontsize=11)
        fig.tight_layout()
        _save_png(fig, folder / name)
        plt.close(fig)
        written.append(folder / name)

    neurons = _strong_neurons(run)
    post = run.hook_pre[:, neurons].relu()
    shares = run.neuron_freq_shares
    fig, axes = plt.subplots(2, len(neurons), figsize=(4.4 * len(neurons), 8.5), squeeze=False)
    for col, n in enumerate(neurons):
        k = int(shares[n].argmax()) + 1
        image = axes[0, col].imshow(post[:, col].reshape(p, p).numpy(), cmap="viridis", origin="upper")
        axes[0, col].set_title(f"neuron {n}: activation (freq {k}, {shares[n, k - 1]:.0%} of energy)", fontsize=9)
        axes[0, col].set_xlabel("b")
        axes[0, col].set_ylabel("a")
        fig.colorbar(image, ax=axes[0, col], shrink=0.8, label="post-ReLU")
        _energy_map(axes[1, col], run.post_spectra[:, :, n].double().pow(2), f"neuron {n}: 2D Fourier", fig)
    save(fig, "neurons.png")

    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    _energy_map(axes[0], run.pre_energy, "pre-ReLU", fig)
    _energy_map(axes[1], run.post_energy, "post-ReLU", fig)
    save(fig, "pre_post.png")

    fig, ax = plt.subplots(figsize=(7, 6))
    _energy_map(ax, run.logit_energy, "logits", fig)
    save(fig, "logits.png")

    fve_claim = next((c for c in claims.claims if c.metric == "fve"), None)
    if fve_claim is not None and run.key_freqs:
        from interp.metrics import fve

        ks = run.key_freqs
        values = {t: [fve(run.readout_spectra, k, t) for k in ks] for t in ("sin", "cos")}
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(ks) + 2), 4))
        x = torch.arange(len(ks)).numpy()
        ax.bar(x - 0.2, values["sin"], 0.4, label="sin")
        ax.bar(x + 0.2, values["cos"], 0.4, label="cos")
        ax.axhline(fve_claim.threshold, color="black", ls="--", label=f"threshold {fve_claim.threshold:g}")
        ax.set_xticks(x, [str(k) for k in ks])
        ax.set_xlabel("key frequency k")
        ax.set_ylabel("fraction of variance explained")
        ax.set_ylim(0, 1.05)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, frameon=False)
        save(fig, "fve.png")

    readout = READOUT.get(architecture, "readout")
    lines = [("readout.png", run.readout_fourier.double().pow(2).sum(0), f"||{readout} F^T||^2 per column",
              "Fourier component of the output (logit)", f"the readout ({readout})'s Fourier components"),
             ("embedding.png", run.embedding_fourier.double().pow(2).sum(1), "||F W_E||^2 per row",
              "Fourier component of the token", None)]
    if run.wneur_fourier is not None:
        lines.append(("wneur.png", run.wneur_fourier.double().pow(2).sum(1), "||F W_neur||^2 per row",
                      "Fourier component of the token", "W_neur = W_E W_in's Fourier components"))
    for name, energy, label, xlabel, title in lines:
        fig, ax = plt.subplots(figsize=(9, 3.6))
        _mark_keys(ax, run.key_freqs)
        ax.plot(range(p), energy.numpy(), marker=".", lw=0.8, label=label)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label, fontsize=9)
        _ticks(ax, p, "x")
        ax.set_xlim(-1, p)
        ax.legend(loc="lower left", bbox_to_anchor=(0, 1.0), ncol=2, fontsize=8, frameon=False)
        save(fig, name, title)

    for name, _, _ in FIGURES:  # a figure that does not apply any more (another model, another claims file)
        if folder / name not in written:
            (folder / name).unlink(missing_ok=True)
    return written


# -- the sweep ----------------------------------------------------------------------------------------

def _category(cell: dict) -> str | None:
    if not cell:
        return None
    if cell.get("not_applicable"):
        return NOT_APPLICABLE
    return HOLDS if cell.get("passed") else FAILS


def _pad_limits(ax, lo: float, hi: float, fraction: float = 0.06) -> None:
    """x limits ``fraction`` beyond the outermost points, measured on the axis's own scale, so
    that no marker sits on the edge."""
    scale = ax.xaxis.get_transform()
    a, b = scale.transform([lo, hi])
    pad = (b - a) * fraction if b > a else 0.5
    left, right = scale.inverted().transform([a - pad, b + pad])
    ax.set_xlim(left, right)


def _symlog(linthresh: float, linscale: float = SYMLOG_LINSCALE):
    """matplotlib's symlog scale (base 10) for x >= 0, as a function."""
    linear = linscale / (1 - 0.1)
    return lambda x: x / linthresh * linear if x <= linthresh else linear + math.log10(x / linthresh)


def _spread(xs: list[float], scale) -> float:
    """How evenly ``scale`` spreads the sorted points ``xs`` over the axis: the geometric mean of
    the gaps between neighbours, as fractions of the span (1 / (n - 1) when evenly spaced)."""
    t = [scale(x) for x in xs]
    gaps = [(b - a) / (t[-1] - t[0]) for a, b in pairwise(t)]
    return math.exp(sum(math.log(g) for g in gaps) / len(gaps)) if gaps and min(gaps) > 0 else 0.0


def _thin_labels(ax, renderer, gap_px: float = 4.0) -> int:
    """Hide the x tick labels that would overlap their neighbours (the first and last stay) and
    return how many; the ticks themselves stay, one per checkpoint."""
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    if len(labels) < 3:
        return 0
    extents = [t.get_window_extent(renderer) for t in labels]
    keep = [0]
    for i in range(1, len(labels)):
        if extents[i].x0 >= extents[keep[-1]].x1 + gap_px:
            keep.append(i)
    last = len(labels) - 1
    while keep[-1] != last and len(keep) > 1 and extents[last].x0 < extents[keep[-1]].x1 + gap_px:
        keep.pop()  # make room for the last label
    if keep[-1] != last:
        keep.append(last)
    for i, label in enumerate(labels):
        if i not in keep:
            label.set_visible(False)
    return len(labels) - len(keep)


def render_sweep(state, out_dir: Path) -> Path | None:
    """Each claim's worst value against the epoch (or the checkpoint order) over a sweep: one
    panel per claim, a point per checkpoint coloured by its outcome, the threshold dashed, and a
    tick at every checkpoint (labelled where there is room; a log axis says so)."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import blended_transform_factory

    from interp.report import sweep_table

    columns, table = sweep_table(state)
    if len(table) < 2 or not columns:
        return None
    plt = _pyplot()
    by_name = {t.name: t for t in state.targets}
    runs: dict[str, list[int]] = {}  # the checkpoints' directories: one line each
    for i, r in enumerate(table):
        target = by_name.get(r["checkpoint"])
        runs.setdefault(str(target.path.parent) if target is not None else "", []).append(i)
    have_epochs = all(r["epoch"] is not None for r in table)
    xs = [r["epoch"] if have_epochs else i for i, r in enumerate(table)]
    ticks = sorted(set(xs))
    positive = [x for x in ticks if x > 0]
    log_x = have_epochs and len(positive) >= 2 and _spread(ticks, _symlog(min(positive))) > _spread(ticks, float)
    note = ""
    if have_epochs:
        names = {x: f"{x:,}" for x in ticks}
        xlabel = f"epoch (log scale above {min(positive):,})" if log_x else "epoch"
    else:
        names = {i: r["checkpoint"] for i, r in enumerate(table)}
        missing = sum(r["epoch"] is None for r in table)
        xlabel = "checkpoint"
        note = "x: the checkpoints in order; " + ("none has an epoch in its metadata" if missing == len(table) else
                                                  f"{missing} of {len(table)} have no epoch in their metadata")

    ncols = min(4, len(columns))
    nrows = math.ceil(len(columns) / ncols)
    label_room = 0.0 if have_epochs else min(1.5, 0.06 * max(len(n) for n in names.values()))  # rotated names
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.35 * ncols, (2.6 + label_room) * nrows + 0.6), squeeze=False)
    thresholds = {c.id: (c.op, c.threshold) for c in state.claims.claims}
    seen = set()
    for ax, claim_id in zip(axes.flat, columns, strict=False):
        cells = [r["cells"].get(claim_id, {}) for r in table]
        ys = [math.nan if c.get("value") is None else c["value"] for c in cells]
        for j, rows in enumerate(runs.values()):
            ax.plot([xs[i] for i in rows], [ys[i] for i in rows], color=RUN_COLORS[j % len(RUN_COLORS)],
                    lw=1, zorder=2, clip_on=False)
        bottom = blended_transform_factory(ax.transData, ax.transAxes)
        for category, style in POINT_STYLE.items():
            points = [(x, y) for x, y, c in zip(xs, ys, cells, strict=True) if _category(c) == category]
            finite = [(x, y) for x, y in points if math.isfinite(y)]
            if finite:
                seen.add(category)
                ax.scatter(*zip(*finite, strict=True), color=style["color"], marker=style["marker"], s=30,
                           zorder=3, clip_on=False, edgecolors="white", linewidths=0.5)
            missing = [x for x, y in points if not math.isfinite(y)]
            if missing:  # a non-finite value: drawn on the bottom edge, hollow
                seen.update([category, "nan"])
                ax.scatter(missing, [0.0] * len(missing), transform=bottom, marker=style["marker"], s=30,
                           facecolors="none", edgecolors=style["color"], zorder=3, clip_on=False)
        op, threshold = thresholds[claim_id]
        ax.axhline(threshold, color="black", ls="--", lw=0.9, zorder=1)
        ax.set_title(f"{claim_id} ({op} {threshold:g})", fontsize=9)
        ax.set_ylabel("value (worst case)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        finite_ys = [y for y in ys if math.isfinite(y)]
        if finite_ys and min([*finite_ys, threshold]) > 0 and max([*finite_ys, threshold]) / min(
                [*finite_ys, threshold]) > 1e3:
            ax.set_yscale("log")  # losses: orders of magnitude apart
        else:
            ax.ticklabel_format(axis="y", useOffset=False)
        if log_x:
            ax.set_xscale("symlog", linthresh=min(positive), linscale=SYMLOG_LINSCALE)
            ax.minorticks_off()
        ax.set_xticks(ticks, [names[x] for x in ticks], fontsize=7, rotation=0 if have_epochs else 90)
        _pad_limits(ax, min(xs), max(xs))
        ax.set_xlabel(xlabel, fontsize=8)
        ax.grid(axis="x", color="#dddddd", lw=0.6)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")

    handles = [Line2D([], [], ls="", marker=s["marker"], color=s["color"], markersize=7, label=s["label"])
               for s in POINT_STYLE.values()]
    handles.append(Line2D([], [], color="black", ls="--", lw=0.9, label="threshold"))
    if "nan" in seen:
        handles.append(Line2D([], [], ls="", marker="o", markerfacecolor="none", color="#4d4d4d",
                              label="hollow on the bottom edge: value not finite"))
    if len(runs) > 1:
        handles += [Line2D([], [], color=RUN_COLORS[j % len(RUN_COLORS)], lw=1.5, label=f"run {Path(run).name or run}")
                    for j, run in enumerate(runs)]
    legend_rows = math.ceil(len(handles) / 4)
    head = 0.3 if have_epochs else 0.5  # the title's second line
    top = 1 - (head + 0.2 * legend_rows) / fig.get_figheight()
    fig.suptitle("Claims across the sweep: each claim's worst value over its cases, per checkpoint"
                 + ("" if have_epochs else f"\n({note})"), fontsize=11, y=1 - 0.04 / fig.get_figheight(), va="top")
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 4), fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, 1 - head / fig.get_figheight()), handletextpad=0.3, columnspacing=1.5)
    fig.tight_layout(rect=(0, 0, 1, top))
    renderer = fig.canvas.get_renderer()
    for ax in list(axes.flat)[: len(columns)]:
        if _thin_labels(ax, renderer):
            ax.set_xlabel(f"{xlabel}; a tick per checkpoint", fontsize=8)
    path = Path(out_dir) / "sweep.png"
    _save_png(fig, path, dpi=100)
    plt.close(fig)
    return path


# -- the page -----------------------------------------------------------------------------------------

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


def _verdict(row: dict) -> str:
    """The terminal's verdict word for a row (see interp.report)."""
    return row["verdict"] + (" (by construction)" if row.get("holds_by_construction") and row["passed"] else "")


def _value(value) -> str:
    from interp.claims import format_value

    return "—" if value is None else format_value(value)


def _counts(rows: list[dict]) -> str:
    words = [_verdict(r).split(" ")[0] for r in rows]
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
    claim whose cases are all N/A is one row, ``<id>[*] (n cases)`` with the worst case's value (as
    in the terminal); a claim's statement and its notes (the N/A, KNOWN-FAIL, SKIP and FAIL
    reasons) in one cell across its rows. A reason that several claims share (N/A because the
    model fails test-accuracy) is said once, above the table."""
    groups: list[list[dict]] = []
    for r in rows:
        if groups and groups[-1][0]["id"].split("[")[0] == r["id"].split("[")[0]:
            groups[-1].append(r)
        else:
            groups.append([r])
    for i, group in enumerate(groups):  # as the terminal: a claim whose cases are all N/A is one row
        if len(group) > 1 and all(r["verdict"] == "N/A" for r in group):
            worst = min(group, key=lambda r: -math.inf if r["margin"] is None else r["margin"])
            groups[i] = [dict(worst, id=f"{worst['id'].split('[')[0]}[*] ({len(group)} cases)")]
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
                       f"<td class='v {cls}'>{html.escape(_verdict(r))}</td>{cell}</tr>")
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
                     f"<td>{html.escape(target.checkpoint.model.architecture)}</td><td>{html.escape(target.task)}</td>"
                     f"<td class='num'>{target.checkpoint.model.p}</td><td class='counts'>{_counts(rows)}</td>"
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
        ck, run = target.checkpoint, target.run
        dims = ", ".join(f"{k}={v}" for k, v in ck.model.dims().items())
        epoch = "" if target.epoch is None else f" · epoch {target.epoch:,}"
        parts.append(f"<section class='checkpoint' id='{anchor}' data-checkpoint='{html.escape(target.name)}'>")
        parts.append(f"<h2>{html.escape(target.name)} <a class='up' href='#contents'>↑ contents</a></h2>")
        parts.append(f"<p class='meta'><b>{html.escape(ck.model.architecture)}</b> · task <b>"
                     f"{html.escape(target.task)}</b> ({html.escape(target.task_source)}){epoch} · {dims} · key "
                     f"frequencies {run.key_freqs} ({html.escape(run.key_freqs_source)})<br>"
                     f"<code>{html.escape(str(ck.path))}</code> · sha256 <code>{ck.sha256}</code></p>")
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
