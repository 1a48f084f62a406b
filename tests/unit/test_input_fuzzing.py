"""Fuzzing the parsers: the only outcomes are success or the project's own error with a message."""

import os

import torch
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from interp.checkpoint import validate_state_dict
from interp.claims import parse_claims
from interp.errors import InterpError
from interp.keyfreqs import parse_key_freqs

EXAMPLES = 1000 if os.environ.get("HYPOTHESIS_PROFILE") == "ci" else 100

VALID_CLAIM = {"id": "c", "metric": "fve", "for_each": {"freq": "key_freqs", "term": ["sin", "cos"]},
               "op": ">", "threshold": 0.84, "claim": "a claim", "source": "a source"}
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=6)
field_names = st.sampled_from([*VALID_CLAIM, "params", "family", "holds_by_construction", "treshold", "x"])


@st.composite
def claims_documents(draw):
    """A valid document, then some of its fields dropped, replaced or added."""
    claims = []
    for i in range(draw(st.integers(0, 3))):
        claim = {**VALID_CLAIM, "id": draw(st.sampled_from([f"c{i}", "c0", "bad id", ""]))}
        for _ in range(draw(st.integers(0, 3))):
            name = draw(field_names)
            if draw(st.booleans()):
                claim.pop(name, None)
            else:
                claim[name] = draw(values | st.sampled_from(["accuracy", "fve", ">=", "==", "sin", "key_freqs"]))
        claims.append(claim)
    doc = {"claims": claims}
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["known_failures", "claim", "extra"]))] = draw(values)
    return doc


def assert_ok_or_own_error(parse, *args) -> None:
    try:
        parse(*args)
    except InterpError as exc:
        assert str(exc).strip() and "\n" not in str(exc)


@settings(max_examples=EXAMPLES)
@given(claims_documents())
def test_claims_documents(doc):
    assert_ok_or_own_error(parse_claims, yaml.safe_dump(doc), "fuzz.yaml")


@settings(max_examples=EXAMPLES)
@given(st.text(max_size=200))
def test_claims_file_arbitrary_text(text):
    assert_ok_or_own_error(parse_claims, text, "fuzz.yaml")


@settings(max_examples=EXAMPLES)
@given(st.text(alphabet="0123456789,- x.", max_size=20) | st.text(max_size=20), st.integers(3, 300))
def test_key_freqs_strings(text, p):
    try:
        freqs = parse_key_freqs(text, p)
    except InterpError as exc:
        assert str(exc).startswith("--key-freqs: ")
    else:
        assert freqs == sorted(set(freqs)) and all(1 <= k <= (p - 1) // 2 for k in freqs)


DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32, torch.bool]


@st.composite
def state_dicts(draw):
    p, d, m = draw(st.integers(0, 9)), draw(st.integers(0, 5)), draw(st.integers(0, 5))
    shapes = {"W_E": [p, d], "W_in": [d, m], "W_U": [m, p]}
    state = {}
    for name, shape in shapes.items():
        if draw(st.integers(0, 9)) == 0:
            continue  # missing key
        if draw(st.integers(0, 5)) == 0:
            shape = draw(st.lists(st.integers(0, 6), min_size=0, max_size=3))
        tensor = torch.randn(*shape) if shape else torch.tensor(1.0)
        if draw(st.integers(0, 9)) == 0 and tensor.numel():
            tensor.view(-1)[0] = float("nan")
        state[name] = tensor.to(draw(st.sampled_from(DTYPES)))
    if draw(st.integers(0, 9)) == 0:
        state[draw(st.text(max_size=5))] = torch.zeros(1)
    return state


@settings(max_examples=EXAMPLES)
@given(state_dicts())
def test_random_state_dicts(state):
    try:
        weights = validate_state_dict(state, "fuzz.pt")
    except InterpError as exc:
        assert str(exc).startswith("fuzz.pt: ")
    else:
        assert weights.p >= 3 and weights.W_E.dtype in (torch.float32, torch.float64)
