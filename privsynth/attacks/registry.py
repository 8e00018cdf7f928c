"""The attack suite, in the order reports list it. Extend by adding a function and one line here."""
from __future__ import annotations

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


def run_attacks(data: AttackData, synthetic: pd.DataFrame, names: list[str] | None = None) -> list[AttackResult]:
    results: list[AttackResult] = []
    for name in names or list(ATTACKS):
        results.extend(ATTACKS[name](data, synthetic))
    return results
