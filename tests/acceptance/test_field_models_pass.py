"""The default gate on grokked models from the field, as their code bases save them: each passes
with no ``known_failures`` entry (issue 16). What the population shows a claim does not describe
on that architecture is NOT-GATED there, measured and reported; a model outside the population
(another activation, more layers) is gated by the task alone."""

from __future__ import annotations

import pytest

from interp.checkpoint import load_checkpoints
from interp.claims.claim import gate_architecture
from interp.claims.load import DEFAULT_CLAIMS, load_claims
from interp.claims.verdicts import NOT_GATED, PASS, SKIP, assess
from interp.run import Run
from tests._paths import FIXTURES

CLAIMS = load_claims(DEFAULT_CLAIMS)
FIELD = {  # name: (file, its gate architecture)
    "zhong-c0 (Zhong et al.'s code, constant attention)": (FIXTURES / "zhong" / "model_p59c0s0.pt", "transformer"),
    "zhong-c1 (Zhong et al.'s code, ordinary attention)": (FIXTURES / "zhong" / "model_p59c1s0.pt", "transformer"),
    "transformerlens add (Nanda et al.'s recipe)": (FIXTURES / "transformer" / "add" / "epoch015000.pt", "transformer"),
    "transformerlens sub (Nanda et al.'s recipe)": (FIXTURES / "transformer" / "sub" / "epoch025000.pt", "transformer"),
    "one-hot Quad MLP, final (the study's code)": (
        FIXTURES / "onehot" / "p_23_dmlp_256_Quad_random_scale_0.1_decay_2.0_12030400" / "final.pth", "mlp-quad"),
}


@pytest.mark.parametrize("name", sorted(FIELD))
def test_the_default_gate_passes_a_grokked_model_from_the_field(name):
    path, architecture = FIELD[name]
    checkpoint = load_checkpoints(path)[-1]
    assert not [kf for kf in CLAIMS.known_failures if kf.sha256 == checkpoint.sha256]
    run = Run(checkpoint)
    assert gate_architecture(checkpoint.model) == architecture
    verdicts = [assess(case, run, CLAIMS, checkpoint.sha256) for claim in CLAIMS.claims
                for case in claim.expand(run.key_freqs)]
    gated = [v for v in verdicts if v.status not in (NOT_GATED, SKIP)]
    assert gated and all(v.status == PASS for v in gated), [v.line() for v in gated if v.status != PASS]
    assert any(v.status == NOT_GATED for v in verdicts)
