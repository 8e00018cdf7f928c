"""Empirical epsilon: a statistical LOWER bound on the privacy loss, from a membership attack's error rates.

An (epsilon, delta)-DP mechanism forces every membership test to satisfy FPR + e^eps * FNR >= 1 - delta and
FNR + e^eps * FPR >= 1 - delta (Kairouz et al. 2015). Count the attack's errors on held-out shadow runs, bound
the true rates from above with one-sided Clopper-Pearson at alpha/2 each (so both hold together with
probability 1 - alpha), and

    eps_lo = max( ln((1 - delta - FNR_hi) / FPR_hi),  ln((1 - delta - FPR_hi) / FNR_hi) )

is an epsilon the mechanism must exceed with 95% confidence. The decision threshold is chosen on the training
runs' out-of-fold scores (the one maximising the bound there) and applied once to the held-out runs, so the
counts are not tuned on themselves. If eps_lo is above the claimed epsilon, the implementation is wrong (noise
off or too small, sensitivity or accounting bug): a correct DP mechanism cannot produce that result except
with probability alpha.

The trials pool several targets of each shadow run. Runs are independent and each target's inclusion is an
independent fair coin, but targets of one run share a fit, so their errors are not independent Bernoulli
trials and the Clopper-Pearson bound above is only an approximation. The GATED figure is therefore the bound
of Steinke, Nasr & Jagielski (NeurIPS 2023, attacks/one_run.py), which is proved for exactly this case: every
held-out (run, target) pair is a canary whose inclusion is a fair coin, the mechanism (all held-out fits) is
(epsilon, delta)-DP in each coin, the guess is "in" above the threshold chosen on the training runs (which do
not depend on the held-out coins), and the right guesses among all held-out pairs are compared with a
Binomial tail. The Kairouz figures stay in the details, labelled as assuming independent pairs.

One more fact the bound must respect: a shadow training set has a fixed size, so a target's coin does not add
or remove one row, it swaps the target for a population row (given the other coins, the filler rows are a
uniform random subset, so "out" is "in" with the target replaced by a random filler). Under the add/remove
neighbouring of the claim that is two steps: a correct (epsilon, delta) mechanism is (2 epsilon,
(1 + e^epsilon) delta)-DP in each coin, and the gated bound is computed for that (``group=2``), which makes
it a bound on the add/remove epsilon the claim is about (half what the same guesses would show for one
step). The canary audit (attacks/canary.py) adds canaries to a fixed base, one step each.

The bound is only as strong as the number of trials: every result reports ``max_certifiable``, what a perfect
attack could have shown here (60 held-out pairs all right: 1.5; 300: 2.3), and the gate adds the accuracy an
exactly-claimed mechanism permits and whether the audit is only a smoke test (checks.RANGE_OF_INTEREST).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq
from scipy.stats import beta, norm

from privsynth.attacks.membership.shadow import ShadowScores
from privsynth.attacks.one_run import epsilon_lower_bound as one_run_bound
from privsynth.results import AttackResult

EMPIRICAL_EPSILON = "empirical_epsilon"


def clopper_pearson_upper(errors: int, trials: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson upper bound on an error rate."""
    if trials <= 0 or errors >= trials:
        return 1.0
    return float(beta.ppf(1.0 - alpha, errors + 1, trials - errors))


def epsilon_lower_bound(false_positives: int, negatives: int, false_negatives: int, positives: int,
                        delta: float, alpha: float = 0.05) -> tuple[float, float, float]:
    """(eps_lo, FPR_hi, FNR_hi) at joint confidence 1 - alpha; eps_lo is 0 when the errors prove nothing."""
    fpr_hi = clopper_pearson_upper(false_positives, negatives, alpha / 2)
    fnr_hi = clopper_pearson_upper(false_negatives, positives, alpha / 2)
    bounds = [0.0]
    for error_hi, other_hi in ((fpr_hi, fnr_hi), (fnr_hi, fpr_hi)):
        if 1.0 - delta - other_hi > 0 and error_hi > 0:
            bounds.append(math.log((1.0 - delta - other_hi) / error_hi))
    return max(bounds), fpr_hi, fnr_hi


