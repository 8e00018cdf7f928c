"""Seeded train/holdout split. The holdout is the control population for attacks and utility checks."""
from __future__ import annotations

import numpy as np
import pandas as pd

from privsynth.errors import DataError


def split_train_holdout(frame: pd.DataFrame, holdout_fraction: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle with ``seed`` and cut; both parts keep at least one row."""
    train_rows, holdout_rows = split_positions(len(frame), holdout_fraction, seed)
    return frame.iloc[train_rows].reset_index(drop=True), frame.iloc[holdout_rows].reset_index(drop=True)


def split_positions(n: int, holdout_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Source row numbers of (train, holdout), each in source order: lets a threat model name a record by its
    row in the source table (shadow-attack targets) after the split."""
    n_holdout = int(round(n * holdout_fraction))
    if n_holdout < 1 or n - n_holdout < 1:
        raise DataError(f"a table of {n} row(s) cannot be split with holdout_fraction {holdout_fraction} "
                        "(use more rows, or give a separate holdout file in data.holdout)")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_holdout:]), np.sort(order[:n_holdout])
