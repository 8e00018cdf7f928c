"""The shadow-model attack as one check of the suite: ``shadow_auc`` and its epsilon audit.

It does not read the candidate table: it attacks the generator itself, refitting it (``data.shadow``'s
factory, injected by the pipeline) on shadow training sets with and without each target, on the compute
cluster. Its positive control is the same attack against a "generator" that publishes its training rows:
an attack that cannot see through that is blind, and its verdict on the real generator means nothing.
"""
from __future__ import annotations

from dataclasses import replace

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
    settings = {"train_size": plan.train_size, "synthetic_rows": plan.synthetic_rows, "selection": plan.selection}
    runs = run_shadow_models(plan.targets, plan.population, data.domain, plan.fit_and_sample, plan.train_size,
                             plan.runs, data.seed, plan.map_tasks, progress=plan.progress)
    copies = run_shadow_models(plan.targets, plan.population, data.domain, copy_training_rows, plan.train_size,
                               plan.runs, data.seed, plan.map_tasks)
    scores = score_runs(runs, data.seed)
    positive = shadow_result(copies, score_runs(copies, data.seed), plan.described, data.seed, settings)
    result = shadow_result(runs, scores, plan.described, data.seed, settings)
    return [replace(result, positive_control=Control(positive.estimate, positive.ci)),
            empirical_epsilon(scores, plan.delta)]
