"""Reading CSV and Parquet, the clip policy, and the seeded split."""
from __future__ import annotations

import pandas as pd
import pytest

from privsynth.data.io import check_table, read_raw
from privsynth.data.split import split_train_holdout
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


def test_split_is_seeded_disjoint_and_complete(adult):
    train, holdout = split_train_holdout(adult.iloc[:1000], 0.2, seed=3)
    again, _ = split_train_holdout(adult.iloc[:1000], 0.2, seed=3)
    other, _ = split_train_holdout(adult.iloc[:1000], 0.2, seed=4)
    assert len(holdout) == 200 and len(train) == 800
    pd.testing.assert_frame_equal(train, again)
    assert not train.equals(other)
    both = pd.concat([train, holdout]).sort_values(list(adult.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(both, adult.iloc[:1000].sort_values(list(adult.columns)).reset_index(drop=True))


def test_split_refuses_a_table_too_small(adult):
    with pytest.raises(DataError, match="cannot be split"):
        split_train_holdout(adult.iloc[:1], 0.2, seed=0)
