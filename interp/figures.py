"""Figures a person can look at: the notebook's evidence, per checkpoint, as PNG files, and an
``index.html`` with captions and every claim's verdict (``pytest --claims-figures DIR``).

All numbers come from the cached :class:`interp.run.Run` (nothing re-runs the model) and from the
claims' rows. matplotlib is an optional extra: ``pip install "interp-claims[figures]"``.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import torch

from interp.errors import OptionError
from interp.fourier import basis_names

CAPTIONS = {
    "neurons.png": "Three neurons, each the strongest of a different frequency: post-ReLU activations over "
                   "(a, b) (top) and log10 of their squared centered 2D Fourier coefficients (bottom). A "
                   "clock neuron lights one frequency's 3x3 block of terms (Const, sin, cos of a and b).",
    "pre_post.png": "Norm of all neurons in the 2D Fourier basis (log10 energy summed over neurons, "
                    "centered): pre-ReLU holds only the first row and column (terms in a or b alone); "
                    "post-ReLU adds products.",
    "logits.png": "Logits in the 2D Fourier basis (log10 energy summed over classes, centered): the "
                  "clock puts it in same-frequency products of key frequencies.",
    "wu.png": "Energy of W_U along each Fourier direction of its output (||W_U F^T||^2 per column); "
              "shaded: the key frequencies.",
    "wneur.png": "Energy of W_E W_in along each Fourier direction of the token (||F W_neur||^2 per row); "
                 "shaded: the key frequencies.",
    "fve.png": "Fraction of variance explained per key frequency (sin and cos readouts), with the "
               "claim's threshold.",
}


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


TITLES = {"neurons.png": "neurons", "pre_post.png": "all neurons in the 2D Fourier basis",
          "logits.png": "logits in the 2D Fourier basis", "wu.png": "W_U's Fourier components",
          "wneur.png": "W_neur's Fourier components", "fve.png": "FVE per key frequency"}


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
    for k in key_freqs:
        ax.axvspan(2 * k - 1.5, 2 * k + 0.5, color="tab:orange", alpha=0.25, lw=0)


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
    """Write this checkpoint's PNGs into ``out_dir/<checkpoint name>/``; return their paths."""
    plt = _pyplot()
    run, p = target.run, target.run.p
    folder = out_dir / target.name
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str) -> None:
        fig.suptitle(f"{target.name}: {TITLES[name]}", fontsize=11)
        fig.tight_layout()
        fig.savefig(folder / name, dpi=110)
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

    for name, energy, label in (("wu.png", run.wu_fourier.double().pow(2).sum(0), "||W_U F^T||^2 per column"),
                                ("wneur.png", run.wneur_fourier.double().pow(2).sum(1), "||F W_neur||^2 per row")):
        fig, ax = plt.subplots(figsize=(12, 4))
        _mark_keys(ax, run.key_freqs)
        ax.plot(range(p), energy.numpy(), marker=".", lw=0.8)
        ax.set_xlabel("Fourier component")
        ax.set_ylabel(label)
        _ticks(ax, p, "x")
        ax.set_xlim(-1, p)
        save(fig, name)

    fve_claim = next((c for c in claims.claims if c.metric == "fve"), None)
    if fve_claim is not None:
        from interp.metrics import fve

        ks = run.key_freqs
        values = {t: [fve(run.readout_spectra, k, t) for k in ks] for t in ("sin", "cos")}
        fig, ax = plt.subplots(figsize=(max(6, 0.6 * len(ks) + 2), 4))
        x = torch.arange(len(ks)).numpy()
        ax.bar(x - 0.2, values["sin"], 0.4, label="sin")
        ax.bar(x + 0.2, values["cos"], 0.4, label="cos")
        ax.axhline(fve_claim.threshold, color="tab:red", ls="--", label=f"threshold {fve_claim.threshold:g}")
        ax.set_xticks(x, [str(k) for k in ks])
        ax.set_xlabel("key frequency k")
        ax.set_ylabel("fraction of variance explained")
        ax.set_ylim(0, 1.05)
        ax.legend(loc="lower right", fontsize=8)
        save(fig, "fve.png")
    return written


