"""Aggregates for the reviewer's report: real-against-synthetic marginals and the difference of pairwise
associations. Only aggregates leave this module, and small cells are suppressed.

The "real" side is the holdout (never used to fit the generator), cut into the same public bins as the
utility metrics. A share computed from fewer than ``min_cell`` real rows is not shown on its own: those cells
are merged into one "other (small cells)" bar on both sides, the usual statistical-disclosure rule, so a bar
of the report can never point at a handful of people.
"""
from __future__ import annotations

import itertools
from typing import Any, Sequence

import numpy as np
import pandas as pd

from privsynth.data.domain import ColumnCoder, PublicDomain
from privsynth.evaluation.marginals import EVALUATION_BINS, row_sample

MIN_CELL = 10
SMALL_CELLS = "other (small cells)"


def _labels(coder: ColumnCoder) -> list[str]:
    if coder.kind == "categorical":
        labels = list(coder.values)
    else:
        edges = coder.edges
        number = "{:.0f}" if coder.kind == "integer" else "{:.3g}"
        labels = [f"{number.format(edges[i])}–{number.format(edges[i + 1])}" for i in range(len(edges) - 1)]
    if coder.missing_code is not None:
        labels.append("missing")
    return labels


def marginal_shares(reference: pd.DataFrame, synthetic: pd.DataFrame, domain: PublicDomain,
                    columns: Sequence[str], min_cell: int = MIN_CELL) -> dict[str, dict[str, Any]]:
    """Per column: category (or public bin) labels with the real and the synthetic share of each, cells
    with fewer than ``min_cell`` real rows merged into one bar, and the column's TVD."""
    coders = domain.coders(bins=EVALUATION_BINS)
    out: dict[str, dict[str, Any]] = {}
    for column in columns:
        coder = coders[column]
        real = np.bincount(coder.encode(reference[column]), minlength=coder.size).astype(float)
        syn = np.bincount(coder.encode(synthetic[column]), minlength=coder.size).astype(float)
        labels = _labels(coder)
        shown = real >= min_cell
        real_share, syn_share = real / max(real.sum(), 1.0), syn / max(syn.sum(), 1.0)
        entry = {"labels": [labels[i] for i in np.flatnonzero(shown)],
                 "real": [float(real_share[i]) for i in np.flatnonzero(shown)],
                 "synthetic": [float(syn_share[i]) for i in np.flatnonzero(shown)],
                 "tvd": float(0.5 * np.abs(real_share - syn_share).sum()),
                 "suppressed_cells": int((~shown).sum())}
        if (~shown).any():
            entry["labels"].append(SMALL_CELLS)
            entry["real"].append(float(real_share[~shown].sum()))
            entry["synthetic"].append(float(syn_share[~shown].sum()))
        out[column] = entry
    return out


def _cramers_v(a: np.ndarray, b: np.ndarray, size_a: int, size_b: int) -> float:
    table = np.zeros((size_a, size_b))
    np.add.at(table, (a, b), 1.0)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    if min(table.shape) < 2:
        return 0.0
    n = table.sum()
    expected = table.sum(1, keepdims=True) * table.sum(0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def association_matrices(reference: pd.DataFrame, synthetic: pd.DataFrame,
                         domain: PublicDomain, seed: int = 0) -> dict[str, Any]:
    """Cramér's V of every pair of columns (public bins) in the real holdout and in the synthetic table.
    One measure for every column type, so categorical and numeric columns share one heatmap. Cost:
    O(columns^2 x rows), each table cut to a seeded sample of at most ``marginals.MAX_ROWS`` rows first."""
    reference, synthetic = row_sample(reference, seed), row_sample(synthetic, seed + 1)
    names = domain.names
    ref_codes, coders = domain.encode(reference, bins=EVALUATION_BINS)
    syn_codes, _ = domain.encode(synthetic, bins=EVALUATION_BINS)
    k = len(names)
    real, syn = np.eye(k), np.eye(k)
    for i, j in itertools.combinations(range(k), 2):
        si, sj = coders[names[i]].size, coders[names[j]].size
        real[i, j] = real[j, i] = _cramers_v(ref_codes[:, i], ref_codes[:, j], si, sj)
        syn[i, j] = syn[j, i] = _cramers_v(syn_codes[:, i], syn_codes[:, j], si, sj)
    return {"columns": names, "real": real.round(4).tolist(), "synthetic": syn.round(4).tolist(),
            "measure": "Cramér's V on public bins"}
