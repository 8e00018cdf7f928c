"""Marginal fidelity: mean total-variation distance (TVD) of 1-way and 2-way marginals, and AIM's workload error.

Numbers are cut into equal-width bins over the PUBLIC bounds (16, like shared/benchmarks/yardstick.py), a
missing value is its own category. The reference table is the holdout: it was never used to fit the
generator, so published utility figures do not describe the training rows the DP guarantee protects.
The interval is a percentile bootstrap that resamples both tables (conservative: see below).

Cost: every 1-way and 2-way marginal of both tables, for the estimate and each of 40 bootstrap draws:
O(columns^2 x 41 x (reference rows + synthetic rows)) in weighted histograms of keys computed once per marginal. Each table is first cut to a seeded sample of at most
``MAX_ROWS`` rows (a TVD from 50,000 rows is within about 0.005 of the whole table's on the bundled tables'
marginals), so the cost stops growing with the rows there; Adult's and Bank Marketing's tables stay whole.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from privsynth.data import sample
from privsynth.data.domain import PublicDomain
from privsynth.evaluation.registry import UtilityData
from privsynth.results import UtilityResult

EVALUATION_BINS = 16
MAX_ROWS = 50_000


def row_sample(frame: pd.DataFrame, seed: int, limit: int = MAX_ROWS) -> pd.DataFrame:
    """``frame`` itself, or a seeded uniform sample of ``limit`` of its rows (in their original order)."""
    return sample.row_sample(frame, seed, limit, stream=0xE5A)


def _marginal(codes: np.ndarray, sizes: np.ndarray, cols: tuple[int, ...], rows: np.ndarray) -> np.ndarray:
    key = np.ravel_multi_index(tuple(codes[rows, j] for j in cols), tuple(sizes[list(cols)]))
    hist = np.bincount(key, minlength=int(np.prod(sizes[list(cols)]))).astype(float)
    return hist / max(hist.sum(), 1.0)


def _mean_tvd(a: np.ndarray, b: np.ndarray, sizes: np.ndarray, sets: list[tuple[int, ...]],
              rows_a: np.ndarray, rows_b: np.ndarray) -> tuple[float, np.ndarray]:
    per_set = np.array([0.5 * np.abs(_marginal(a, sizes, s, rows_a) - _marginal(b, sizes, s, rows_b)).sum()
                        for s in sets])
    return float(per_set.mean()), per_set


def mean_tvd(reference: pd.DataFrame, synthetic: pd.DataFrame, domain: PublicDomain, order: int) -> float:
    """Mean TVD over ALL marginals of ``order`` columns (no interval; for benchmarks and sweeps)."""
    ref_codes, coders = domain.encode(reference, bins=EVALUATION_BINS)
    syn_codes, _ = domain.encode(synthetic, bins=EVALUATION_BINS)
    sizes = np.array([coders[n].size for n in domain.names])
    sets = list(itertools.combinations(range(len(domain.names)), order))
    return _mean_tvd(ref_codes, syn_codes, sizes, sets, np.arange(len(ref_codes)), np.arange(len(syn_codes)))[0]


def workload_error(reference: pd.DataFrame, synthetic: pd.DataFrame, domain: PublicDomain, degree: int = 3) -> float:
    """The AIM paper's workload error: mean L1 distance between normalised marginals over all ``degree``-way
    marginals, i.e. twice their mean TVD."""
    return 2.0 * mean_tvd(reference, synthetic, domain, degree)


def _bootstrap_counts(rng: np.random.Generator, n_ref: int, n_syn: int, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """Row multiplicities of ``draws`` bootstrap resamples of both tables (draws x rows), row 0 the tables
    themselves: resampling n rows with replacement IS counting how often each row was drawn, so a resampled
    marginal is a weighted histogram of the same keys (``_tvds``) and no resampled table is ever built."""
    ref, syn = [np.ones(n_ref)], [np.ones(n_syn)]
    for _ in range(draws):
        ref.append(np.bincount(rng.integers(0, n_ref, n_ref), minlength=n_ref).astype(float))
        syn.append(np.bincount(rng.integers(0, n_syn, n_syn), minlength=n_syn).astype(float))
    return np.stack(ref), np.stack(syn)


#: the most cells x draws one weighted histogram holds at once (8 bytes each): larger ones go in chunks
CHUNK_CELLS = 4_000_000


def _weighted_marginals(codes: np.ndarray, sizes: np.ndarray, cols: tuple[int, ...], weights: np.ndarray) -> np.ndarray:
    """The normalised marginal on ``cols`` under each row of ``weights`` (draws x cells), in one bincount per
    chunk of draws: keys offset by draw, so the draws' histograms sit side by side."""
    cells = int(np.prod(sizes[list(cols)]))
    key = np.ravel_multi_index(tuple(codes[:, j] for j in cols), tuple(sizes[list(cols)]))
    out = np.empty((len(weights), cells))
    step = max(1, CHUNK_CELLS // cells)
    for start in range(0, len(weights), step):
        chunk = weights[start:start + step]
        offsets = (np.arange(len(chunk)) * cells)[:, None] + key[None, :]
        out[start:start + len(chunk)] = np.bincount(offsets.ravel(), weights=chunk.ravel(),
                                                    minlength=cells * len(chunk)).reshape(len(chunk), cells)
    return out / np.maximum(out.sum(axis=1, keepdims=True), 1.0)


def _tvds(ref_codes: np.ndarray, syn_codes: np.ndarray, sizes: np.ndarray, sets: list[tuple[int, ...]],
          ref_weights: np.ndarray, syn_weights: np.ndarray) -> np.ndarray:
    """TVD of every marginal in ``sets`` under every draw (sets x draws)."""
    return np.array([0.5 * np.abs(_weighted_marginals(ref_codes, sizes, s, ref_weights)
                                  - _weighted_marginals(syn_codes, sizes, s, syn_weights)).sum(axis=1) for s in sets])


def marginal_tvd(data: UtilityData, synthetic: pd.DataFrame, n_bootstrap: int = 40) -> list[UtilityResult]:
    """``tvd_1way`` and ``tvd_2way`` of ``synthetic`` against the holdout, with bootstrap intervals. Each
    marginal's key is computed once and its 40 resamples are weighted histograms of it: diabetes' 1,225
    pairs took 7 minutes as 41 rebuilt tables each (bench/speed.py)."""
    domain, seed = data.domain, data.seed
    reference, synthetic = row_sample(data.holdout, seed), row_sample(synthetic, seed + 1)
    ref_codes, coders = domain.encode(reference, bins=EVALUATION_BINS)
    syn_codes, _ = domain.encode(synthetic, bins=EVALUATION_BINS)
    sizes = np.array([coders[n].size for n in domain.names])
    k = len(domain.names)
    rng = np.random.default_rng([seed, 0x7D])
    results = []
    for order, sets in ((1, [(j,) for j in range(k)]), (2, list(itertools.combinations(range(k), 2)))):
        ref_weights, syn_weights = _bootstrap_counts(rng, len(ref_codes), len(syn_codes), n_bootstrap)
        table = _tvds(ref_codes, syn_codes, sizes, sets, ref_weights, syn_weights)
        per_set, boots = table[:, 0], table[:, 1:].mean(axis=0)
        value = float(per_set.mean())
        worst = np.argsort(-per_set)[:5]
        results.append(UtilityResult(
            name=f"tvd_{order}way", value=value, direction="lower_is_better",
            # resampling inflates a TVD, so the bootstrap sits above the estimate: keep its upper end
            # (conservative for the gate) and let the interval start at the estimate at the latest
            ci=(min(value, float(np.quantile(boots, 0.025))), float(np.quantile(boots, 0.975))),
            details={"bins": EVALUATION_BINS, "n_marginals": len(sets), "reference": "holdout",
                     "n_bootstrap": n_bootstrap, "rows_compared": [len(ref_codes), len(syn_codes)],
                     "worst": {"|".join(domain.names[j] for j in sets[i]): float(per_set[i]) for i in worst}},
        ))
    return results