def render_sweep(state, out_dir: Path) -> Path | None:
    """Each claim's worst value against the epoch (or checkpoint order) over a sweep."""
    from interp.report import sweep_table

    columns, table = sweep_table(state)
    if len(table) < 2 or not columns:
        return None
    plt = _pyplot()
    have_epochs = all(r["epoch"] is not None for r in table)
    xs = [r["epoch"] if have_epochs else i for i, r in enumerate(table)]
    ncols = 4
    nrows = math.ceil(len(columns) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3 * nrows), squeeze=False)
    thresholds = {c.id: (c.op, c.threshold) for c in state.claims.claims}
    for ax, claim_id in zip(axes.flat, columns, strict=False):
        cells = [r["cells"].get(claim_id, {}) for r in table]
        ys = [c.get("value", math.nan) for c in cells]
        ax.plot(xs, ys, color="tab:blue", lw=1)
        for passed, color in ((True, "tab:green"), (False, "tab:red")):
            points = [(x, y) for x, y, c in zip(xs, ys, cells, strict=True) if c.get("passed") is passed]
            if points:
                ax.scatter(*zip(*points, strict=True), color=color, zorder=3, s=18,
                           label="holds" if passed else "fails")
        op, threshold = thresholds[claim_id]
        ax.axhline(threshold, color="tab:red", ls="--", lw=1)
        ax.set_title(f"{claim_id} ({op} {threshold:g})", fontsize=9)
        ax.set_xlabel("epoch" if have_epochs else "checkpoint")
        ax.set_ylabel("value (worst case)", fontsize=8)
        positive = [y for y in [*ys, threshold] if y == y and y > 0]
        if len(positive) == len(ys) + 1 and max(positive) / min(positive) > 1e3:
            ax.set_yscale("log")  # losses: orders of magnitude apart
        else:
            ax.ticklabel_format(axis="y", useOffset=False)
        if have_epochs and max(xs) > 0:
            first = min(x for x in xs if x > 0)
            ax.set_xscale("symlog", linthresh=first)
            decades = range(math.ceil(math.log10(first)), math.floor(math.log10(max(xs))) + 1)
            ticks = [0, *(10**e for e in decades if 10**e >= first)]
            ax.set_xticks(ticks, [f"{t:,}" for t in ticks], fontsize=7)
            ax.set_xlim(left=-first * 0.1)
    for ax in list(axes.flat)[len(columns):]:
        ax.axis("off")
    fig.suptitle("claims across the sweep", fontsize=12)
    fig.tight_layout()
    path = out_dir / "sweep.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def render_index(state, out_dir: Path) -> Path:
    """``index.html``: per checkpoint, the verdict of every claim and the figures with captions."""
    from interp.report import margin

    sweep = render_sweep(state, out_dir)
    parts = ["<!doctype html><meta charset='utf-8'><title>interp claims</title>",
             "<style>body{font-family:sans-serif;max-width:1300px;margin:auto}td,th{padding:2px 8px}"
             ".fail{color:#b00}.pass{color:#070}img{max-width:100%;border:1px solid #ccc}</style>",
             "<h1>Claims report</h1>"]
    if sweep is not None:
        parts.append(f"<h2>Sweep</h2><figure><img src='{sweep.name}'><figcaption>Each claim's worst value "
                     "over its cases against the epoch; dashed: the threshold.</figcaption></figure>")
    for target in state.targets:
        rows = sorted(state.rows.get(target.name, []), key=lambda d: d["order"])
        if not rows:
            continue
        ck = target.checkpoint
        parts.append(f"<h2>{html.escape(target.name)}</h2><p>{html.escape(str(ck.path))}<br>sha256 {ck.sha256}"
                     f"<br>p={ck.weights.p}, d_model={ck.weights.d_model}, d_mlp={ck.weights.d_mlp}; key "
                     f"frequencies {target.run.key_freqs} ({target.run.key_freqs_source})</p>")
        parts.append("<table><tr><th>claim</th><th>value</th><th>threshold</th><th>margin</th><th>verdict</th>"
                     "<th>what it claims</th></tr>")
        for d in rows:
            r = d["row"]
            verdict = "known failure" if r.get("known_failure") else ("holds" if r["passed"] else "FAILS")
            parts.append(f"<tr class='{'pass' if r['passed'] else 'fail'}'><td>{html.escape(r['id'])}</td>"
                         f"<td>{r['value']:.6g}</td><td>{r['op']} {r['threshold']:g}</td>"
                         f"<td>{margin(r['value'], r['op'], r['threshold']):+.4g}</td><td>{verdict}</td>"
                         f"<td>{html.escape(d['statement'])}</td></tr>")
        parts.append("</table>")
        for name, caption in CAPTIONS.items():
            if (out_dir / target.name / name).exists():
                parts.append(f"<figure><img src='{html.escape(target.name)}/{name}'>"
                             f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    path = out_dir / "index.html"
    from interp.checkpoint import write_atomic

    text = "\n".join(parts) + "\n"
    write_atomic(path, lambda tmp: tmp.write_text(text))
    return path
