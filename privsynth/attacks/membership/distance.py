"""Distance-based membership inference: a training record tends to lie closer to the synthetic table than an
unseen one when the generator memorises. Rows are compared in the public-domain encoding (numbers scaled by
their PUBLIC range, categories one-hot), so the attack itself learns nothing from the private table.

Cost: the members and the control rows (``attacks.sample_size`` each) against at most ``MAX_SYNTHETIC_ROWS``
synthetic rows (a seeded sample of a larger table), plus ``MAX_SYNTHETIC_FOR_SHARE`` synthetic rows against the
members and the control rows for the closer-to-train share: O(sample_size x min(synthetic rows, 50,000) x
columns) time, O(block x 50,000) memory (neighbours.py), flat beyond 50,000 synthetic rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from privsynth.attacks.base import AttackData, synthetic_sample
from privsynth.attacks.membership import neighbours
from privsynth.attacks.stats import auc_with_delong_ci, roc_points, wilson_interval
from privsynth.results import AttackResult, Histogram

MAX_SYNTHETIC_FOR_SHARE = 5000


def dcr_histogram(to_train: np.ndarray, to_holdout: np.ndarray, bins: int = 30) -> Histogram:
    """Counts of synthetic rows by distance to their closest training and closest holdout row, on shared
    bins (the report's DCR plot): distances only, never which row was closest."""
    top = float(np.quantile(np.concatenate([to_train, to_holdout]), 0.99)) or 1.0
    edges = np.linspace(0.0, top, bins + 1)
    return Histogram(tuple(edges.tolist()),
                     tuple(np.histogram(np.minimum(to_train, top), edges)[0].astype(float).tolist()),
                     tuple(np.histogram(np.minimum(to_holdout, top), edges)[0].astype(float).tolist()))


def distance_membership(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    compared = synthetic_sample(synthetic, data.seed)
    members, control = neighbours.encode(data.members, data.domain), neighbours.encode(data.control, data.domain)
    syn = neighbours.encode(compared, data.domain)
    d_members, d_control = neighbours.nearest(members, syn)[:, 0], neighbours.nearest(control, syn)[:, 0]
    auc, auc_ci = auc_with_delong_ci(-d_members, -d_control)
    threshold = np.quantile(-d_control, 0.9)
    tpr_at_fpr_10 = float(np.mean(-d_members > threshold))
    auc_result = AttackResult(
        name="membership_distance_auc", estimate=auc, ci=auc_ci, n=len(members) + len(control), baseline=0.5,
        roc=roc_points(-d_members, -d_control),
        details={"median_dcr_members": float(np.median(d_members)), "median_dcr_non_members": float(np.median(d_control)),
                 "tpr_at_fpr_0.1": tpr_at_fpr_10, "score": "minus distance to the closest synthetic row",
                 "synthetic_rows_compared": len(compared)})

    rng = np.random.default_rng([data.seed, 0xDC2])
    rows = rng.choice(len(syn), size=min(len(syn), MAX_SYNTHETIC_FOR_SHARE), replace=False)
    to_members, to_control = neighbours.nearest(syn.take(rows), members)[:, 0], \
        neighbours.nearest(syn.take(rows), control)[:, 0]
    closer = (to_members < to_control - 1e-12).sum() + 0.5 * (np.abs(to_members - to_control) <= 1e-12).sum()
    share_result = AttackResult(
        name="dcr_closer_to_train", estimate=float(closer / len(rows)), ci=wilson_interval(closer, len(rows)),
        n=len(rows), baseline=0.5, histogram=dcr_histogram(to_members, to_control),
        details={"synthetic_rows_compared": len(rows), "ties_count": "1/2"})
    return [auc_result, share_result]