def gaussian_dp_epsilon(fpr_hi: float, fnr_hi: float, delta: float) -> tuple[float, float]:
    """(mu_lo, epsilon at delta) if the mechanism's trade-off curve were Gaussian (mu-GDP, Dong et al. 2022).

    Tighter than the generic bound for Gaussian mechanisms but an assumption, so it is reported, never gated."""
    mu = max(0.0, float(norm.ppf(1.0 - fpr_hi) - norm.ppf(fnr_hi)))
    if mu == 0.0:
        return 0.0, 0.0

    def delta_at(epsilon: float) -> float:
        return float(norm.cdf(-epsilon / mu + mu / 2) - math.exp(epsilon) * norm.cdf(-epsilon / mu - mu / 2))

    if delta_at(0.0) <= delta:
        return mu, 0.0
    return mu, float(brentq(lambda e: delta_at(e) - delta, 0.0, 10.0 * mu * mu + 50.0))


def _counts(labels: np.ndarray, scores: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    labels = labels.astype(bool)
    guessed_in = scores > threshold
    return (int((guessed_in & ~labels).sum()), int((~labels).sum()),
            int((~guessed_in & labels).sum()), int(labels.sum()))


def choose_threshold(labels: np.ndarray, scores: np.ndarray, delta: float, alpha: float) -> float:
    """The threshold maximising eps_lo on (out-of-fold) training scores."""
    candidates = np.concatenate([[-np.inf], np.unique(scores)])
    bounds = [epsilon_lower_bound(*_counts(labels, scores, t), delta=delta, alpha=alpha)[0] for t in candidates]
    return float(candidates[int(np.argmax(bounds))])


def empirical_epsilon(scores: ShadowScores, delta: float, alpha: float = 0.05) -> AttackResult:
    """``empirical_epsilon``: estimate and interval are both the one-sided lower bound (there is no upper end):
    the one-run bound on the right guesses among all held-out pairs, valid for targets that share a fit."""
    threshold = choose_threshold(scores.train_labels, scores.train_scores, delta, alpha)
    labels, values = scores.test_labels.reshape(-1), scores.test_scores.reshape(-1)
    fp, negatives, fn, positives = _counts(labels, values, threshold)
    pairs, right = negatives + positives, negatives + positives - fp - fn
    bound = one_run_bound(pairs, pairs, right, delta, alpha, group=2)
    pooled, fpr_hi, fnr_hi = epsilon_lower_bound(fp, negatives, fn, positives, delta, alpha)
    mu, gdp_epsilon = gaussian_dp_epsilon(fpr_hi, fnr_hi, delta)
    details: dict[str, Any] = {
        "bound": "one-run (Steinke, Nasr & Jagielski 2023): right guesses among all held-out (run, target) pairs; "
                 "each coin swaps a target for a population row (group privacy 2)",
        "threshold": threshold, "guesses": pairs, "correct": right, "accuracy": right / pairs if pairs else None,
        "false_positives": fp, "negatives": negatives, "false_negatives": fn, "positives": positives,
        "delta": delta, "confidence": 1 - alpha, "max_certifiable": one_run_bound(pairs, pairs, pairs, delta, alpha, group=2),
        "pooled_pairs_epsilon": pooled, "fpr_upper": fpr_hi, "fnr_upper": fnr_hi,
        "pooled_pairs_assumes": "independent (run, target) pairs (Clopper-Pearson, Kairouz et al.): not gated",
        "gaussian_dp_mu_lower": mu, "gaussian_dp_epsilon": gdp_epsilon}
    return AttackResult(name=EMPIRICAL_EPSILON, estimate=bound, ci=(bound, bound), n=pairs, details=details)
