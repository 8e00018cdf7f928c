"""Shadow-model membership inference against the configured generator (Stadler et al. 2022; TAPAS, Houssiau et
al. 2022; Meeus et al. 2023).

The attacker knows the generator's configuration and holds a sample of the population (the reference). For
each shadow run it draws a training set of ``train_size`` rows: every target joins independently with
probability 1/2 and reference rows fill the rest, so ONE fit labels every target at once (in or out) and the
set's size never gives membership away. The generator is fitted on it through the pipeline's factory (so this
module never imports a generator), the synthetic output becomes features per target (``features.py``), and a
random forest shared by all targets learns "in" from "out" on the first half of the runs; it is scored on the
second half, which it never saw. Each feature is first turned into its rank among the same target's training
runs, so one classifier serves targets whose raw feature levels differ by orders of magnitude.

At person level (the threat model's unit is the person) a target is a PERSON: one coin per person puts all of
their kept rows (at most k, the contribution bound) in or out together, never some of them. Reference rows fill
each set to exactly ``train_size`` rows, so neither the size nor a split person gives the coin away. Given the
other coins, "out" is "in" with the person's m <= k rows swapped for m uniformly drawn reference rows: a
removal and an addition of at most k rows each, two steps of the person-level neighbouring the claim is made
for (the release's mechanism charges every query for k rows), which is the group of 2 the epsilon audit
already assumes (audit.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GroupKFold

from privsynth.attacks.base import FitAndSample, TaskMapper, synthetic_only, with_person_key
from privsynth.attacks.membership.features import TargetView, target_features
from privsynth.attacks.stats import auc_with_delong_ci, clopper_pearson, mann_whitney_auc, roc_points
from privsynth.data.domain import PublicDomain
from privsynth.errors import PrivsynthError
from privsynth.parallel import FailedAttempt, Progress
from privsynth.results import AttackResult


@dataclass(frozen=True)
class ShadowTask:
    run: int
    train: pd.DataFrame
    seed: int
    fit_and_sample: FitAndSample
    view: TargetView
    domain: PublicDomain


def run_shadow_task(task: ShadowTask) -> np.ndarray:
    """One shadow run: fit, sample, and the features of every target (targets x features)."""
    return target_features(synthetic_only(task.fit_and_sample(task.train, task.seed)), task.view, task.domain)


def copy_training_rows(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The positive control's "generator": it publishes its training rows (shuffled). An attack that cannot
    tell members from non-members against this is blind, and its verdict on the real generator means nothing."""
    return train.iloc[np.random.default_rng([seed, 0xC0B]).permutation(len(train))].reset_index(drop=True)


@dataclass(frozen=True)
class ShadowRuns:
    """Outcome of all shadow fits: who was in each training set, and what each synthetic table showed."""

    membership: np.ndarray      # runs x targets, bool
    features: np.ndarray        # runs x targets x features
    failed_attempts: tuple[FailedAttempt, ...]
    workers: int
    where: str
    wall_seconds: float


def _run_seed(seed: int, run: int) -> int:
    return int(np.random.SeedSequence([seed, 0x5AD0, run]).generate_state(1)[0])


def draw_training_sets(targets: pd.DataFrame, reference: pd.DataFrame, train_size: int, runs: int,
                       seed: int, owners: np.ndarray | None = None) -> tuple[np.ndarray, list[pd.DataFrame]]:
    """Membership (runs x targets) and each run's training set: the chosen targets plus reference rows, exactly
    ``train_size`` rows in a seeded random order. Seeded per run, so a run never depends on the others.

    ``owners`` (person level): each target row's target person, 0..persons-1; membership is then runs x persons
    and a person's rows are all in or all out of a set."""
    if train_size <= len(targets):
        raise ValueError(f"train_size {train_size} must exceed the number of target rows ({len(targets)})")
    if train_size > len(reference):
        raise ValueError(f"train_size {train_size} exceeds the {len(reference)} reference rows")
    units = len(targets) if owners is None else int(owners.max()) + 1
    membership = np.zeros((runs, units), dtype=bool)
    sets = []
    for run in range(runs):
        rng = np.random.default_rng([seed, 0x5E7, run])
        membership[run] = rng.random(units) < 0.5
        rows_in = membership[run] if owners is None else membership[run][owners]
        filler = rng.choice(len(reference), size=train_size - int(rows_in.sum()), replace=False)
        frame = pd.concat([reference.iloc[np.sort(filler)], targets[rows_in]], ignore_index=True)
        if owners is not None:  # who is whom, for a fit that groups persons (each filler row its own person)
            frame = with_person_key(frame, [f"r{i}" for i in np.sort(filler)] + [f"t{o}" for o in owners[rows_in]])
        sets.append(frame.iloc[rng.permutation(len(frame))].reset_index(drop=True))
    return membership, sets


