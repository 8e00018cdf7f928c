"""Singling-out (anonymeter): can predicates learnt from the synthetic table isolate exactly one training
individual more often than one unseen individual? Univariate and multivariate predicates.

Cost: anonymeter builds up to 20 x ``n_attacks`` candidate predicates from the synthetic table, each checked
against the whole synthetic table, then evaluates the kept ones on the members and the control rows
(``sample_size`` each): O(n_attacks x min(synthetic rows, 50,000) x columns). A larger candidate is attacked
through a seeded sample of 50,000 rows (``attacks.base.MAX_SYNTHETIC_ROWS``).
"""
from __future__ import annotations

import pandas as pd

from privsynth.attacks import _anonymeter
from privsynth.attacks.base import AttackData, synthetic_sample
from privsynth.results import AttackResult


def singling_out(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    frames = [_anonymeter.anonymeter_frame(f, data.domain)
              for f in (data.members, synthetic_sample(synthetic, data.seed), data.control)]
    n_cols = min(3, len(data.domain.names))
    return [_anonymeter.singling_out(*frames, mode=mode, n_attacks=data.n_attacks, n_cols=n_cols, seed=data.seed)
            for mode in ("univariate", "multivariate")]
