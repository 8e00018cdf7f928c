"""Machine-learning utility: train on synthetic, test on the holdout (TSTR), against train on real (TRTR).

The gap TRTR - TSTR is what the gate bounds. Its interval adds the Hanley-McNeil variances of the two
AUCs as if they were independent; they share the test set and are positively correlated, so this is
conservative (wider than the truth).

Cost: two gradient-boosting fits (on real training rows and on the synthetic table), each on a seeded sample
of at most ``MAX_FIT_ROWS`` rows, and their predictions on the holdout: O((fit rows + holdout rows) x columns)
per boosting round, flat beyond 100,000 rows. Adult's and Bank Marketing's tables are used whole.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from privsynth.data.domain import PublicDomain
from privsynth.evaluation.registry import UtilityData
from privsynth.evaluation.marginals import row_sample
from privsynth.results import UtilityResult
from privsynth.threat_model import CategoricalColumn


MAX_FIT_ROWS = 100_000
#: HistGradientBoosting's limit on a native categorical feature's cardinality
MAX_NATIVE_CATEGORIES = 255


def _features(frame: pd.DataFrame, domain: PublicDomain, target: str) -> pd.DataFrame:
    """Categories as native categorical features; a column with more public values than the classifier takes
    (ICD-9 codes: 700+) as its position in the public list, a number it can still split on."""
    out = {}
    for name, spec in domain.columns.items():
        if name == target:
            continue
        if isinstance(spec, CategoricalColumn) and len(spec.values) > MAX_NATIVE_CATEGORIES:
            codes = pd.Categorical(frame[name].astype(object), categories=spec.values).codes.astype(float)
            out[name] = np.where(codes < 0, np.nan, codes)
        elif isinstance(spec, CategoricalColumn):
            out[name] = pd.Categorical(frame[name].astype(object), categories=spec.values)
        else:
            out[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.DataFrame(out)


def hanley_mcneil_variance(auc: float, n_pos: int, n_neg: int) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)


def _auc(fit_frame: pd.DataFrame, test: pd.DataFrame, domain: PublicDomain, target: str, positive: str,
         seed: int) -> float | None:
    y = (fit_frame[target].astype(object) == positive).to_numpy().astype(int)
    if len(np.unique(y)) < 2:
        return None  # a single class cannot train a classifier: no utility for this target
    model = HistGradientBoostingClassifier(random_state=seed, categorical_features="from_dtype")
    model.fit(_features(fit_frame, domain, target), y)
    y_test = (test[target].astype(object) == positive).to_numpy().astype(int)
    return float(roc_auc_score(y_test, model.predict_proba(_features(test, domain, target))[:, 1]))


def tstr_auc(data: UtilityData, synthetic: pd.DataFrame) -> list[UtilityResult]:
    """``tstr_auc_gap`` (gated), ``tstr_auc`` and ``trtr_auc`` for ``data.target``, tested on the holdout."""
    train, holdout, domain, target, seed = data.train, data.holdout, data.domain, data.target, data.seed
    spec = domain.columns.get(target) if target else None
    if not isinstance(spec, CategoricalColumn):
        note = "no categorical data.target declared" if target is None or spec is None else "target is numeric"
        return [UtilityResult("tstr_auc_gap", None, "lower_is_better", details={"skipped": note})]
    positive = spec.values[-1]
    y_test = (holdout[target].astype(object) == positive).to_numpy()
    n_pos, n_neg = int(y_test.sum()), int((~y_test).sum())
    if n_pos == 0 or n_neg == 0:
        return [UtilityResult("tstr_auc_gap", None, "lower_is_better",
                              details={"skipped": "the holdout has a single target class"})]
    trtr = _auc(row_sample(train, seed, MAX_FIT_ROWS), holdout, domain, target, positive, seed)
    tstr = _auc(row_sample(synthetic, seed + 1, MAX_FIT_ROWS), holdout, domain, target, positive, seed)
    tstr_value = 0.5 if tstr is None else tstr  # a one-class synthetic target predicts nothing
    gap = float(trtr - tstr_value)
    half = 1.96 * math.sqrt(hanley_mcneil_variance(trtr, n_pos, n_neg)
                            + hanley_mcneil_variance(tstr_value, n_pos, n_neg))
    details = {"target": target, "positive_class": positive, "tstr_auc": tstr, "trtr_auc": trtr,
               "test": "holdout", "test_rows": len(holdout), "model": "HistGradientBoostingClassifier"}
    return [
        UtilityResult("tstr_auc_gap", gap, "lower_is_better", ci=(gap - half, gap + half), details=details),
        UtilityResult("tstr_auc", tstr, "higher_is_better", details={"target": target}),
        UtilityResult("trtr_auc", trtr, "higher_is_better", details={"target": target}),
    ]
