"""fft2d kernels against the seed's einsum and two floors, in groups by p; and the whole claims
pass on the reference checkpoint. Run: ``pytest benchmarks --benchmark-only`` (docs/performance.md).

Each group transforms one float32 ``[p, p, m]`` tensor with about as many elements as the
``[113, 113, 512]`` post-ReLU activations of the reference (``m = max(8, 512 (113 / p)^2)``):
- ``einsum``: the seed notebook's three-operand einsum (the baseline);
- each kernel of :data:`interp.fourier.KERNELS`, and ``default`` (what ``fft2d`` picks);
- ``floor-copy``: ``x.clone()``, the memory floor (read and write the tensor once);
- ``floor-gemm``: the two ``[p, p] @ [p, p m]`` GEMMs of ``gemm`` alone, into preallocated outputs:
  the compute floor of a dense transform (``4 p^3`` flops per column);
- ``floor-gemm-fold``: the four half-size GEMMs of ``fold`` alone (``[h+1, h+1] @ [h+1, p m]`` and
  ``[h, h] @ [h, p m]`` per axis, ``h = (p-1)/2``), into preallocated outputs: the compute floor of
  any dense kernel that folds both axes, before the fold's own copies.
"""

import pytest
import torch

from interp.checkpoint import load_checkpoint
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import evaluate
from interp.fourier import KERNELS, _fold_matrices, fft2d, fourier_basis
from interp.run import Run

MODULI = [113, 257, 509, 1009]
CASES = ["einsum", *sorted(set(KERNELS) - {"einsum"}), "default", "floor-copy", "floor-gemm", "floor-gemm-fold"]


def width(p: int) -> int:
    return max(8, round(512 * (113 / p) ** 2))


def gemms_only(x: torch.Tensor, fold: bool):
    """The GEMMs of ``gemm`` (or of ``fold``, for odd p), with their operands and outputs allocated
    once, outside the timed call."""
    p = x.shape[0]
    mats = _fold_matrices(p, x.dtype, x.device) if fold else [fourier_basis(p, x.dtype, x.device)]
    operands = [(m, torch.randn(m.shape[1], x[0].numel()), torch.empty(m.shape[0], x[0].numel())) for m in mats]

    def run() -> None:
        for _axis in range(2):
            for matrix, rhs, out in operands:
                torch.mm(matrix, rhs, out=out)

    return run


def case_function(case: str, x: torch.Tensor):
    if case == "floor-copy":
        return x.clone
    if case.startswith("floor-gemm"):
        return gemms_only(x, fold=case == "floor-gemm-fold")
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
