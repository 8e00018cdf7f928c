"""The shadow attack's plan: which records it attacks, and against which population.

Targets are the most isolated training rows (or a seeded random draw, or rows the threat model names by their
0-based row number in the source). The attacker's population is the holdout without any target. The review
may say of a target only its source row number and isolation score, never its values.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privsynth.attacks.base import FitAndSample, ShadowSetup, TaskMapper
from privsynth.attacks.membership.vulnerable import pick_targets
from privsynth.data.domain import PublicDomain
from privsynth.errors import DataError
from privsynth.parallel import Progress
from privsynth.threat_model import ShadowSpec


def _named_targets(train: pd.DataFrame, holdout: pd.DataFrame, rows: list[int], train_rows: np.ndarray | None,
                   holdout_rows: np.ndarray | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows the threat model names, and which holdout rows they take out of the population."""
    in_train = {int(r): i for i, r in enumerate(train_rows)} if train_rows is not None else {}
    in_holdout = {int(r): i for i, r in enumerate(holdout_rows)} if holdout_rows is not None else {}
    keep = np.ones(len(holdout), dtype=bool)
    picked = []
    for row in rows:
        if row in in_train:
            picked.append(train.iloc[[in_train[row]]])
        elif row in in_holdout:
            picked.append(holdout.iloc[[in_holdout[row]]])
            keep[in_holdout[row]] = False
        else:
            total = len(train) + len(holdout) if holdout_rows is not None else len(train)
            raise DataError(f"attacks.shadow.target_rows: row {row} is not a row of data.source ({total} rows, "
                            "numbered from 0)")
    return pd.concat(picked, ignore_index=True), keep


def plan_shadow_attack(train: pd.DataFrame, holdout: pd.DataFrame, train_rows: np.ndarray | None,
                       holdout_rows: np.ndarray | None, spec: ShadowSpec, domain: PublicDomain, seed: int,
                       fit_and_sample: FitAndSample, map_tasks: TaskMapper, delta: float,
                       progress: Progress | None = None) -> ShadowSetup:
    """The shadow attack's inputs. ``train_rows`` / ``holdout_rows``: source row numbers of the two tables
    (``holdout_rows`` None when the holdout came from its own file)."""
    if spec.target_rows:
        targets, keep = _named_targets(train, holdout, list(spec.target_rows), train_rows, holdout_rows)
        described: dict[str, list[Any]] = {"source_row": list(spec.target_rows),
                                           "isolation": [None] * len(targets)}
    else:
        positions, isolation = pick_targets(train, domain, spec.targets, spec.selection, seed)
        targets, keep = train.iloc[positions].reset_index(drop=True), np.ones(len(holdout), dtype=bool)
        source_rows = train_rows[positions] if train_rows is not None else positions
        described = {"source_row": [int(r) for r in source_rows],
                     "isolation": [round(float(isolation[p]), 4) for p in positions]}
    population = holdout[keep].reset_index(drop=True)
    if spec.train_size > len(population):
        raise DataError(f"attacks.shadow.train_size {spec.train_size} exceeds the {len(population)} holdout rows the "
                        "attacker draws shadow training sets from; lower it or raise data.holdout_fraction")
    return ShadowSetup(targets, population, described, fit_and_sample, map_tasks, spec.shadow_runs,
                       spec.train_size, spec.synthetic_rows or 5 * spec.train_size,
                       "target_rows" if spec.target_rows else spec.selection, delta, progress)
