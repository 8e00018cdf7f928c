"""The person-level membership attack sees (training persons' own rows posing as the synthetic table) and is
blind when it should be (unseen persons' rows posing as it), overall and per row-count group; on real
diabetes patients."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from privsynth.attacks.base import attack_tables
from privsynth.attacks.membership.person_distance import group_of, person_membership, person_sample
from privsynth.data.bundled import bundled_table
from privsynth.data.inputs import read_inputs
from privsynth.data.io import read_raw
from privsynth.privacy.noise import NoiseSource
from privsynth.threat_model import load_threat_model

DIABETES_YAML = Path(__file__).resolve().parents[2] / "threat_models" / "diabetes.yaml"


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """Row-level reading (no bound) of 6,000 encounters, split by patient; 300 persons per group and side."""
    path = tmp_path_factory.mktemp("persons") / "table.csv"
    read_raw(bundled_table("diabetes")).iloc[:6000].to_csv(path, index=False)
    loaded = load_threat_model(DIABETES_YAML, [f"data.source={path}", "privacy.unit=row",
                                               "privacy.max_rows_per_person=null", "data.holdout_fraction=0.5"])
    noise = NoiseSource.simulation(4)
    inputs = read_inputs(loaded, noise.generator("split"), noise.keyed_uniform)
    people = inputs.persons
    data, _ = attack_tables(inputs.train, inputs.holdout, inputs.domain, 200, ["age"], ["readmitted"], 50, 0)
    sample = person_sample(inputs.train, people.train, inputs.holdout, people.holdout, people.source_rows, 300, 0)
    return replace(data, persons=sample), inputs


def test_groups_follow_source_row_counts():
    assert [group_of(n) for n in (1, 2, 3, 4, 9, 10, 40)] == ["1", "2-3", "2-3", "4-9", "4-9", "10+", "10+"]
    with pytest.raises(ValueError):
        group_of(0)


def test_each_group_has_as_many_members_as_non_members(setting):
    data, _ = setting
    sample = data.persons
    for ids in (sample.member_ids, sample.control_ids):
        assert len(set(ids)) <= 4 * 300
    member_groups = sorted(group_of(int(sample.source_rows[p])) for p in set(sample.member_ids))
    control_groups = sorted(group_of(int(sample.source_rows[p])) for p in set(sample.control_ids))
    assert member_groups == control_groups


def test_training_persons_posing_as_the_synthetic_table_are_found_in_every_group(setting):
    data, inputs = setting
    result, = person_membership(data, inputs.train)
    assert result.name == "membership_person_auc" and result.estimate > 0.95
    groups = result.details["by_source_rows_per_person"]
    measured = {g: v for g, v in groups.items() if v["auc"] is not None}
    assert {"1", "2-3"} <= set(measured)
    assert all(v["auc"] > 0.9 for v in measured.values())


def test_unseen_persons_posing_as_the_synthetic_table_give_chance(setting):
    data, inputs = setting
    unseen = inputs.holdout[~np.isin(inputs.persons.holdout, data.persons.control_ids)]
    result, = person_membership(data, unseen)
    low, high = result.ci
    assert low <= 0.5 <= high and abs(result.estimate - 0.5) < 0.06
    for group in result.details["by_source_rows_per_person"].values():
        if group["auc"] is not None:
            assert group["ci"][0] - 0.02 <= 0.5 <= group["ci"][1] + 0.02
