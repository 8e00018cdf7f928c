"""Seeded row samples: how attacks and utility measures keep their cost flat beyond a stated number of rows."""
from __future__ import annotations

import numpy as np
import pandas as pd


def row_sample(frame: pd.DataFrame, seed: int, limit: int, stream: int) -> pd.DataFrame:
    """``frame`` itself, or a seeded uniform sample of ``limit`` of its rows (in their original order).

    ``stream`` separates the users of one seed (an attack and a utility measure draw different rows)."""
    if len(frame) <= limit:
        return frame
    rows = np.sort(np.random.default_rng([seed, stream]).choice(len(frame), limit, replace=False))
    return frame.iloc[rows].reset_index(drop=True)
