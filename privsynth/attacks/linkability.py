"""Linkability (anonymeter): an attacker holding the quasi-identifiers (the known columns) in one source and
the remaining columns in another uses the synthetic table to link records of the same person.

Cost: for each of ``n_attacks`` members and control rows, the 10 nearest synthetic rows on each half of the
columns (anonymeter's exact Gower search): O(n_attacks x min(synthetic rows, 50,000) x columns). A larger
candidate is attacked through a seeded sample of 50,000 rows (``attacks.base.MAX_SYNTHETIC_ROWS``).
When the threat model names a person column the targets are persons: one seeded row per person on each side
(``attacks.base.anonymeter_targets``), so the risk counts persons, not rows, and a person with many rows weighs
once; the result's details say ``unit: person`` and how many persons each side held.
"""
from __future__ import annotations

import pandas as pd

from privsynth.attacks import _anonymeter
from privsynth.attacks.base import AttackData, anonymeter_targets, synthetic_sample, with_unit
from privsynth.results import AttackResult


def linkability(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    known = [c for c in data.known_columns if c in data.domain.names]
    rest = [c for c in data.domain.names if c not in known]
    if not known or not rest:
        return []
    members, control, unit = anonymeter_targets(data)
    frames = [_anonymeter.anonymeter_frame(f, data.domain)
              for f in (members, synthetic_sample(synthetic, data.seed), control)]
    n_attacks = min(data.n_attacks, len(members), len(control))
    return [with_unit(_anonymeter.linkability(*frames, aux_cols=(known, rest), n_attacks=n_attacks,
                                              seed=data.seed), unit)]
