"""Persons with several rows: reading their ids, bounding their contribution, splitting by person.

A person-level guarantee protects everything one person contributes. Neighbouring tables then differ by ALL
rows of one person, and a mechanism's sensitivity is what those rows can move. Without a bound a person may
have hundreds of rows, so each person first keeps at most ``k`` of them (the threat model's public
``privacy.max_rows_per_person``): after that, removing a person removes at most k rows of what the generator
sees, and PrivateData charges for k rows.

Both steps draw from the run's secret, keyed per-person draws (privacy/noise.py ``keyed_uniform``), never from a
stream position: which rows a person keeps depends only on that person's own id and rows, and which side of
the split a person lands on only on their id. So removing one person changes nothing about any other person's
rows, exactly, draw for draw: the neighbouring relation holds after bounding and splitting too. The number of
rows dropped describes the private table and goes to the internal review only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from privsynth.errors import DataError

#: ``keyed(purpose, labels)``: one secret uniform draw in [0, 1) per label (NoiseSource.keyed_uniform)
KeyedDraws = Callable[[str, Sequence[str]], np.ndarray]


@dataclass(frozen=True)
class Bounded:
    """Which source rows survive the contribution bound, and how many were dropped (internal only)."""

    kept: np.ndarray
    rows_dropped: int
    persons_over_bound: int


def person_ids(raw: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """Each row's person id as stripped text; a row without one is refused (it could not be bounded)."""
    if column not in raw.columns:
        raise DataError(f"{source}: data.person_column {column!r} is not a column of the table (name the column "
                        "that holds each row's person id)")
    ids = raw[column].astype("string").str.strip()
    missing = int((ids.isna() | (ids == "")).sum())
    if missing:
        raise DataError(f"{source}: column {column!r} (data.person_column) has {missing} row(s) without a person "
                        "id; fill them (a row must belong to a person to be bounded) or remove those rows")
    return ids.to_numpy(dtype=object)


def bound_contributions(ids: np.ndarray, k: int, keyed: KeyedDraws) -> Bounded:
    """Source row numbers (in source order) of at most ``k`` rows per person.

    A person's j-th row (in source order) gets the secret draw of the label (id, j); the person keeps their k
    rows of lowest draw, a uniform random subset of size min(k, their rows). The labels name only the person
    and their own rows, so this choice for one person does not depend on any other person's rows."""
    if k < 1:
        raise ValueError("the contribution bound k must be at least 1")
    frame = pd.DataFrame({"person": ids})
    occurrence = frame.groupby("person", sort=False).cumcount().to_numpy()
    frame["draw"] = keyed("bound", [f"{p}\x1f{j}" for p, j in zip(ids, occurrence)])
    rank = frame.groupby("person", sort=False)["draw"].rank(method="first").to_numpy()
    kept = np.flatnonzero(rank <= k)
    sizes = frame.groupby("person", sort=False).size()
    return Bounded(kept, int(len(ids) - len(kept)), int((sizes > k).sum()))


def assign_holdout_by_person(ids: np.ndarray, holdout_fraction: float,
                             keyed: KeyedDraws) -> tuple[np.ndarray, np.ndarray]:
    """Positions of (train, holdout) rows in ``ids``: every row of a person on the same side, the person in the
    holdout with probability ``holdout_fraction`` by the secret draw of their id alone."""
    if not 0 < holdout_fraction < 1:
        raise DataError(f"data.holdout_fraction {holdout_fraction} must lie strictly between 0 and 1")
    persons, index = np.unique(ids.astype(str), return_inverse=True)
    in_holdout = (keyed("person-split", list(persons)) < holdout_fraction)[index]
    if in_holdout.all() or not in_holdout.any():
        raise DataError(f"a table of {len(persons)} person(s) cannot be split with holdout_fraction "
                        f"{holdout_fraction} (use more persons, or give a separate holdout file in data.holdout)")
    return np.flatnonzero(~in_holdout), np.flatnonzero(in_holdout)


def rows_per_person(ids: np.ndarray) -> pd.Series:
    """Rows per person in the source (before the bound): the person-level attacks group persons by it.
    Describes private data: internal review only."""
    return pd.Series(ids).value_counts()
