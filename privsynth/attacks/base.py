"""What every attack receives, and the one shape it returns.

An attack is a plain function ``attack(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]``.
Attacks see tables, never models or generators. The same function is run three times by the pipeline:
on the candidate synthetic table, on a null control (holdout rows the attack has never seen, posing as the
synthetic table: the risk must come out near zero) and on a positive control (training rows posing as it:
the attack must fire). Attacks only measure; thresholds and pass/fail are the gate's business.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.results import AttackResult


@dataclass(frozen=True)
class AttackData:
    """The attacker's view. ``members`` are training rows (the targets); ``control`` are holdout rows of the
    same size, never used to fit the generator (non-members, and anonymeter's control set). All frames have
    the canonical dtypes of ``domain.cast`` (pandas Categorical with the public categories, int64/Int64, float)."""

    members: pd.DataFrame
    control: pd.DataFrame
    domain: PublicDomain
    known_columns: tuple[str, ...]
    secret_columns: tuple[str, ...]
    n_attacks: int
    seed: int


Attack = Callable[[AttackData, pd.DataFrame], list[AttackResult]]

#: the most synthetic rows an attack compares with (anonymeter's attacks and the distance attack): a larger
#: candidate is attacked through a seeded uniform sample of this size, so those attacks cost the same from
#: 50,000 rows up. The bundled Adult and Bank Marketing candidates (about 39,000 and 36,000 rows) stay whole.
MAX_SYNTHETIC_ROWS = 50_000


def synthetic_sample(synthetic: pd.DataFrame, seed: int, limit: int = MAX_SYNTHETIC_ROWS) -> pd.DataFrame:
    """``synthetic`` itself, or a seeded uniform sample of ``limit`` of its rows (in their original order)."""
    if len(synthetic) <= limit:
        return synthetic
    rows = np.sort(np.random.default_rng([seed, 0x5A5]).choice(len(synthetic), limit, replace=False))
    return synthetic.iloc[rows].reset_index(drop=True)
