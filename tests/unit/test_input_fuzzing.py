"""Fuzzing the parsers: the only outcomes are success or the project's own error with a message."""

import copy
import math
import tempfile
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from interp.arch.mlp import WEIGHT_NAMES
from interp.checkpoint import load_checkpoint
from interp.claims.load import DEFAULT_CLAIMS, parse_claims
from interp.errors import InterpError
from interp.keyfreqs import parse_key_freqs

# Five times the loaded profile's examples (conftest.py): 1,000 under `ci` (200), 125 under `dev`.
EXAMPLES = 5 * settings().max_examples

REAL = yaml.safe_load(DEFAULT_CLAIMS.read_text(encoding="utf-8"))  # the project's own claims.yaml
VALID_CLAIM = {"id": "c", "metric": "fve", "for_each": {"freq": "key_freqs", "term": ["sin", "cos"]},
               "op": ">", "threshold": 0.84, "claim": "a claim", "source": "a source"}
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.text(max_size=8), inner, max_size=3), max_leaves=6)
field_names = st.sampled_from([*VALID_CLAIM, "params", "family", "holds_by_construction", "treshold", "x"])
YAML_BITS = st.sampled_from(["", ":", "- ", "\t", "[", "{", "'", '"', "&a", "*a", "!!python/object/apply:os.system "])
plausible = st.sampled_from(["accuracy", "fve", ">=", "==", "=>", "sin", "key_freqs", "test", 0.5, -1, "nan"])


@st.composite
def valid_documents(draw):
    """The project's claims.yaml, or a selection of its claims (known failures need them all; a
    selection keeps only the ``requires`` it still holds)."""
    if draw(st.integers(0, 3)) == 0:
        return copy.deepcopy(REAL)
    picked = draw(st.lists(st.sampled_from(range(len(REAL["claims"]))), min_size=1, max_size=4, unique=True))
    claims = [copy.deepcopy(REAL["claims"][i]) for i in picked]
    ids = {c["id"] for c in claims}
    for claim in claims:
        claim["requires"] = [r for r in claim.get("requires", []) if r in ids]
    return {"claims": claims}


@st.composite
def claims_documents(draw):
    """(document, mutated): a valid document, then maybe some fields dropped, replaced or added,
    claims duplicated, or top-level keys added."""
    doc, mutated = draw(valid_documents()), False
    for _ in range(draw(st.integers(0, 3))):
        mutated = True
        claim = draw(st.sampled_from(doc["claims"]))
        action = draw(st.sampled_from(["drop", "set", "set", "duplicate", "top-level"]))
        if action == "drop":
            claim.pop(draw(field_names), None)
        elif action == "set":
            claim[draw(field_names)] = draw(values | plausible)
        elif action == "duplicate":
            doc["claims"].append(copy.deepcopy(claim))
        else:
            doc[draw(st.sampled_from(["known_failures", "claim", "extra"]))] = draw(values)
    return doc, mutated


def assert_ok_or_own_error(parse, *args) -> bool:
    """True if parsed; False if refused with one line that names the file ("fuzz.yaml")."""
    try:
        parse(*args)
    except InterpError as exc:
        assert str(exc).startswith("fuzz.yaml") and "\n" not in str(exc), str(exc)
        event(f"refused ({type(exc).__name__})")
        return False
    event("accepted")
    return True


@settings(max_examples=EXAMPLES)
@given(claims_documents())
def test_claims_documents(case):
    doc, mutated = case
    parsed = assert_ok_or_own_error(parse_claims, yaml.safe_dump(doc, sort_keys=False), "fuzz.yaml")
    assert parsed or mutated  # an unmutated document must be accepted


@settings(max_examples=EXAMPLES)
@given(valid_documents(), st.data())
def test_claims_text_mutations(doc, data):
    """Character-level damage to a valid file's text: cut a slice, then insert a few characters."""
    text = yaml.safe_dump(doc, sort_keys=False)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    insert = data.draw(YAML_BITS | st.text(max_size=5))
    assert_ok_or_own_error(parse_claims, text[:start] + insert + text[end:], "fuzz.yaml")


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
        assert freqs == sorted(set(freqs)) and all(1 <= k <= p // 2 for k in freqs)  # p/2: even p's Nyquist


DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32, torch.bool]


@st.composite
def state_dicts(draw):
    """Mostly consistent shapes for a small p, with keys dropped or added, ranks and shapes
    changed, other dtypes, a NaN or Inf, or a value that is not a tensor."""
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**32 - 1)))
    p, d, m = draw(st.integers(0, 9)), draw(st.integers(0, 5)), draw(st.integers(0, 5))
    shapes = {"W_E": [p, d], "W_in": [d, m], "W_U": [m, p]}
    state = {}
    for name, shape in shapes.items():
        if draw(st.integers(0, 9)) == 0:
            continue  # missing key
        if draw(st.integers(0, 19)) == 0:
            state[name] = draw(st.none() | st.integers() | st.lists(st.floats(), max_size=3))
            continue
        if draw(st.integers(0, 5)) == 0:
            shape = draw(st.lists(st.integers(0, 6), min_size=0, max_size=3))
        tensor = torch.randn(shape, generator=generator)
        if draw(st.integers(0, 9)) == 0 and tensor.numel():
            tensor.view(-1)[draw(st.integers(0, tensor.numel() - 1))] = draw(st.sampled_from([math.nan, math.inf]))
        state[name] = tensor.to(draw(st.sampled_from(DTYPES)))
    if draw(st.integers(0, 9)) == 0:
        state[draw(st.text(max_size=5))] = torch.zeros(1)
    return state


@settings(max_examples=EXAMPLES)
@given(state_dicts())
def test_random_state_dicts(state):
    """Saved with torch.save and read back by the loader: refused with one line naming the file,
    or accepted with the same values in float32 (float64 kept)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.pt"
        torch.save(state, path)
        try:
            weights = load_checkpoint(path).model
        except InterpError as exc:
            assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc), str(exc)
            event(f"refused ({type(exc).__name__})")
            return
    event("accepted")
    assert weights.p >= 3
    dtype = torch.float64 if all(state[n].dtype == torch.float64 for n in WEIGHT_NAMES) else torch.float32
    for name, tensor in weights.state_dict().items():
        assert tensor.dtype == dtype and torch.equal(tensor, state[name].to(dtype))


def test_a_key_with_a_line_break_still_gives_one_line():
    """Found by the fuzzing above: a ``for_each`` key holding a newline put it in the message."""
    doc = {"claims": [{**VALID_CLAIM, "for_each": {"a\nb": None}}]}
    with pytest.raises(InterpError) as info:
        parse_claims(yaml.safe_dump(doc), "fuzz.yaml")
    assert "\n" not in str(info.value) and "a\\nb" in str(info.value)
