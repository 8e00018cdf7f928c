"""Encoders come from the public domain alone (DP_PITFALLS: bounds or categories read from private data)."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from privsynth.data.domain import PublicDomain, coder_for
from privsynth.threat_model import CategoricalColumn, NumericColumn


def test_neighbouring_tables_get_identical_encoders(adult, adult_domain):
    """Change one row to an extreme value and add a rare category: every encoder stays byte-identical."""
    neighbour = adult.copy()
    neighbour.loc[0, "capital_gain"] = 99999
    neighbour.loc[1, "native_country"] = "Holand-Netherlands"
    _, coders_a = adult_domain.encode(adult)
    _, coders_b = adult_domain.encode(neighbour)
    assert coders_a == coders_b
    assert adult_domain.distance_features(adult.iloc[2:50]).tobytes() == \
        adult_domain.distance_features(neighbour.iloc[2:50]).tobytes()


def test_small_integer_domains_stay_exact_and_zero_gets_its_own_code(adult_domain):
    coders = adult_domain.coders()
    assert coders["age"].exact and coders["age"].size == 74
    assert coders["hours_per_week"].exact and coders["hours_per_week"].size == 99
    assert coders["capital_gain"].zero_code == 0 and coders["capital_gain"].size == 33
    assert coders["workclass"].size == 9  # 8 public values + missing


def test_roundtrip_keeps_categories_exact_values_and_bins(adult, adult_domain):
    sample = adult.iloc[:2000]
    codes, coders = adult_domain.encode(sample)
    decoded = adult_domain.decode(codes, coders, np.random.default_rng(0))
    for column in ("age", "education_num", "hours_per_week", "workclass", "native_country", "income"):
        pd.testing.assert_series_equal(decoded[column], sample[column], check_names=False)
    assert ((decoded["capital_gain"] == 0) == (sample["capital_gain"] == 0)).all()
    recoded, _ = adult_domain.encode(decoded)
    assert (recoded == codes).all()  # decoded numbers fall back into the bin they came from


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(-1000, 1000), width=st.integers(1, 100000), bins=st.integers(2, 64),
       data=st.data())
def test_integer_bins_roundtrip_for_any_public_domain(lo, width, bins, data):
    spec = NumericColumn(type="integer", min=lo, max=lo + width, bins=bins)
    coder = coder_for("x", spec)
    values = data.draw(st.lists(st.integers(lo, lo + width), min_size=1, max_size=50))
    codes = coder.encode(pd.Series(values))
    assert codes.min() >= 0 and codes.max() < coder.size
    decoded = coder.decode(codes, np.random.default_rng(1))
    assert decoded.between(lo, lo + width).all()
    assert (coder.encode(decoded) == codes).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=1, max_size=40))
def test_categorical_codes_roundtrip_with_missing(values):
    coder = coder_for("c", CategoricalColumn(type="categorical", values=["a", "b", "c"], missing=True))
    codes = coder.encode(pd.Series(values, dtype=object))
    decoded = coder.decode(codes, np.random.default_rng(0))
    assert [None if pd.isna(v) else v for v in decoded] == values


def test_cast_gives_public_dtypes(adult_domain, adult):
    cast = adult_domain.cast(adult.iloc[:10])
    assert list(cast["race"].cat.categories) == adult_domain.columns["race"].values
    assert cast["age"].dtype == "int64"


def test_domain_rejects_missing_values_where_not_declared():
    coder = coder_for("x", NumericColumn(type="integer", min=0, max=10))
    try:
        coder.encode(pd.Series([1.0, None]))
    except ValueError as exc:
        assert "'x'" in str(exc)
    else:
        raise AssertionError("missing value accepted")
    assert PublicDomain({"x": NumericColumn(type="float", min=0, max=1)}).names == ["x"]


def test_a_bin_spanning_zero_never_decodes_to_zero():
    """Found by Hypothesis in a fresh-clone run: with a code of its own for zero, the bin [-1, 1.5) must not
    draw 0 on decoding, or the synthetic value re-encodes to another code."""
    coder = coder_for("x", NumericColumn(type="integer", min=-1, max=4, bins=2))
    codes = coder.encode(pd.Series(list(range(-1, 5)) * 50))
    decoded = coder.decode(codes, np.random.default_rng(1))
    assert (coder.encode(decoded) == codes).all()
