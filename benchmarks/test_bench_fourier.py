"""fft2d kernels against the seed's einsum and two floors, in groups by p; and the whole claims
pass on the reference checkpoint. Run: ``pytest benchmarks --benchmark-only`` (docs/performance.md).

Each group transforms one float32 ``[p, p, m]`` tensor with about as many elements as the
``[113, 113, 512]`` post-ReLU activations of the reference (``m = max(8, 512 (113 / p)^2)``):
- ``einsum``: the seed notebook's three-operand einsum (the baseline);
- each kernel of :data:`interp.fourier.KERNELS`, and ``default`` (what ``fft2d`` picks);
- ``floor-copy``: ``x.clone()``, the memory floor (read and write the tensor once);
- ``floor-gemm``: one ``[p, p] @ [p, 2 p m]`` GEMM, the same flop count as the two GEMMs of
  ``gemm`` (the compute floor of a dense transform; ``fold`` does half those flops).
"""

import pytest
import torch

from interp.checkpoint import load_checkpoint
from interp.claims import evaluate, load_claims
from interp.fourier import KERNELS, fft2d, fourier_basis
from interp.plugin import DEFAULT_CLAIMS
from interp.run import Run

MODULI = [113, 257, 509, 1009]
CASES = ["einsum", *sorted(set(KERNELS) - {"einsum"}), "default", "floor-copy", "floor-gemm"]


def width(p: int) -> int:
    return max(8, round(512 * (113 / p) ** 2))


def case_function(case: str, x: torch.Tensor):
    p = x.shape[0]
    if case == "floor-copy":
        return x.clone
    if case == "floor-gemm":
        basis, wide = fourier_basis(p), torch.randn(p, 2 * x[0].numel())
        return lambda: basis @ wide
    kernel = None if case == "default" else case
    return lambda: fft2d(x, kernel=kernel)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("p", MODULI)
def test_fft2d(benchmark, p, case):
    benchmark.group = f"fft2d p={p:04d} [{p},{p},{width(p)}] float32"
    x = torch.randn(p, p, width(p), generator=torch.Generator().manual_seed(p))
    fn = case_function(case, x)
    fn()  # warm the basis caches
    benchmark.pedantic(fn, rounds=5 if case in ("reference", "einsum") else 10, warmup_rounds=1)


def test_claims_pass_on_reference(benchmark, reference_path):
    """The forward pass plus every metric of claims.yaml, on a fresh Run each round."""
    benchmark.group = "claims pass (reference, p=113)"
    checkpoint, claims = load_checkpoint(reference_path), load_claims(DEFAULT_CLAIMS)

    def claims_pass() -> list[float]:
        run = Run(checkpoint)
        return [evaluate(case, run) for claim in claims.claims for case in claim.expand(run.key_freqs)]

    values = benchmark.pedantic(claims_pass, rounds=5, warmup_rounds=1)
    assert len(values) >= len(claims.claims)
