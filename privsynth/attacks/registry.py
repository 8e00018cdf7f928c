"""The attack suite, in the order reports list it. Extend by adding a function and one line here."""
from __future__ import annotations

from typing import Callable

import pandas as pd

from privsynth.attacks.base import Attack, AttackData
from privsynth.attacks.copies import exact_copies
from privsynth.attacks.inference import attribute_inference
from privsynth.attacks.linkability import linkability
from privsynth.attacks.membership.distance import distance_membership
from privsynth.attacks.singling_out import singling_out
from privsynth.results import AttackResult

ATTACKS: dict[str, Attack] = {
    "singling_out": singling_out,
    "linkability": linkability,
    "attribute_inference": attribute_inference,
    "membership_distance": distance_membership,
    "exact_copies": exact_copies,
}


def run_attacks(data: AttackData, synthetic: pd.DataFrame, names: list[str] | None = None,
                done: Callable[[str], None] = lambda name: None) -> list[AttackResult]:
    """Every attack (or those ``names``) on ``synthetic``; ``done(name)`` after each, for a progress display."""
    results: list[AttackResult] = []
    for name in names or list(ATTACKS):
        results.extend(ATTACKS[name](data, synthetic))
        done(name)
    return results
