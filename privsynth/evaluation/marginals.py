"""Marginal fidelity: mean total-variation distance (TVD) of 1-way and 2-way marginals, and AIM's workload error.

Numbers are cut into equal-width bins over the PUBLIC bounds (16, like shared/benchmarks/yardstick.py), a
missing value is its own category. The reference table is the holdout: it was never used to fit the
generator, so published utility figures do not describe the training rows the DP guarantee protects.
The interval is a percentile bootstrap that resamples both tables (conservative: see below).

Cost: every 1-way and 2-way marginal of both tables, for the estimate and each of 40 bootstrap draws:
O(41 x columns^2 x (reference rows + synthetic rows)). Each table is first cut to a seeded sample of at most
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


def marginal_tvd(data: UtilityData, synthetic: pd.DataFrame, n_bootstrap: int = 40) -> list[UtilityResult]:
    """``tvd_1way`` and ``tvd_2way`` of ``synthetic`` against the holdout, with bootstrap intervals."""
    domain, seed = data.domain, data.seed
    reference, synthetic = row_sample(data.holdout, seed), row_sample(synthetic, seed + 1)
    ref_codes, coders = domain.encode(reference, bins=EVALUATION_BINS)
    syn_codes, _ = domain.encode(synthetic, bins=EVALUATION_BINS)
    sizes = np.array([coders[n].size for n in domain.names])
    k = len(domain.names)
    rng = np.random.default_rng([seed, 0x7D])
    results = []
    for order, sets in ((1, [(j,) for j in range(k)]), (2, list(itertools.combinations(range(k), 2)))):
        all_ref, all_syn = np.arange(len(ref_codes)), np.arange(len(syn_codes))
        value, per_set = _mean_tvd(ref_codes, syn_codes, sizes, sets, all_ref, all_syn)
        boots = [_mean_tvd(ref_codes, syn_codes, sizes, sets,
                           rng.integers(0, len(ref_codes), len(ref_codes)),
                           rng.integers(0, len(syn_codes), len(syn_codes)))[0] for _ in range(n_bootstrap)]
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
