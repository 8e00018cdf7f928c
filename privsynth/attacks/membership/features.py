"""What a shadow-model attacker reads off a synthetic table about one target record.

A single record moves a generator's output only near itself: in the cells of its low-order marginals, in the
tails it extends, and in the synthetic rows that land close to it. So the features are the target's slice of
the usual summaries (Stadler et al. 2022; Houssiau et al. 2022; Meeus et al. 2023), each a share of synthetic
rows so tables of any size compare:

* ``near@r``: synthetic rows within distance r of the target (public-domain encoding; a category mismatch
  alone costs sqrt(2), so r=0.1 means "same categories, numbers within 10% of their public range");
  ``closest``: distance of the closest synthetic row;
* ``cell:a``: the 1-way histogram at the target's cell of column a; ``cell:a*b``: the 2-way contingency table
  at the target's cell pair (the local part of every correlation the generator learnt); ``cells>=all-1`` and
  ``cells=all``: rows matching the target on every cell but at most one, and on all of them;
* ``tail:a``: for a number, the share of synthetic rows at least as far out as the target on its side of
  the reference population's median (an outlier that is trained on stretches the tail); for a missing value,
  the share of synthetic rows missing there too.

Global summaries (means, overall correlations) are left out on purpose: they do not say WHICH record moved
them, and a classifier shared by all targets would learn noise from them.

At person level a target is a PERSON and their rows go in or out together, so every row's slice moves with the
same coin. A person's features are the MEAN of their rows' features: the shifts of all their rows add up while
each slice's own noise averages out, where a maximum would keep one row and discard the rest (and "closest"
points the other way: for it the member direction is the minimum). Each feature is then ranked within its
target across runs (shadow.py), so the mean's level does not matter, only its movement. A one-row person gets
exactly their row's features.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privsynth.attacks.membership import neighbours
from privsynth.data.domain import PublicDomain
from privsynth.threat_model import NumericColumn

RADII = (0.1, 1.0, 1.5)


@dataclass(frozen=True)
class TargetView:
    """The targets as the features need them, computed once in the pipeline and shipped to every task."""

    vectors: neighbours.Encoded  # the targets in the distance encoding
    codes: np.ndarray         # targets x columns, integer cell codes
    numbers: np.ndarray       # targets x numeric columns (NaN = missing)
    upper_side: np.ndarray    # targets x numeric columns: at or above the reference median
    numeric_columns: tuple[str, ...]
    #: person level: each target row's target (0..persons-1); None when every row is its own target
    owners: np.ndarray | None = None

    @classmethod
    def build(cls, targets: pd.DataFrame, reference: pd.DataFrame, domain: PublicDomain,
              owners: np.ndarray | None = None) -> "TargetView":
        numeric = tuple(n for n, s in domain.columns.items() if isinstance(s, NumericColumn))
        numbers = np.column_stack([pd.to_numeric(targets[n], errors="coerce").to_numpy(float) for n in numeric]) \
            if numeric else np.empty((len(targets), 0))
        medians = np.array([np.nanmedian(pd.to_numeric(reference[n], errors="coerce").to_numpy(float))
                            for n in numeric])
        codes, _ = domain.encode(targets)
        return cls(neighbours.encode(targets, domain), codes, numbers, numbers >= medians[None, :], numeric, owners)

    def __len__(self) -> int:
        return len(self.codes)


def feature_names(domain: PublicDomain) -> list[str]:
    names = domain.names
    numeric = [n for n, s in domain.columns.items() if isinstance(s, NumericColumn)]
    pairs = [f"cell:{a}*{b}" for i, a in enumerate(names) for b in names[i + 1:]]
    return ([f"near@{r:g}" for r in RADII] + ["closest"] + [f"cell:{a}" for a in names] + pairs
            + ["cells>=all-1", "cells=all"] + [f"tail:{a}" for a in numeric])


def target_features(synthetic: pd.DataFrame, view: TargetView, domain: PublicDomain) -> np.ndarray:
    """Features (targets x len(feature_names)) of one synthetic table; rows follow ``view``'s targets, or, at
    person level (``view.owners``), its target persons: the mean over each person's rows."""
    rows = _row_features(synthetic, view, domain)
    if view.owners is None:
        return rows
    return mean_by_owner(rows, view.owners)


def mean_by_owner(rows: np.ndarray, owners: np.ndarray) -> np.ndarray:
    """The mean of ``rows`` (rows x features) over the rows of each owner (owners 0..n-1, each with a row)."""
    count = np.bincount(owners)
    total = np.zeros((len(count), rows.shape[1]))
    np.add.at(total, owners, rows)
    return total / count[:, None]


def _row_features(synthetic: pd.DataFrame, view: TargetView, domain: PublicDomain) -> np.ndarray:
    if len(synthetic) == 0:
        raise ValueError("the generator sampled no rows: a shadow run needs a synthetic table")
    n = len(synthetic)
    distance = np.sqrt(neighbours.squared_distances(view.vectors, neighbours.encode(synthetic, domain)))
    near = np.stack([(distance <= r).sum(1) / n for r in RADII], axis=1)
    closest = distance.min(axis=1)[:, None]

    codes, _ = domain.encode(synthetic)
    upper = np.triu_indices(codes.shape[1], k=1)
    cells = []
    for target_codes in view.codes:
        match = (codes == target_codes[None, :]).astype(float)
        joint = match.T @ match / n
        matched = match.sum(axis=1)
        cells.append(np.concatenate([np.diag(joint), joint[upper],
                                     [(matched >= codes.shape[1] - 1).mean(), (matched == codes.shape[1]).mean()]]))

    numbers = np.column_stack([pd.to_numeric(synthetic[c], errors="coerce").to_numpy(float)
                               for c in view.numeric_columns]) if view.numeric_columns else np.empty((n, 0))
    tails = np.empty((len(view), len(view.numeric_columns)))
    for j in range(len(view.numeric_columns)):
        column = numbers[:, j]
        for t in range(len(view)):
            value = view.numbers[t, j]
            if np.isnan(value):
                tails[t, j] = np.isnan(column).mean()
            elif view.upper_side[t, j]:
                tails[t, j] = (column >= value).mean()
            else:
                tails[t, j] = (column <= value).mean()
    return np.concatenate([near, closest, np.array(cells), tails], axis=1)
