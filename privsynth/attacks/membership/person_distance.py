"""Person-level membership inference: was this PERSON (all their rows) in the training set?

A person-level guarantee promises that a person with many rows is as hard to detect as a person with one. The
row-level distance attack cannot test that: it asks about single rows. Here the attacker holds every row of a
person (their kept rows: after the contribution bound, the rows a member could have trained on, which is the
stronger attacker) and scores the person by their row closest to the synthetic table (the max over rows of
minus the distance to the closest synthetic row, in the public-domain encoding of distance.py). Members are
training persons, non-members holdout persons, never fitted.

The answer is broken down by how many rows a person has in the SOURCE (before the bound): 1, 2-3, 4-9, 10+.
Within a group members and non-members have the same row count, so the AUC measures what the synthetic table
reveals, not the row count itself (a max over more rows is larger for members and non-members alike). Under
row-level DP the AUC of the many-row groups may rise; under person-level DP with bound k it should stay near
0.5 in every group. Group sizes describe private data: the internal review only.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from privsynth.attacks.base import AttackData, PersonSample, synthetic_sample
from privsynth.attacks.membership import neighbours
from privsynth.attacks.stats import auc_with_delong_ci
from privsynth.results import AttackResult

#: row-count groups (source rows per person), as (label, lowest, highest)
GROUPS = (("1", 1, 1), ("2-3", 2, 3), ("4-9", 4, 9), ("10+", 10, None))
#: the fewest persons per side for a group's AUC to be reported
MIN_GROUP_PERSONS = 10


def group_of(rows: int) -> str:
    for label, low, high in GROUPS:
        if rows >= low and (high is None or rows <= high):
            return label
    raise ValueError(f"a person has at least one row, not {rows}")


def person_sample(train: pd.DataFrame, train_ids: np.ndarray, holdout: pd.DataFrame, holdout_ids: np.ndarray,
                  source_rows: pd.Series, per_group: int, seed: int) -> PersonSample:
    """Up to ``per_group`` member and as many non-member persons in each row-count group (a seeded draw, public
    seed: which persons are asked about reveals nothing beyond the internal review)."""
    rng = np.random.default_rng([seed, 0x9E5])
    chosen_members: list[str] = []
    chosen_control: list[str] = []
    groups = source_rows.map(group_of)
    for label, _, _ in GROUPS:
        in_group = set(groups.index[groups == label])
        members = sorted(set(train_ids) & in_group)
        control = sorted(set(holdout_ids) & in_group)
        size = min(per_group, len(members), len(control))
        chosen_members += list(rng.choice(np.array(members, dtype=object), size, replace=False)) if size else []
        chosen_control += list(rng.choice(np.array(control, dtype=object), size, replace=False)) if size else []
    keep_m = np.isin(train_ids, chosen_members)
    keep_c = np.isin(holdout_ids, chosen_control)
    return PersonSample(train[keep_m].reset_index(drop=True), train_ids[keep_m],
                        holdout[keep_c].reset_index(drop=True), holdout_ids[keep_c], source_rows)


def _person_scores(rows: pd.DataFrame, ids: np.ndarray, synthetic: neighbours.Encoded, data: AttackData
                   ) -> pd.Series:
    """Each person's score: the max over their rows of minus the distance to the closest synthetic row."""
    distance = neighbours.nearest(neighbours.encode(rows, data.domain), synthetic)[:, 0]
    return pd.Series(-distance).groupby(ids).max()


def person_membership(data: AttackData, synthetic: pd.DataFrame) -> list[AttackResult]:
    """AUC of telling member persons from non-member persons, overall and per row-count group."""
    sample = data.persons
    if sample is None or not len(sample.members) or not len(sample.control):
        return [AttackResult("membership_person_auc", np.nan, (np.nan, np.nan), 0,
                             details={"skipped": "no persons to attack (data.person_column not set)"})]
    syn = neighbours.encode(synthetic_sample(synthetic, data.seed), data.domain)
    members = _person_scores(sample.members, sample.member_ids, syn, data)
    control = _person_scores(sample.control, sample.control_ids, syn, data)
    auc, ci = auc_with_delong_ci(members.to_numpy(), control.to_numpy())
    by_group = {}
    for label, _, _ in GROUPS:
        m = members[members.index.map(lambda p: group_of(int(sample.source_rows[p])) == label)]
        c = control[control.index.map(lambda p: group_of(int(sample.source_rows[p])) == label)]
        if min(len(m), len(c)) < MIN_GROUP_PERSONS:
            by_group[label] = {"persons_per_side": int(min(len(m), len(c))), "auc": None, "ci": None}
            continue
        group_auc, group_ci = auc_with_delong_ci(m.to_numpy(), c.to_numpy())
        by_group[label] = {"persons_per_side": int(min(len(m), len(c))), "auc": group_auc, "ci": list(group_ci)}
    return [AttackResult(
        name="membership_person_auc", estimate=auc, ci=ci, n=len(members) + len(control), baseline=0.5,
        details={"by_source_rows_per_person": by_group,
                 "score": "max over the person's kept rows of minus the distance to the closest synthetic row",
                 "member_rows": len(sample.members), "non_member_rows": len(sample.control)})]
