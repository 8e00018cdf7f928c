"""Attribute inference (anonymeter): knowing every non-secret attribute of a person, guess each secret column
from the nearest synthetic record, on training rows against unseen control rows. This is the strongest
attacker of the threat model (quasi-identifiers alone leave too few unique rows for the attack to see, so
its positive control would not fire).

Cost: per secret column, for each of ``n_attacks`` members and control rows, the nearest synthetic row on all
other columns (anonymeter's exact Gower search): O(secrets x n_attacks x min(synthetic rows, 50,000) x columns).
A larger candidate is attacked through a seeded sample of 50,000 rows (``attacks.base.MAX_SYNTHETIC_ROWS``).
When the threat model names a person column the targets are persons: one seeded row per person on each side
(``attacks.base.anonymeter_targets``), so the risk counts persons, not rows, and a person with many rows weighs
once; the result's details say ``unit: person`` and how many persons each side held.
"""
from __future__ import annotations

import pandas as pd

from privsynth.attacks import _anonymeter
from privsynth.attacks.base import AttackData, anonymeter_targets, synthetic_sample, with_unit
from privsynth.results import AttackResult
from privsynth.threat_model import CategoricalColumn


def attribute_inference(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    members, control, unit = anonymeter_targets(data)
    frames = [_anonymeter.anonymeter_frame(f, data.domain)
              for f in (members, synthetic_sample(synthetic, data.seed), control)]
    n_attacks = min(data.n_attacks, len(members), len(control))
    aux = [c for c in data.domain.names if c not in data.secret_columns]
    results = []
    for secret in data.secret_columns:
        if secret not in data.domain.names:
            continue
        regression = not isinstance(data.domain.columns[secret], CategoricalColumn)
        results.append(_anonymeter.inference(*frames, aux_cols=aux, secret=secret,
                                             regression=regression, n_attacks=n_attacks, seed=data.seed))
    return [with_unit(r, unit) for r in results]
