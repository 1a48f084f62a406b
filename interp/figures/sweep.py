"""The sweep figure: each claim's worst value against the epoch (or the checkpoint order), one
panel per claim, a point per checkpoint coloured by its outcome."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

from interp.figures.common import pyplot, save_png

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


def _gated_as(target) -> str | None:
    """The gate architecture of a checkpoint of the sweep (None where it is not known)."""
    try:
        return None if target is None else target.info["gated_as"]
    except (AttributeError, KeyError, TypeError):
        return None


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
    plt = pyplot()
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
    architectures = sorted({_gated_as(by_name.get(r["checkpoint"])) for r in table} - {None})
    thresholds = {c.id: (c.op, {arch: c.threshold_on(arch) for arch in architectures} or {None: c.threshold})
                  for c in state.claims.claims}  # each architecture's threshold (docs/claims.md)
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
        op, per_arch = thresholds[claim_id]
        levels = sorted(set(per_arch.values()))
        for level in levels:
            ax.axhline(level, color="black", ls="--", lw=0.9, zorder=1)
        threshold = levels[0]
        where = (f"{op} {threshold:g}" if len(levels) == 1 else
                 ", ".join(f"{op} {t:g} {arch}" for arch, t in per_arch.items()))
        ax.set_title(f"{claim_id} ({where})", fontsize=9)
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
    save_png(fig, path, dpi=100)
    plt.close(fig)
    return path

