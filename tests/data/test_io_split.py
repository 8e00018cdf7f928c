"""Reading CSV and Parquet, the clip policy, and the seeded split."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privsynth.data.io import check_table, read_raw
from privsynth.data.split import assign_holdout
from privsynth.errors import DataError
from privsynth.threat_model import DataSpec


def test_parquet_and_csv_give_the_same_checked_table(tmp_path, small_adult_csv, adult_model):
    raw = pd.read_csv(small_adult_csv, dtype=str, keep_default_na=False)
    parquet = tmp_path / "t.parquet"
    raw.to_parquet(parquet, index=False)
    from_csv, _ = check_table(read_raw(small_adult_csv), adult_model.data, "csv")
    from_parquet, _ = check_table(read_raw(parquet), adult_model.data, "parquet")
    pd.testing.assert_frame_equal(from_csv, from_parquet)


def test_clip_policy_counts_for_the_internal_report(small_adult_csv, adult_model):
    raw = read_raw(small_adult_csv)
    raw.loc[0, "age"] = "120"
    raw.loc[1, "race"] = "Martian"
    columns = {n: c.model_copy(update={"fallback": c.values[-1]}) if c.type == "categorical" else c
               for n, c in adult_model.data.columns.items()}
    spec = DataSpec(**{**adult_model.data.model_dump(), "columns": columns, "out_of_domain": "clip"})
    frame, report = check_table(raw, spec, "x")
    assert frame.loc[0, "age"] == 90 and frame.loc[1, "race"] == "White"
    assert report.clipped == {"age": 1} and report.mapped_to_fallback == {"race": 1}


def test_drop_columns_are_not_synthesised(small_adult_csv, adult_model):
    spec = DataSpec(**{**adult_model.data.model_dump(), "drop_columns": ["fnlwgt"]})
    frame, _ = check_table(read_raw(small_adult_csv), spec, "x")
    assert "fnlwgt" not in frame.columns and len(frame.columns) == 14


def test_split_is_disjoint_complete_and_close_to_the_fraction(adult):
    train_rows, holdout_rows = assign_holdout(1000, 0.2, np.random.default_rng(3))
    assert sorted([*train_rows, *holdout_rows]) == list(range(1000))
    assert 150 < len(holdout_rows) < 250  # Binomial(1000, 0.2): sd 12.6
    again = assign_holdout(1000, 0.2, np.random.default_rng(3))
    assert np.array_equal(again[1], holdout_rows)


def test_adding_a_row_moves_no_other_row_across_the_split():
    """Each row's side is its own draw: the split of D plus one row keeps every row of D where it was (the
    seeded permutation this replaced moved about a fifth of all rows)."""
    seed = np.random.SeedSequence(2024)
    train, holdout = assign_holdout(5000, 0.2, np.random.default_rng(seed))
    train_plus, holdout_plus = assign_holdout(5001, 0.2, np.random.default_rng(seed))
    assert np.array_equal(train_plus[train_plus < 5000], train)
    assert np.array_equal(holdout_plus[holdout_plus < 5000], holdout)


def test_split_refuses_a_table_too_small():
    with pytest.raises(DataError, match="cannot be split"):
        assign_holdout(1, 0.2, np.random.default_rng(0))
