"""Which records to attack: the isolated ones.

Membership attacks on random records say little: most records sit in dense regions a generator reproduces
whether or not they were trained on. The records that leak are outliers (Stadler et al. 2022; Meeus et al.
2023), so targets are ranked by isolation, the mean distance to their k nearest neighbours in the public-domain
encoding (numbers scaled by their PUBLIC range, categories one-hot).

Cost: every candidate row against every other, O(candidates^2 x columns) (neighbours.py). On a table of more
than ``MAX_CANDIDATES`` training rows, the candidates are a seeded uniform sample of that many rows, and a
row's isolation is measured among them: the targets are then the most isolated rows of the sample (a row's
distance to its 5 nearest neighbours in a sample of a fraction f of the table behaves like its distance to
about 5/f neighbours in the whole table: the same ranking, smoothed). 20,000 candidates cost about 10 s of CPU
for Adult's 15 columns and 21 s for diabetes' 50 (three of them ICD-9 codes compared code against code);
50,000 cost diabetes about 150 s of CPU (bench/speed.py, 2026-12-02).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from privsynth.attacks.membership import neighbours
from privsynth.data.domain import PublicDomain

Selection = Literal["isolated", "random"]


MAX_CANDIDATES = 20_000


def isolation_scores(frame: pd.DataFrame, domain: PublicDomain, k: int = 5) -> np.ndarray:
    """Mean Euclidean distance from each row to its ``k`` nearest OTHER rows of ``frame`` (higher = more
    isolated). Exact, in blocks, so memory stays at a block of rows x len(frame)."""
    if len(frame) <= k:
        raise ValueError(f"isolation needs more than k={k} rows (got {len(frame)})")
    rows = neighbours.encode(frame, domain)
    return neighbours.nearest(rows, rows, k=k, skip_self=True).mean(axis=1)


def pick_targets(frame: pd.DataFrame, domain: PublicDomain, n: int, selection: Selection, seed: int,
                 k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``n`` target rows of ``frame`` and the isolation score of every row (NaN for rows outside
    the candidates of a table larger than ``MAX_CANDIDATES``).

    ``isolated``: the n most isolated candidates (ties broken by position); ``random``: a seeded uniform draw
    among them, the comparison that shows whether outliers are the ones at risk."""
    pool = np.arange(len(frame)) if len(frame) <= MAX_CANDIDATES else \
        np.sort(np.random.default_rng([seed, 0x150]).choice(len(frame), MAX_CANDIDATES, replace=False))
    scores = np.full(len(frame), np.nan)
    scores[pool] = isolation_scores(frame.iloc[pool], domain, k=k)
    n = min(n, len(pool))
    if selection == "isolated":
        chosen = pool[np.argsort(-scores[pool], kind="stable")[:n]]
    else:
        chosen = pool[np.random.default_rng([seed, 0x7A6]).choice(len(pool), size=n, replace=False)]
    return np.asarray(chosen, dtype=np.int64), scores



def pick_target_persons(frame: pd.DataFrame, ids: np.ndarray, domain: PublicDomain, n: int, selection: Selection,
                        seed: int, k: int = 5) -> tuple[np.ndarray, pd.Series]:
    """``n`` target PERSONS of ``frame`` (``ids``: each row's person) and the isolation of every candidate person.

    A person's isolation is that of their MOST isolated row, each row measured against the rows of OTHER persons
    (a patient's own encounters resemble each other and would hide them). The maximum, not the mean: the
    person-level guarantee must hold for the person's most exposed row, and a mean would dilute one outlying
    encounter with ordinary ones. ``isolated``: the n most isolated candidate persons (ties broken by the order of
    first appearance); ``random``: a seeded uniform draw among them.

    On a table of more than ``MAX_CANDIDATES`` rows the candidates are whole persons, drawn in a seeded order
    until their rows would exceed that many, so a candidate person is always measured with all of their rows."""
    codes, first = pd.factorize(pd.Series(ids, dtype=object))
    if len(frame) <= MAX_CANDIDATES:
        pool = np.arange(len(frame))
    else:
        order = np.random.default_rng([seed, 0x151]).permutation(len(first))
        sizes = np.bincount(codes, minlength=len(first))[order]
        chosen_persons = order[np.cumsum(sizes) <= MAX_CANDIDATES]
        pool = np.flatnonzero(np.isin(codes, chosen_persons))
    rows = neighbours.encode(frame.iloc[pool], domain)
    row_isolation = neighbours.nearest(rows, rows, k=k, skip_self=True, owners=codes[pool]).mean(axis=1)
    isolation = pd.Series(row_isolation).groupby(codes[pool], sort=False).max()
    isolation.index = first[isolation.index]
    n = min(n, len(isolation))
    if selection == "isolated":
        chosen = isolation.index[np.argsort(-isolation.to_numpy(), kind="stable")[:n]]
    else:
        chosen = isolation.index[np.random.default_rng([seed, 0x7A7]).choice(len(isolation), size=n, replace=False)]
    return np.asarray(chosen, dtype=object), isolation
