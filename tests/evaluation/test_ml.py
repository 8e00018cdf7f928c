"""Train-on-synthetic with a high-cardinality column (ICD-9 codes have 700+ public values): the classifier
takes it as a number instead of failing on HistGradientBoosting's 255-category limit."""
from __future__ import annotations

import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.evaluation.ml import tstr_auc
from privsynth.evaluation.registry import UtilityData
from privsynth.threat_model import CategoricalColumn


def test_tstr_runs_with_more_categories_than_the_classifier_takes(adult, adult_model):
    values = [f"c{i}" for i in range(300)]
    columns = {c: adult_model.kept_columns[c] for c in ("age", "education", "income")}
    columns["code"] = CategoricalColumn(type="categorical", values=values, missing=True)
    domain = PublicDomain(columns, target="income")
    rows = adult[["age", "education", "income", "fnlwgt"]].iloc[:3000].reset_index(drop=True)
    rows["code"] = pd.Categorical((rows.pop("fnlwgt") % 300).map(lambda v: f"c{v}"), categories=values)
    train, holdout = rows.iloc[:2000], rows.iloc[2000:].reset_index(drop=True)
    results = {u.name: u for u in tstr_auc(UtilityData(train, holdout, domain, "income", 0), train)}
    assert 0.6 < results["tstr_auc_gap"].details["tstr_auc"] <= 1.0
