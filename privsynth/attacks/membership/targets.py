"""The shadow attack's plan: which records it attacks, and against which population.

Targets are the most isolated training rows (or a seeded random draw, or rows the threat model names by their
0-based row number in the source). The attacker's population is the holdout without any target. The review
may say of a target only its source row number and isolation score, never its values.

At person level (``privacy.unit: person``) a target is a PERSON with all of their kept rows (at most k): the
most isolated training persons (vulnerable.py ``pick_target_persons``: a person is as isolated as their most
isolated row), a seeded random draw of persons, or the persons of the rows the threat model names. The review
then says of a target its source row numbers, row count and isolation, never its values or its person id.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privsynth.attacks.base import FitAndSample, ShadowSetup, TaskMapper
from privsynth.attacks.membership.vulnerable import pick_target_persons, pick_targets
from privsynth.data.domain import PublicDomain
from privsynth.data.inputs import Persons
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
                       progress: Progress | None = None, persons: Persons | None = None) -> ShadowSetup:
    """The shadow attack's inputs. ``train_rows`` / ``holdout_rows``: source row numbers of the two tables
    (``holdout_rows`` None when the holdout came from its own file). ``persons``: given when the unit of privacy
    is the person (its ``max_rows_per_person`` set): targets are then persons (``_plan_by_person``)."""
    if persons is not None and persons.max_rows_per_person is not None:
        return _plan_by_person(train, holdout, train_rows, holdout_rows, spec, domain, seed, fit_and_sample,
                               map_tasks, delta, progress, persons)
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


def _plan_by_person(train: pd.DataFrame, holdout: pd.DataFrame, train_rows: np.ndarray | None,
                    holdout_rows: np.ndarray | None, spec: ShadowSpec, domain: PublicDomain, seed: int,
                    fit_and_sample: FitAndSample, map_tasks: TaskMapper, delta: float, progress: Progress | None,
                    persons: Persons) -> ShadowSetup:
    """Person targets: every kept row of each target person, ``owners`` saying whose it is, and a population
    (holdout rows) that holds no row of any target person."""
    keep = np.ones(len(holdout), dtype=bool)
    if spec.target_rows:
        chosen, from_holdout = _named_persons(list(spec.target_rows), persons, train_rows, holdout_rows)
        isolation: dict[str, float | None] = {p: None for p in chosen}
        keep = ~np.isin(persons.holdout, list(from_holdout))
    else:
        chosen, scores = pick_target_persons(train, persons.train, domain, spec.targets, spec.selection, seed)
        isolation = {p: round(float(scores[p]), 4) for p in chosen}
    frames: list[pd.DataFrame] = []
    owners: list[int] = []
    described: dict[str, list[Any]] = {"source_rows": [], "rows": [], "isolation": []}
    for number, person in enumerate(chosen):
        in_train = np.flatnonzero(persons.train == person)
        if len(in_train):
            rows, numbers = train.iloc[in_train], (train_rows[in_train] if train_rows is not None else in_train)
        else:
            in_holdout = np.flatnonzero(persons.holdout == person)
            rows = holdout.iloc[in_holdout]
            numbers = holdout_rows[in_holdout] if holdout_rows is not None else in_holdout
        frames.append(rows)
        owners += [number] * len(rows)
        described["source_rows"].append([int(r) for r in numbers])
        described["rows"].append(len(rows))
        described["isolation"].append(isolation[person])
    targets = pd.concat(frames, ignore_index=True)
    population = holdout[keep].reset_index(drop=True)
    if spec.train_size > len(population):
        raise DataError(f"attacks.shadow.train_size {spec.train_size} exceeds the {len(population)} holdout rows the "
                        "attacker draws shadow training sets from; lower it or raise data.holdout_fraction")
    if spec.train_size <= len(targets):
        raise DataError(f"attacks.shadow.train_size {spec.train_size} must exceed the {len(targets)} rows of the "
                        f"{len(chosen)} target persons (all of them may be in one shadow training set); raise it or "
                        "lower attacks.shadow.targets")
    return ShadowSetup(targets, population, described, fit_and_sample, map_tasks, spec.shadow_runs,
                       spec.train_size, spec.synthetic_rows or 5 * spec.train_size,
                       "target_rows" if spec.target_rows else spec.selection, delta, progress,
                       owners=np.asarray(owners, dtype=np.int64), rows_per_person=persons.max_rows_per_person)


def _named_persons(rows: list[int], persons: Persons, train_rows: np.ndarray | None,
                   holdout_rows: np.ndarray | None) -> tuple[list[str], set[str]]:
    """The persons of the source rows the threat model names (each once, in the order named), and those of
    them in the holdout (their rows leave the attacker's population)."""
    in_train = {int(r): i for i, r in enumerate(train_rows)} if train_rows is not None else {}
    in_holdout = {int(r): i for i, r in enumerate(holdout_rows)} if holdout_rows is not None else {}
    chosen: list[str] = []
    from_holdout: set[str] = set()
    for row in rows:
        if row in in_train:
            person = str(persons.train[in_train[row]])
        elif row in in_holdout:
            person = str(persons.holdout[in_holdout[row]])
            from_holdout.add(person)
        else:
            raise DataError(f"attacks.shadow.target_rows: row {row} is not a kept row of data.source (rows are "
                            "numbered from 0; at person level a row the contribution bound dropped, "
                            "privacy.max_rows_per_person, cannot be a target: name another row of that person)")
        if person not in chosen:
            chosen.append(person)
    return chosen, from_holdout
