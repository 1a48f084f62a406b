"""What every figure shares: the figures a checkpoint may get, with their titles and captions,
matplotlib (an optional extra, loaded on first use) and writing a PNG file atomically."""

from __future__ import annotations

from pathlib import Path

from interp.checkpoint import write_atomic
from interp.errors import OptionError

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
DPI = 110


def require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise OptionError("--claims-figures", 'needs matplotlib: pip install "interp-claims[figures]"') from None


def pyplot():
    """matplotlib's pyplot, on the Agg backend (files only, no display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path, dpi: int = DPI) -> None:
    """Write ``fig`` as a PNG atomically: a reader never sees half a file."""
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))

