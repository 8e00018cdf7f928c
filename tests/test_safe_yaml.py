"""The strict YAML reader of threat models: aliases, duplicate keys, deep nesting and huge files are refused
quickly with a bounded message; ordinary YAML reads as PyYAML's safe loader reads it."""
from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from privsynth.safe_yaml import MAX_BYTES, MAX_DEPTH, UnsafeYAML, dump, load, quote

BILLION_LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi"))


def test_billion_laughs_is_refused_before_expansion():
    start = time.perf_counter()
    with pytest.raises(UnsafeYAML, match="line 1: YAML anchors and aliases"):
        load(BILLION_LAUGHS)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("text", ["a: &x 1\nb: 2\n", "a: 1\nb: *x\n", "base: &b {k: 1}\nother:\n  <<: *b\n"])
def test_any_anchor_or_alias_is_refused(text):
    with pytest.raises(UnsafeYAML, match="anchors and aliases"):
        load(text)


def test_duplicate_key_names_both_lines():
    with pytest.raises(UnsafeYAML, match=r"line 4: duplicate key 'epsilon' \(first at line 2\)"):
        load("privacy:\n  epsilon: 1\n  delta: 1.0e-9\n  epsilon: 3\n")


def test_duplicate_long_key_is_quoted_short():
    key = "k" * 1000
    with pytest.raises(UnsafeYAML) as caught:
        load(f"{key}: 1\n{key}: 2\n")
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize("text", ["x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5),
                                  "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 5)) + "  " * 40 + "v: 1\n",
                                  "x: " + "[" * 20_000 + "]" * 20_000])
def test_deep_nesting_is_refused_without_recursion_error(text):
    with pytest.raises(UnsafeYAML, match=f"nested more than {MAX_DEPTH} levels"):
        load(text)


def test_oversized_text_is_refused():
    with pytest.raises(UnsafeYAML, match="larger than"):
        load("x: 1\n" + "#" * MAX_BYTES)


def test_quote_is_bounded():
    assert quote("a" * 1000).endswith("…") and len(quote("a" * 1000)) == 60
    assert quote(list(range(10**6))) == "<list of 1000000>"


keys = st.text(alphabet="abcdefghij_", min_size=1, max_size=8)
scalars = st.one_of(st.integers(-10**6, 10**6), st.booleans(), st.none(), st.text(alphabet="abc xyz-", max_size=10),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
documents = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(keys, inner, max_size=4)), max_leaves=20)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(keys, documents, min_size=1, max_size=5))
def test_plain_documents_read_as_the_safe_loader_reads_them(document):
    text = yaml.safe_dump(document, sort_keys=False)
    assert load(text) == yaml.safe_load(text)


def test_dump_writes_no_aliases_for_shared_objects():
    shared = ["a", "b"]
    text = dump({"x": shared, "y": shared})
    assert "&" not in text and load(text) == {"x": ["a", "b"], "y": ["a", "b"]}
