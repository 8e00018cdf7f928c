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

