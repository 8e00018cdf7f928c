"""Linkability (anonymeter): an attacker holding the quasi-identifiers (the known columns) in one source and
the remaining columns in another uses the synthetic table to link records of the same person."""
from __future__ import annotations

import pandas as pd

from privsynth.attacks import _anonymeter
from privsynth.attacks.base import AttackData
from privsynth.results import AttackResult


def linkability(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    known = [c for c in data.known_columns if c in data.domain.names]
    rest = [c for c in data.domain.names if c not in known]
    if not known or not rest:
        return []
    frames = [_anonymeter.anonymeter_frame(f, data.domain) for f in (data.members, synthetic, data.control)]
    n_attacks = min(data.n_attacks, len(data.members), len(data.control))
    return [_anonymeter.linkability(*frames, aux_cols=(known, rest), n_attacks=n_attacks, seed=data.seed)]