def run_shadow_models(targets: pd.DataFrame, reference: pd.DataFrame, domain: PublicDomain,
                      fit_and_sample: FitAndSample, train_size: int, runs: int, seed: int, map_tasks: TaskMapper,
                      progress: Progress | None = None, owners: np.ndarray | None = None) -> ShadowRuns:
    """Fit ``runs`` shadow generators, as tasks of ``map_tasks`` (the pipeline's compute cluster). ``owners``:
    person level, each target row's target person (``draw_training_sets``)."""
    membership, sets = draw_training_sets(targets, reference, train_size, runs, seed, owners)
    held_out = membership[runs // 2:].reshape(-1)
    if held_out.sum() < 2 or (~held_out).sum() < 2:  # checked before any fit: the verdict could not be scored
        raise PrivsynthError(f"attacks.shadow: the {runs - runs // 2} held-out runs x {membership.shape[1]} target(s) "
                             f"give {int(held_out.sum())} pairs with the target in and {int((~held_out).sum())} "
                             "without; the attack needs at least 2 of each. Raise attacks.shadow.shadow_runs "
                             "or attacks.shadow.targets")
    view = TargetView.build(targets, reference, domain, owners)
    tasks = [ShadowTask(run, train, _run_seed(seed, run), fit_and_sample, view, domain)
             for run, train in enumerate(sets)]
    outcome = map_tasks(run_shadow_task, tasks, progress, "shadow-run")
    return ShadowRuns(membership, np.stack(outcome.results), outcome.failed_attempts, outcome.workers,
                      outcome.where, outcome.wall_seconds)


@dataclass(frozen=True)
class ShadowScores:
    """Classifier scores: out-of-fold on the training runs (to choose thresholds) and on held-out runs."""

    train_labels: np.ndarray    # flattened (runs x targets)
    train_scores: np.ndarray
    test_labels: np.ndarray     # held-out runs x targets, bool
    test_scores: np.ndarray     # held-out runs x targets


def _rank_within_target(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Each value's mid-rank among the same target's training-run values (runs x targets x features -> [0, 1])."""
    out = np.empty_like(values, dtype=float)
    k = reference.shape[0]
    for t in range(values.shape[1]):
        for f in range(values.shape[2]):
            sorted_ref = np.sort(reference[:, t, f])
            below = np.searchsorted(sorted_ref, values[:, t, f], side="left")
            at_or_below = np.searchsorted(sorted_ref, values[:, t, f], side="right")
            out[:, t, f] = (below + at_or_below) / (2.0 * k)
    return out


def score_runs(runs: ShadowRuns, seed: int, folds: int = 3) -> ShadowScores:
    """Train on the first half of the runs, score the second half; out-of-fold scores (grouped by run, so a
    run's targets never straddle a fold) on the first half choose the thresholds the audit uses."""
    n_train = runs.features.shape[0] // 2
    if n_train < 2 or runs.features.shape[0] - n_train < 2:
        raise ValueError("the shadow attack needs at least 4 runs (2 to train the classifier, 2 to test it)")
    reference = runs.features[:n_train]
    ranked_train = _rank_within_target(reference, reference)
    ranked_test = _rank_within_target(runs.features[n_train:], reference)
    width = ranked_train.shape[2]
    x_train, y_train = ranked_train.reshape(-1, width), runs.membership[:n_train].reshape(-1)
    groups = np.repeat(np.arange(n_train), runs.membership.shape[1])

    def forest() -> RandomForestClassifier:
        return RandomForestClassifier(n_estimators=100, min_samples_leaf=2, max_features="sqrt", n_jobs=1,
                                      random_state=np.random.RandomState(seed % 2**32))

    oof = np.full(len(y_train), 0.5)
    for fit_rows, score_rows in GroupKFold(n_splits=min(folds, n_train)).split(x_train, y_train, groups):
        if len(np.unique(y_train[fit_rows])) == 2:
            oof[score_rows] = forest().fit(x_train[fit_rows], y_train[fit_rows]).predict_proba(x_train[score_rows])[:, 1]
    if len(np.unique(y_train)) < 2:
        raise ValueError("every target was in (or out of) every training run: raise attacks.shadow.shadow_runs")
    model = forest().fit(x_train, y_train)
    test = model.predict_proba(ranked_test.reshape(-1, width))[:, 1].reshape(ranked_test.shape[:2])
    return ShadowScores(y_train, oof, runs.membership[n_train:], test)


def threshold_at_fpr(negative_scores: np.ndarray, fpr: float) -> float:
    """The smallest threshold at which at most a ``fpr`` share of ``negative_scores`` lies strictly above."""
    ordered = np.sort(np.asarray(negative_scores, float))[::-1]
    allowed = int(np.floor(fpr * len(ordered)))
    return float(ordered[allowed]) if allowed < len(ordered) else float(ordered[-1]) - 1.0


def per_target_details(scores: ShadowScores, target_rows: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Held-out AUC per target with its DeLong interval (None when a class has fewer than two runs)."""
    out = []
    for t in range(scores.test_labels.shape[1]):
        labels, values = scores.test_labels[:, t], scores.test_scores[:, t]
        entry: dict[str, Any] = {key: value[t] for key, value in target_rows.items()}
        entry.update(runs_in=int(labels.sum()), runs_out=int((~labels).sum()), auc=None, ci=None)
        if labels.sum() >= 2 and (~labels).sum() >= 2:
            auc, ci = auc_with_delong_ci(values[labels], values[~labels])
            entry.update(auc=auc, ci=[ci[0], ci[1]])
        out.append(entry)
    return out


def _mean_target_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    aucs = [mann_whitney_auc(scores[labels[:, t], t], scores[~labels[:, t], t]) for t in range(labels.shape[1])
            if labels[:, t].any() and (~labels[:, t]).any()]
    return float(np.mean(aucs)) if aucs else float("nan")


def mean_auc_with_bootstrap(scores: ShadowScores, seed: int, resamples: int = 1000) -> tuple[float, tuple[float, float]]:
    """Mean over targets of the held-out AUC, with a 95% percentile interval from resampling held-out RUNS
    (a run's targets share one synthetic table, so runs, not (run, target) pairs, are the independent units)."""
    estimate = _mean_target_auc(scores.test_labels, scores.test_scores)
    rng = np.random.default_rng([seed, 0xB007])
    n = scores.test_labels.shape[0]
    draws = []
    for _ in range(resamples):
        rows = rng.integers(0, n, size=n)
        draws.append(_mean_target_auc(scores.test_labels[rows], scores.test_scores[rows]))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return estimate, (float(low), float(high))


def tpr_at_fpr(scores: ShadowScores, fpr: float) -> dict[str, Any]:
    """TPR on held-out runs at the threshold that gives ``fpr`` on the out-of-fold training scores (so the
    threshold is not tuned on the runs it is judged on); both rates with 95% Clopper-Pearson intervals."""
    threshold = threshold_at_fpr(scores.train_scores[~scores.train_labels.astype(bool)], fpr)
    labels, values = scores.test_labels.reshape(-1), scores.test_scores.reshape(-1)
    hits, false_alarms = int((values[labels] > threshold).sum()), int((values[~labels] > threshold).sum())
    return {"target_fpr": fpr, "threshold": threshold,
            "tpr": hits / max(1, int(labels.sum())), "tpr_ci": list(clopper_pearson(hits, int(labels.sum()))),
            "fpr": false_alarms / max(1, int((~labels).sum())),
            "fpr_ci": list(clopper_pearson(false_alarms, int((~labels).sum())))}


def shadow_result(runs: ShadowRuns, scores: ShadowScores, target_rows: Mapping[str, Any], seed: int,
                  settings: Mapping[str, Any]) -> AttackResult:
    """``shadow_auc``: the mean held-out AUC over targets (bootstrap interval over runs), with the pooled AUC,
    TPR at FPR 0.1 and 0.01, every target's AUC, and every retried task in the details."""
    estimate, ci = mean_auc_with_bootstrap(scores, seed)
    labels, values = scores.test_labels.reshape(-1), scores.test_scores.reshape(-1)
    pooled, pooled_ci = auc_with_delong_ci(values[labels], values[~labels])
    return AttackResult(
        name="shadow_auc", estimate=estimate, ci=ci, n=int(labels.size), baseline=0.5,
        roc=roc_points(values[labels], values[~labels]),
        details={"pooled_auc": pooled, "pooled_auc_ci": list(pooled_ci),
                 "tpr_at_fpr_0.1": tpr_at_fpr(scores, 0.1), "tpr_at_fpr_0.01": tpr_at_fpr(scores, 0.01),
                 "targets": per_target_details(scores, target_rows),
                 "runs": int(runs.membership.shape[0]), "held_out_runs": int(scores.test_labels.shape[0]),
                 "retried_tasks": [vars(f) for f in runs.failed_attempts], "workers": runs.workers,
                 "cluster": runs.where, "wall_seconds": round(runs.wall_seconds, 2), **settings})
