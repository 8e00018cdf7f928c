"""Which records to attack: the isolated ones.

Membership attacks on random records say little: most records sit in dense regions a generator reproduces
whether or not they were trained on. The records that leak are outliers (Stadler et al. 2022; Meeus et al.
2023), so targets are ranked by isolation, the mean distance to their k nearest neighbours in the public-domain
encoding (numbers scaled by their PUBLIC range, categories one-hot).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from privsynth.data.domain import PublicDomain

Selection = Literal["isolated", "random"]


def isolation_scores(frame: pd.DataFrame, domain: PublicDomain, k: int = 5, chunk: int = 512) -> np.ndarray:
    """Mean Euclidean distance from each row to its ``k`` nearest OTHER rows of ``frame`` (higher = more
    isolated). Exact, in chunks of ``chunk`` rows, so memory stays at chunk x len(frame)."""
    if len(frame) <= k:
        raise ValueError(f"isolation needs more than k={k} rows (got {len(frame)})")
    x = domain.distance_features(frame)
    squared = (x * x).sum(axis=1)
    out = np.empty(len(x))
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk]
        d2 = squared[start:start + chunk, None] + squared[None, :] - 2.0 * block @ x.T
        d2[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf  # not its own neighbour
        nearest = np.partition(np.maximum(d2, 0.0), k - 1, axis=1)[:, :k]
        out[start:start + chunk] = np.sqrt(nearest).mean(axis=1)
    return out


def pick_targets(frame: pd.DataFrame, domain: PublicDomain, n: int, selection: Selection, seed: int,
                 k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Positions of ``n`` target rows of ``frame`` and every row's isolation score.

    ``isolated``: the n most isolated rows (ties broken by position); ``random``: a seeded uniform draw, the
    comparison that shows whether outliers are the ones at risk."""
    scores = isolation_scores(frame, domain, k=k)
    n = min(n, len(frame))
    if selection == "isolated":
        chosen = np.argsort(-scores, kind="stable")[:n]
    else:
        chosen = np.random.default_rng([seed, 0x7A6]).choice(len(frame), size=n, replace=False)
    return np.asarray(chosen, dtype=np.int64), scores

