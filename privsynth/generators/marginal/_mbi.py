"""Adapter to Private-PGM (``mbi`` 1.1.0): the only file that imports it.

Private-PGM turns noisy marginals into a graphical model (mirror descent over the marginal polytope). That is
post-processing of DP measurements. We do NOT use mbi 1.1.0's ``synthetic_data``: it conditions new columns
on the measured cliques rather than on the junction tree's maximal cliques, and its rounding sampler ranks
rows by position, so two columns drawn from the same parents come out comonotone (anchors.md, first pitfall).
``MarginalModel.sample`` draws every row independently along the junction tree instead.
"""
from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np

from privsynth.privacy.private_data import NoisyMarginal

log = logging.getLogger(__name__)


class MarginalModel:
    """A fitted graphical model. It has seen noisy measurements only."""

    def __init__(self, mrf, sizes: Mapping[str, int], cliques: tuple[tuple[str, ...], ...]) -> None:
        self._mrf = mrf
        self.columns: tuple[str, ...] = tuple(sizes)
        self._sizes = dict(sizes)
        self._cliques = cliques

    @property
    def cliques(self) -> tuple[tuple[str, ...], ...]:
        """Maximal cliques of the junction tree, in a sampling order (running intersection holds)."""
        return self._cliques

    def marginal(self, columns: Sequence[str]) -> np.ndarray:
        """Estimated probabilities over ``columns`` (axes in the given order), summing to 1."""
        factor = self._mrf.project(tuple(columns))
        values = np.asarray(factor.values, dtype=float)
        order = [list(factor.domain.attributes).index(c) for c in columns]
        values = np.clip(np.transpose(values, order), 0.0, None)
        total = values.sum()
        return values / total if total > 0 else np.full(values.shape, 1.0 / values.size)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows of integer codes (columns in ``self.columns`` order), each drawn independently.

        The first maximal clique is drawn jointly; every next clique draws its new columns from
        P(new | separator) given the row's already-drawn separator values.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        codes = np.full((n, len(self.columns)), -1, dtype=np.int64)
        drawn: list[str] = []
        for clique in self._cliques:
            separator = [c for c in clique if c in drawn]
            new = [c for c in clique if c not in drawn]
            if not new:
                continue
            joint = self.marginal(separator + new)
            new_shape = tuple(self._sizes[c] for c in new)
            table = joint.reshape(-1, int(np.prod(new_shape)))
            if separator:
                sep_index = np.ravel_multi_index(tuple(codes[:, self.columns.index(c)] for c in separator),
                                                 tuple(self._sizes[c] for c in separator))
            else:
                sep_index = np.zeros(n, dtype=np.int64)
            fallback = table.sum(axis=0)
            flat_new = np.empty(n, dtype=np.int64)
            for value in np.unique(sep_index):
                rows = np.flatnonzero(sep_index == value)
                flat_new[rows] = rng.choice(table.shape[1], size=len(rows), p=_conditional(table[value], fallback))
            for column, column_codes in zip(new, np.unravel_index(flat_new, new_shape)):
                codes[:, self.columns.index(column)] = column_codes
            drawn.extend(new)
        return codes


def _conditional(row: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Normalise a row of the joint into P(new | separator); an empty row falls back to P(new)."""
    row = np.nan_to_num(np.clip(row, 0.0, None))
    if row.sum() <= 0:
        row = np.clip(fallback, 0.0, None)
    if row.sum() <= 0:
        return np.full(len(row), 1.0 / len(row))
    return row / row.sum()


def estimate_model(sizes: Mapping[str, int], measurements: Sequence[NoisyMarginal], iters: int = 1000) -> MarginalModel:
    """Private-PGM mirror descent from noisy marginals. The total is the minimum-variance combination of the
    measurements' noisy sums (never the private row count)."""
    from mbi import Domain, LinearMeasurement, junction_tree
    from mbi.estimation import mirror_descent

    domain = Domain(tuple(sizes), tuple(int(s) for s in sizes.values()))
    linear = []
    for m in measurements:
        unknown = [c for c in m.columns if c not in sizes]
        if unknown:
            raise ValueError(f"measurement over {m.columns} names unknown columns {unknown}")
        if not m.sigma > 0:
            raise ValueError(f"measurement over {m.columns}: sigma must be positive")
        shape = tuple(sizes[c] for c in m.columns)
        counts = np.asarray(m.counts, dtype=float)
        if counts.size != int(np.prod(shape)):
            raise ValueError(f"measurement over {m.columns}: {counts.size} counts for a marginal of shape {shape}")
        # mbi orders a clique's axes canonically (domain order): transpose our counts to match
        canonical = domain.canonical(m.columns)
        axes = [list(m.columns).index(c) for c in canonical]
        linear.append(LinearMeasurement(np.transpose(counts.reshape(shape), axes).ravel(), canonical, m.sigma))
    mrf = mirror_descent(domain, linear, iters=iters)
    cliques = [tuple(m.columns) for m in measurements] + [(c,) for c in sizes]
    tree, _ = junction_tree.make_junction_tree(domain, cliques)
    order = tuple(tuple(c) for c in junction_tree.maximal_cliques(tree))
    log.info("Private-PGM model: %d maximal cliques, total %.0f", len(order), float(mrf.total))
    return MarginalModel(mrf, sizes, order)
