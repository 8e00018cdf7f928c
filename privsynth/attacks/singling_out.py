"""Singling-out (anonymeter): can predicates learnt from the synthetic table isolate exactly one training
individual more often than one unseen individual? Univariate and multivariate predicates."""
from __future__ import annotations

import pandas as pd

from privsynth.attacks import _anonymeter
from privsynth.attacks.base import AttackData
from privsynth.results import AttackResult


def singling_out(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    frames = [_anonymeter.anonymeter_frame(f, data.domain) for f in (data.members, synthetic, data.control)]
    n_cols = min(3, len(data.domain.names))
    return [_anonymeter.singling_out(*frames, mode=mode, n_attacks=data.n_attacks, n_cols=n_cols, seed=data.seed)
            for mode in ("univariate", "multivariate")]
