"""The figure of claims over training time: per claim, the share of a family's held-out models
that hold it, by epochs since grokking, drawn from the population's summary
(:mod:`interp.trajectories`; ``python -m calibration.measure_trajectories`` writes
``docs/claims-over-training.png``)."""

from __future__ import annotations

import math
from pathlib import Path

from interp.figures.common import pyplot, save_png
from interp.figures.sweep import RUN_COLORS
from interp.trajectories import bin_label

MARKERS = ("o", "s", "^", "D", "v", "P")  # one per family, so that the lines read without colour too


def render_trajectories(summary: dict, path: Path) -> Path | None:
    """One panel per claim with data: a line per family, a point per bin of epochs since grokking
    at the share of the models that hold the claim throughout the bin, labelled ``holding/models``
    (none, and a break in the line, where no model reached the bin); the claim's comparison in the
    panel's title, per architecture where they differ. None (nothing written) where the summary
    has no data."""
    from matplotlib.lines import Line2D

    families = {name: f for name, f in summary["families"].items() if f["claims"]}
    claim_ids = list(dict.fromkeys(c for f in families.values() for c in f["claims"]))
    if not claim_ids:
        return None
    edges = summary["bins"]
    plt = pyplot()
    ncols = min(4, len(claim_ids))
    nrows = math.ceil(len(claim_ids) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.35 * ncols, 2.5 * nrows + 0.9), squeeze=False)
    styles = {name: (RUN_COLORS[j % len(RUN_COLORS)], MARKERS[j % len(MARKERS)]) for j, name in enumerate(families)}
    for ax, claim_id in zip(axes.flat, claim_ids, strict=False):
        comparisons = {}  # per architecture: the claim's comparison there
        for name, family in families.items():
            entry = family["claims"].get(claim_id)
            if entry is None:
                continue
            comparisons[family["architecture"]] = f"{entry['op']} {entry['threshold']:g}"
            color, marker = styles[name]
            # a bin no model reached: no point, and the line breaks there
            ys = [k / n if n else math.nan for k, n in entry["counts"]]
            ax.plot(range(len(ys)), ys, color=color, marker=marker, lw=1.2, markersize=5, clip_on=False, zorder=3)
            for x, (k, n) in enumerate(entry["counts"]):
                if n:
                    ax.annotate(f"{k}/{n}", (x, k / n), textcoords="offset points", xytext=(0, 5), ha="center",
                                fontsize=6.5, color=color)
        title = (next(iter(comparisons.values())) if len(set(comparisons.values())) == 1 else
                 ", ".join(f"{a} {c}" for a, c in comparisons.items()))
        ax.set_title(f"{claim_id}\n({title})", fontsize=9)  # two lines: two architectures' thresholds are long
        ax.set_ylim(-0.05, 1.18)
        ax.set_yticks([0, 0.5, 1], ["0", "½", "1"], fontsize=7)
        ax.set_xlim(-0.4, len(edges) - 0.6)
        ax.set_xticks(range(len(edges)), [bin_label(edges, i) for i in range(len(edges))], fontsize=7)
        ax.set_xlabel("epochs since grokking (bin start)", fontsize=8)
        ax.set_ylabel("share holding", fontsize=8)
        ax.grid(axis="y", color="#dddddd", lw=0.6)
    for ax in list(axes.flat)[len(claim_ids):]:
        ax.axis("off")
    handles = [Line2D([], [], color=styles[name][0], marker=styles[name][1], lw=1.2,
                      label=f"{name}: {f['models']} held-out model{'s' * (f['models'] != 1)}, to "
                            f"{f['furthest']:,} epochs after grokking")
               for name, f in families.items()]
    fig.suptitle("Claims over training time: the share of held-out models holding each claim throughout each bin "
                 "of epochs since grokking\n(a label holding/models per point; no point where no model reached "
                 "the bin)", fontsize=10, y=1 - 0.04 / fig.get_figheight(), va="top")
    legend_top = 1 - 0.55 / fig.get_figheight()
    fig.legend(handles=handles, loc="upper center", ncol=min(len(handles), 2), fontsize=8.5, frameon=False,
               bbox_to_anchor=(0.5, legend_top))
    rows = math.ceil(len(handles) / 2)
    fig.tight_layout(rect=(0, 0, 1, legend_top - 0.05 * rows / fig.get_figheight()))
    save_png(fig, Path(path), dpi=100)
    plt.close(fig)
    return Path(path)
