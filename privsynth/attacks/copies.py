"""Exact copies: synthetic rows identical, in every column, to a training record, beyond the rate at which
they coincide with unseen records of the same population (same-size sets, so the rates compare).

Cost: one hash per row of every table, then set lookups: O(rows x columns), linear in the synthetic rows
(all of them are checked, however many)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from privsynth.attacks.base import AttackData
from privsynth.attacks.stats import Z95
from privsynth.results import AttackResult


def row_hashes(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    canonical = pd.DataFrame({c: frame[c].astype(object).where(frame[c].notna(), "<NA>").astype(str)
                              for c in columns})
    return pd.util.hash_pandas_object(canonical, index=False).to_numpy()


def exact_copies(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    columns = data.domain.names
    syn = row_hashes(synthetic, columns)
    copies_member = np.isin(syn, row_hashes(data.members, columns)).astype(float)
    copies_control = np.isin(syn, row_hashes(data.control, columns)).astype(float)
    difference = copies_member - copies_control
    estimate = float(difference.mean())
    half = Z95 * float(difference.std(ddof=1)) / math.sqrt(len(difference)) if len(difference) > 1 else 0.0
    return [AttackResult(
        name="exact_copies", estimate=estimate, ci=(estimate - half, estimate + half), n=len(syn), baseline=0.0,
        details={"copy_rate_members": float(copies_member.mean()), "copy_rate_control": float(copies_control.mean())})]
