"""Attribute inference (anonymeter): knowing every non-secret attribute of a person, guess each secret column
from the nearest synthetic record, on training rows against unseen control rows. This is the strongest
attacker of the threat model (quasi-identifiers alone leave too few unique rows for the attack to see, so
its positive control would not fire).

Cost: per secret column, for each of ``n_attacks`` members and control rows, the nearest synthetic row on all
other columns (anonymeter's exact Gower search): O(secrets x n_attacks x min(synthetic rows, 50,000) x columns).
A larger candidate is attacked through a seeded sample of 50,000 rows (``attacks.base.MAX_SYNTHETIC_ROWS``).
"""
from __future__ import annotations

import pandas as pd

from privsynth.attacks import _anonymeter
from privsynth.attacks.base import AttackData, synthetic_sample
from privsynth.results import AttackResult
from privsynth.threat_model import CategoricalColumn


def attribute_inference(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    frames = [_anonymeter.anonymeter_frame(f, data.domain)
              for f in (data.members, synthetic_sample(synthetic, data.seed), data.control)]
    n_attacks = min(data.n_attacks, len(data.members), len(data.control))
    aux = [c for c in data.domain.names if c not in data.secret_columns]
    results = []
    for secret in data.secret_columns:
        if secret not in data.domain.names:
            continue
        regression = not isinstance(data.domain.columns[secret], CategoricalColumn)
        results.append(_anonymeter.inference(*frames, aux_cols=aux, secret=secret,
                                             regression=regression, n_attacks=n_attacks, seed=data.seed))
    return results
