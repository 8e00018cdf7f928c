"""Distance-based membership inference: a training record tends to lie closer to the synthetic table than an
unseen one when the generator memorises. Rows are compared in the public-domain encoding (numbers scaled by
their PUBLIC range, categories one-hot), so the attack itself learns nothing from the private table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from privsynth.attacks.base import AttackData
from privsynth.attacks.stats import auc_with_delong_ci, roc_points, wilson_interval
from privsynth.results import AttackResult, Histogram

MAX_SYNTHETIC_FOR_SHARE = 5000


def nearest_distances(queries: np.ndarray, reference: np.ndarray, chunk: int = 512) -> np.ndarray:
    """Exact Euclidean distance from each query row to its nearest reference row (chunked matrix products)."""
    ref_sq = (reference * reference).sum(axis=1)
    out = np.empty(len(queries))
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk]
        d2 = (block * block).sum(axis=1)[:, None] + ref_sq[None, :] - 2.0 * block @ reference.T
        out[start:start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out


def dcr_histogram(to_train: np.ndarray, to_holdout: np.ndarray, bins: int = 30) -> Histogram:
    """Counts of synthetic rows by distance to their closest training and closest holdout row, on shared
    bins (the report's DCR plot): distances only, never which row was closest."""
    top = float(np.quantile(np.concatenate([to_train, to_holdout]), 0.99)) or 1.0
    edges = np.linspace(0.0, top, bins + 1)
    return Histogram(tuple(edges.tolist()),
                     tuple(np.histogram(np.minimum(to_train, top), edges)[0].astype(float).tolist()),
                     tuple(np.histogram(np.minimum(to_holdout, top), edges)[0].astype(float).tolist()))


def distance_membership(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    encode = data.domain.distance_features
    members, control, syn = encode(data.members), encode(data.control), encode(synthetic)
    d_members, d_control = nearest_distances(members, syn), nearest_distances(control, syn)
    auc, auc_ci = auc_with_delong_ci(-d_members, -d_control)
    threshold = np.quantile(-d_control, 0.9)
    tpr_at_fpr_10 = float(np.mean(-d_members > threshold))
    auc_result = AttackResult(
        name="membership_distance_auc", estimate=auc, ci=auc_ci, n=len(members) + len(control), baseline=0.5,
        roc=roc_points(-d_members, -d_control),
        details={"median_dcr_members": float(np.median(d_members)), "median_dcr_non_members": float(np.median(d_control)),
                 "tpr_at_fpr_0.1": tpr_at_fpr_10, "score": "minus distance to the closest synthetic row"})

    rng = np.random.default_rng([data.seed, 0xDC2])
    rows = rng.choice(len(syn), size=min(len(syn), MAX_SYNTHETIC_FOR_SHARE), replace=False)
    to_members, to_control = nearest_distances(syn[rows], members), nearest_distances(syn[rows], control)
    closer = (to_members < to_control - 1e-12).sum() + 0.5 * (np.abs(to_members - to_control) <= 1e-12).sum()
    share_result = AttackResult(
        name="dcr_closer_to_train", estimate=float(closer / len(rows)), ci=wilson_interval(closer, len(rows)),
        n=len(rows), baseline=0.5, histogram=dcr_histogram(to_members, to_control),
        details={"synthetic_rows_compared": len(rows), "ties_count": "1/2"})
    return [auc_result, share_result]
