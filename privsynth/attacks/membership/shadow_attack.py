"""The shadow-model attack as one check of the suite: ``shadow_auc`` and its epsilon audit.

It does not read the candidate table: it attacks the generator itself, refitting it (``data.shadow``'s
factory, injected by the pipeline) on shadow training sets with and without each target, on the compute
cluster. Its positive control is the same attack against a "generator" that publishes its training rows:
an attack that cannot see through that is blind, and its verdict on the real generator means nothing.

At person level (``data.shadow.owners``) the targets, the coins and the AUC are per PERSON; the details say
so (``unit``, ``max_rows_per_person``, how targets were ranked and features aggregated), and the epsilon audit
keeps its group of 2 (shadow.py: a coin swaps at most k rows for as many, two person steps).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from privsynth.attacks.audit import empirical_epsilon
from privsynth.attacks.base import AttackData
from privsynth.attacks.membership.shadow import copy_training_rows, run_shadow_models, score_runs, shadow_result
from privsynth.results import AttackResult, Control


def shadow_attack(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    """[shadow_auc with its positive control, empirical_epsilon]; nothing when the threat model turned the
    attack off (the pipeline then passes no ``data.shadow``, and the gate does not expect these checks)."""
    plan = data.shadow
    if plan is None:
        return []
    settings: dict[str, Any] = {"train_size": plan.train_size, "synthetic_rows": plan.synthetic_rows,
                                "selection": plan.selection}
    if plan.owners is not None:
        settings.update(PERSON_SETTINGS, max_rows_per_person=plan.rows_per_person,
                        target_person_rows=len(plan.targets))
    runs = run_shadow_models(plan.targets, plan.population, data.domain, plan.fit_and_sample, plan.train_size,
                             plan.runs, data.seed, plan.map_tasks, progress=plan.progress, owners=plan.owners)
    copies = run_shadow_models(plan.targets, plan.population, data.domain, copy_training_rows, plan.train_size,
                               plan.runs, data.seed, plan.map_tasks, owners=plan.owners)
    scores = score_runs(runs, data.seed)
    positive = shadow_result(copies, score_runs(copies, data.seed), plan.described, data.seed, settings)
    result = shadow_result(runs, scores, plan.described, data.seed, settings)
    epsilon = empirical_epsilon(scores, plan.delta)
    if plan.owners is not None:
        epsilon = replace(epsilon, details={**epsilon.details, "unit": "person",
                                            "max_rows_per_person": plan.rows_per_person,
                                            "bound": PERSON_BOUND})
    return [replace(result, positive_control=Control(positive.estimate, positive.ci)), epsilon]


#: what the details of a person-level shadow attack say about its unit
PERSON_SETTINGS = {
    "unit": "person",
    "targets_are": "persons with all their kept rows, in or out of a shadow training set together",
    "target_ranking": "a person's isolation is that of their most isolated row, measured against other persons' "
                      "rows",
    "person_features": "mean over the person's rows of each row's features",
    "filler": "reference rows fill each shadow training set to exactly train_size rows"}
PERSON_BOUND = ("one-run (Steinke, Nasr & Jagielski 2023): right guesses among all held-out (run, target person) "
                "pairs; each coin swaps a person's m <= k rows for m population rows, two person steps (group "
                "privacy 2)")
