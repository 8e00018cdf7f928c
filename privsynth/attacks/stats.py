"""Interval estimates the attacks report: DeLong for an AUC, Wilson and Clopper-Pearson for a proportion."""
from __future__ import annotations

import math

import numpy as np
from scipy.stats import beta, rankdata

from privsynth.results import Curve

Z95 = 1.959963984540054


def _midrank_placements(positives: np.ndarray, negatives: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components: for each positive, the share of negatives it beats (ties 1/2)."""
    all_scores = np.concatenate([positives, negatives])
    ranks_all = rankdata(all_scores)
    ranks_pos, ranks_neg = rankdata(positives), rankdata(negatives)
    m, n = len(positives), len(negatives)
    v10 = (ranks_all[:m] - ranks_pos) / n          # for each positive
    v01 = 1.0 - (ranks_all[m:] - ranks_neg) / m    # for each negative
    return v10, v01


def auc_with_delong_ci(positives: np.ndarray, negatives: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Mann-Whitney AUC (ties count 1/2) and its 95% DeLong interval, clipped to [0, 1]."""
    positives, negatives = np.asarray(positives, float), np.asarray(negatives, float)
    if len(positives) < 2 or len(negatives) < 2:
        raise ValueError("an AUC interval needs at least two scores per class")
    v10, v01 = _midrank_placements(positives, negatives)
    auc = float(v10.mean())
    variance = v10.var(ddof=1) / len(v10) + v01.var(ddof=1) / len(v01)
    half = Z95 * math.sqrt(max(variance, 0.0))
    return auc, (max(0.0, auc - half), min(1.0, auc + half))


def wilson_interval(successes: float, n: int) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (well behaved near 0 and 1)."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = successes / n
    denominator = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denominator
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def mann_whitney_auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """Share of (positive, negative) pairs ranked the right way round, ties counting 1/2."""
    positives, negatives = np.asarray(positives, float), np.asarray(negatives, float)
    ranks = rankdata(np.concatenate([positives, negatives]))
    m, n = len(positives), len(negatives)
    return float((ranks[:m].sum() - m * (m + 1) / 2) / (m * n))


def clopper_pearson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval (Clopper & Pearson 1934) from beta quantiles; (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if successes == 0 else float(beta.ppf(tail, successes, n - successes + 1))
    high = 1.0 if successes == n else float(beta.ppf(1.0 - tail, successes + 1, n - successes))
    return low, high


def roc_points(positives: np.ndarray, negatives: np.ndarray, max_points: int = 60) -> Curve:
    """The ROC curve of scores (higher = "member"), thinned to at most ``max_points`` thresholds for a plot.
    Only rates leave this function, never a score of a single record."""
    scores = np.concatenate([np.asarray(positives, float), np.asarray(negatives, float)])
    thresholds = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, max_points)))[::-1]
    fpr = [0.0] + [float(np.mean(negatives >= t)) for t in thresholds] + [1.0]
    tpr = [0.0] + [float(np.mean(positives >= t)) for t in thresholds] + [1.0]
    return Curve(tuple(fpr), tuple(tpr))


def blind_mean_auc_half_width(held_out_runs: int, targets: int) -> float:
    """Half-width of the 95% interval of a mean over ``targets`` per-target AUCs when the attack is blind (true
    AUC 0.5), each AUC comparing the held-out runs with the target in against those without (about half each).

    Under the null a Mann-Whitney AUC of n1 against n2 scores has variance (n1 + n2 + 1) / (12 n1 n2); each
    target joins each run by its own fair coin, so the targets' AUCs are close to independent and their mean's
    variance is that over ``targets``. Checked against the shadow attack's run bootstrap on blind scores
    (tests/attacks/test_membership.py): within a few thousandths at 20 held-out runs."""
    n1 = n2 = held_out_runs / 2
    return Z95 * math.sqrt((n1 + n2 + 1) / (12 * n1 * n2) / targets)
