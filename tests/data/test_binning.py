"""Public binning choices: explicit edges, a signed log scale, cut points for bins: quantile, and decoding
inside a bin; every coder still comes from the public spec alone and a decoded number re-encodes to its code."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from privsynth.data import binning
from privsynth.data.domain import coder_for
from privsynth.threat_model import NumericColumn


def test_log_scale_cuts_finely_near_zero_and_coarsely_in_the_tail():
    coder = coder_for("gain", NumericColumn(type="integer", min=0, max=99999, scale="log"))
    widths = np.diff(coder.edges)
    assert coder.zero_code == 0 and widths[0] < 3 and widths[-1] > 20000
    assert all(float(e).is_integer() for e in coder.edges)  # integer cut points: no empty bins
    signed = coder_for("balance", NumericColumn(type="integer", min=-20000, max=200000, scale="log", bins=40))
    assert min(abs(e) for e in signed.edges[1:-1]) < 10  # fine bins on both sides of zero


def test_explicit_edges_are_the_cut_points():
    coder = coder_for("x", NumericColumn(type="float", min=0, max=10, edges=[1, 2.5, 7]))
    assert coder.edges == (0.0, 1.0, 2.5, 7.0, 10.0) and coder.size == 5  # 4 bins + a code for zero
    assert coder.encode(pd.Series([0.0, 0.5, 1.0, 6.9, 7.0, 10.0])).tolist() == [0, 1, 2, 3, 4, 4]


@pytest.mark.parametrize("fields, message", [({"edges": [5, 3]}, "strictly increasing"),
                                             ({"edges": [0, 3]}, "strictly inside"),
                                             ({"edges": [3], "bins": 4}, "either edges or bins")])
def test_bad_edges_are_refused(fields, message):
    with pytest.raises(ValidationError, match=message):
        NumericColumn(type="float", min=0, max=10, **fields)


def test_quantile_column_uses_bought_cut_points_only_when_given():
    spec = NumericColumn(type="integer", min=1, max=1_500_000, bins="quantile", quantile_bins=8)
    provisional = coder_for("w", spec)
    assert len(provisional.edges) == 9  # equal-width stand-in until the cut points are bought
    bought = coder_for("w", spec, bought_edges=[60000.4, 120000, 120000, 180000, 250000])
    assert bought.edges == (1.0, 60001.0, 120000.0, 180000.0, 250000.0, 1_500_000.0)  # rounded up, de-duplicated


def test_candidate_grid_is_public_and_on_the_columns_scale():
    grid = binning.quantile_candidates(0, 99999, "log", integer=True)
    assert len(grid) <= binning.QUANTILE_GRID and grid[0] >= 1 and grid[-1] == 99999
    assert np.all(np.diff(grid) > 0) and np.median(grid) < 5000  # dense where a log scale is fine
    assert binning.quantile_candidates(17, 90, "linear", integer=True).tolist() == list(range(18, 91))


def test_heavy_tailed_ranges_are_recognised_from_the_bounds_alone():
    assert binning.heavy_tailed_range(1, 1_500_000) and binning.heavy_tailed_range(-20000, 200000)
    assert not binning.heavy_tailed_range(17, 90) and not binning.heavy_tailed_range(1000, 2000)


def test_interpolated_decoding_leans_towards_the_denser_neighbour():
    """Three bins with 100, 50 and 10 rows: inside the middle bin values sit closer to the denser left bin,
    and every value stays in its bin; uniform decoding would put half of them on each side."""
    coder = coder_for("x", NumericColumn(type="float", min=1, max=4, bins=3))
    codes = np.repeat([0, 1, 2], [100, 50, 10])
    values = coder.decode(codes, np.random.default_rng(0)).to_numpy()
    middle = values[100:150]
    assert np.all((middle >= 2) & (middle < 3)) and (middle < 2.5).mean() > 0.6
    assert (coder.encode(pd.Series(values)) == codes).all()
    flat = coder_for("x", NumericColumn(type="float", min=1, max=4, bins=3, within_bin="uniform"))
    assert 0.3 < (flat.decode(codes, np.random.default_rng(0)).to_numpy()[100:150] < 2.5).mean() < 0.7


@settings(max_examples=60, deadline=None)
@given(lo=st.integers(-5000, 5000), width=st.integers(1, 10**7), bins=st.integers(2, 64),
       scale=st.sampled_from(["linear", "log"]), within=st.sampled_from(["interpolated", "uniform"]),
       data=st.data())
def test_any_integer_binning_roundtrips(lo, width, bins, scale, within, data):
    spec = NumericColumn(type="integer", min=lo, max=lo + width, bins=bins, scale=scale, within_bin=within)
    coder = coder_for("x", spec)
    values = data.draw(st.lists(st.integers(lo, lo + width), min_size=1, max_size=60))
    codes = coder.encode(pd.Series(values))
    decoded = coder.decode(codes, np.random.default_rng(3))
    assert decoded.between(lo, lo + width).all() and (decoded == decoded.round()).all()
    assert (coder.encode(decoded) == codes).all()


@settings(max_examples=40, deadline=None)
@given(edges=st.lists(st.floats(-99, 99, allow_nan=False), min_size=1, max_size=8, unique=True),
       data=st.data())
def test_any_float_edges_roundtrip(edges, data):
    spec = NumericColumn(type="float", min=-100, max=100, edges=sorted(edges))
    coder = coder_for("x", spec)
    values = data.draw(st.lists(st.floats(-100, 100, allow_nan=False), min_size=1, max_size=60))
    codes = coder.encode(pd.Series(values))
    assert (coder.encode(coder.decode(codes, np.random.default_rng(0))) == codes).all()


def test_a_sparse_open_ended_bin_keeps_its_rows_near_its_denser_neighbour():
    """The last bin of a quantile-cut weight runs to a generous public bound: its rows continue the
    neighbour's density and decay (exponential tail) instead of spreading over the whole width."""
    coder = coder_for("w", NumericColumn(type="float", min=1, max=1000, edges=[10, 20]))
    codes = np.repeat([0, 1, 2], [100, 100, 5])
    values = coder.decode(codes, np.random.default_rng(0)).to_numpy()
    tail = values[200:]
    assert np.all((tail >= 20) & (tail < 1000)) and np.median(tail) < 60
    assert (coder.encode(pd.Series(values)) == codes).all()
