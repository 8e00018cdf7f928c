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
