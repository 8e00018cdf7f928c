"""Singling-out (anonymeter): can predicates learnt from the synthetic table isolate exactly one training
individual more often than one unseen individual? Univariate and multivariate predicates.

Cost: anonymeter builds up to 20 x ``n_attacks`` candidate predicates from the synthetic table, each checked
against the whole synthetic table, then evaluates the kept ones on the members and the control rows
(``sample_size`` each): O(n_attacks x min(synthetic rows, 50,000) x columns). A larger candidate is attacked
through a seeded sample of 50,000 rows (``attacks.base.MAX_SYNTHETIC_ROWS``).
When the threat model names a person column the targets are persons: one seeded row per person on each side
(``attacks.base.anonymeter_targets``), so the risk counts persons, not rows, and a person with many rows weighs
once; the result's details say ``unit: person`` and how many persons each side held.
"""
from __future__ import annotations

import pandas as pd

from privsynth.attacks import _anonymeter
from privsynth.attacks.base import AttackData, anonymeter_targets, synthetic_sample, with_unit
from privsynth.results import AttackResult


def singling_out(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    members, control, unit = anonymeter_targets(data)
    frames = [_anonymeter.anonymeter_frame(f, data.domain)
              for f in (members, synthetic_sample(synthetic, data.seed), control)]
    n_cols = min(3, len(data.domain.names))
    return [with_unit(_anonymeter.singling_out(*frames, mode=mode, n_attacks=data.n_attacks, n_cols=n_cols,
                                               seed=data.seed), unit)
            for mode in ("univariate", "multivariate")]
