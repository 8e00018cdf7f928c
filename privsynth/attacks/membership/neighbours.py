"""Nearest-neighbour distances in the public-domain encoding, without building the one-hot table.

The distance attacks compare rows as ``PublicDomain.distance_features`` encodes them: numbers scaled by their
PUBLIC range (missing = -1) and one-hot categories (missing = a category of its own), Euclidean distance. Two
one-hot blocks differ in exactly two cells when their categories differ, so

    distance^2 = sum over numbers of (x - y)^2 + 2 * (number of categorical columns that differ),

which is what this module computes. Columns with at most ``WIDE`` categories keep their one-hot block (one
matrix product with the numbers, the fastest way numpy has); wider ones are compared code against code, since
their one-hot blocks would make the table rows x (sum of category counts) doubles: 17 GB for 800,000 diabetes
rows (three ICD-9 columns of 700+ codes), where their codes take a few MB.

Cost: every query row against every reference row, in blocks: O(queries x references x (numbers + small
one-hot width + wide columns)), memory O(block x references). Callers bound both sides with stated samples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.threat_model import CategoricalColumn

#: categorical columns with more codes than this are compared code against code instead of one-hot
WIDE = 128
BLOCK = 512


@dataclass(frozen=True)
class Encoded:
    """Rows in the compact form: a dense part (numbers scaled by their public range, and the one-hot blocks of
    the categorical columns with at most ``WIDE`` codes) and the codes of the wider categorical columns (a
    missing value is a code of its own)."""

    dense: np.ndarray
    wide: np.ndarray

    def __len__(self) -> int:
        return len(self.dense)

    def take(self, rows: np.ndarray) -> "Encoded":
        return Encoded(self.dense[rows], self.wide[rows])


def encode(frame: pd.DataFrame, domain: PublicDomain) -> Encoded:
    """The compact encoding of ``frame``: distances between its rows equal those of ``distance_features``."""
    dense, wide = [], []
    for name, spec in domain.columns.items():
        series = frame[name]
        if isinstance(spec, CategoricalColumn):
            codes = pd.Categorical(series, categories=spec.values).codes.astype(np.int32)
            codes = np.where(codes < 0, len(spec.values), codes)
            if len(spec.values) + 1 > WIDE:
                wide.append(codes)
            else:
                dense.append(np.eye(len(spec.values) + 1)[codes])
        else:
            x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            z = (np.clip(x, spec.min, spec.max) - spec.min) / (spec.max - spec.min)
            dense.append(np.where(np.isnan(z), -1.0, z)[:, None])
    n = len(frame)
    return Encoded(np.concatenate(dense, axis=1) if dense else np.zeros((n, 0)),
                   np.stack(wide, axis=1) if wide else np.zeros((n, 0), np.int32))


def squared_distances(queries: Encoded, reference: Encoded) -> np.ndarray:
    """Squared distances (queries x reference), clipped at 0: one matrix product for the dense part
    (|x|^2 + |y|^2 - 2 x.y), then 2 for every wide column whose codes differ, all in place."""
    d2 = queries.dense @ reference.dense.T
    d2 *= -2.0
    d2 += (queries.dense ** 2).sum(1)[:, None]
    d2 += (reference.dense ** 2).sum(1)[None, :]
    for j in range(queries.wide.shape[1]):
        np.add(d2, 2.0, out=d2, where=queries.wide[:, j, None] != reference.wide[None, :, j])
    return np.maximum(d2, 0.0, out=d2)


def nearest(queries: Encoded, reference: Encoded, k: int = 1, skip_self: bool = False,
            owners: np.ndarray | None = None) -> np.ndarray:
    """Distances from each query row to its ``k`` nearest reference rows (queries x k, ascending).

    ``skip_self``: queries and reference are the same rows, and a row is not its own neighbour. ``owners``
    (with ``skip_self``): each row's person as an integer code; no row of the same person is a neighbour
    either, so a person's isolation is measured against OTHER persons (their own similar rows would hide
    them otherwise)."""
    out = np.empty((len(queries), k))
    for start in range(0, len(queries), BLOCK):
        block = queries.take(np.arange(start, min(start + BLOCK, len(queries))))
        d2 = squared_distances(block, reference)
        if skip_self:
            d2[np.arange(len(d2)), np.arange(start, start + len(d2))] = np.inf
            if owners is not None:
                d2[owners[start:start + len(d2), None] == owners[None, :]] = np.inf
        part = np.partition(d2, k - 1, axis=1)[:, :k] if k < d2.shape[1] else d2
        out[start:start + len(d2)] = np.sqrt(np.sort(part, axis=1)[:, :k])
    return out
