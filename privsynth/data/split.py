"""The train/holdout split: every row independently, by the run's secret randomness.

The holdout is the attacks' control population and the utility checks' reference; it never reaches the
generator. How the split is drawn matters for the DP claim. A seeded permutation of ``range(n)`` (what this
once was) reshuffles everything when one row is added: the training sets of D and of D plus one row then
differ in hundreds of rows, not one, and nothing bounds what the release reveals about the difference.

Here each row goes to the holdout with probability ``holdout_fraction``, by its own uniform draw from the
run's secret generator (privacy/noise.py). The draws are independent and identically distributed, so the
training set is a Poisson subsample of the table whatever its order: for neighbouring tables the two
training sets differ by at most the one row (in distribution; with the same generator and a row appended,
row by row). The generator is keyed by a fresh secret nonce, so the split is neither public nor repeated.
"""
from __future__ import annotations

import numpy as np

from privsynth.errors import DataError


def assign_holdout(n: int, holdout_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Source row numbers of (train, holdout), each in source order. Row ``i``'s side depends only on the
    ``i``-th draw of ``rng``, so appending rows never moves an earlier one."""
    if not 0 < holdout_fraction < 1:
        raise DataError(f"data.holdout_fraction {holdout_fraction} must lie strictly between 0 and 1")
    in_holdout = rng.random(n) < holdout_fraction
    if in_holdout.all() or not in_holdout.any():
        raise DataError(f"a table of {n} row(s) cannot be split with holdout_fraction {holdout_fraction} "
                        "(use more rows, or give a separate holdout file in data.holdout)")
    return np.flatnonzero(~in_holdout), np.flatnonzero(in_holdout)
