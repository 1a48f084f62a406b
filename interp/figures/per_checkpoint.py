"""One checkpoint's figures (:data:`interp.figures.common.FIGURES`): three clock neurons, all
neurons and the logits in the 2D Fourier basis, the FVE per key frequency, and the Fourier
components of the readout, the embedding and ``W_E W_in``."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from interp.figures.common import FIGURES, TITLES, pyplot, save_png
from interp.fourier import basis_names

READOUT = {"mlp": "W_U", "transformer": "W_out W_U"}  # what the readout is, per architecture


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
    plt = pyplot()
    run, p = target.run, target.run.p
    architecture = target.checkpoint.model.architecture
    folder = Path(out_dir) / target.name
    folder.mkdir(parents=True, exist_ok=True)
    written = []

    def save(fig, name: str, title: str | None = None) -> None:
        fig.suptitle(f"{target.name} ({architecture}, task {target.task}): {title or TITLES[name]}", fontsize=11)
        fig.tight_layout()
        save_png(fig, folder / name)
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
        # at even p the Nyquist frequency p/2 has a cosine only: its sine bar is left empty
        values = {t: [math.nan if (t == "sin" and 2 * k == run.p) else fve(run.readout_spectra, k, t) for k in ks]
                  for t in ("sin", "cos")}
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
              "Fourier component of the output (logit)", f"the readout ({readout})'s Fourier components")]
    if run.embedding_fourier is not None:
        lines.append(("embedding.png", run.embedding_fourier.double().pow(2).sum(1), "||F W_E||^2 per row",
                      "Fourier component of the token", None))
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
