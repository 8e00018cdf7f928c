"""Person-level attacks (issue 19) on real diabetes patients: the shadow attack's targets, coins and verdict are
persons (all of their kept rows in or out together), the canary audit's canaries are persons of k rows, and the
anonymeter attacks target one row per person. Controls are real: a "generator" that publishes its training
rows must be found, unseen patients posing as the synthetic table must give chance.

Sizes: 3,500 encounters of the bundled table (about 2,600 patients, some with 10+ rows before the bound k = 3),
ten columns, so every test runs in seconds on one core."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from privsynth.attacks.base import PERSON_KEY, AttackData, AuditedFit, AuditSetup, anonymeter_targets, attack_tables
from privsynth.attacks.canary import draw_audit_tables, run_canary_audit
from privsynth.attacks.linkability import linkability
from privsynth.attacks.membership.shadow import copy_training_rows, draw_training_sets
from privsynth.attacks.membership.shadow_attack import shadow_attack
from privsynth.attacks.membership.targets import plan_shadow_attack
from privsynth.attacks.membership.vulnerable import pick_target_persons
from privsynth.data.bundled import bundled_table
from privsynth.data.inputs import read_inputs
from privsynth.data.io import read_raw
from privsynth.parallel import task_mapper
from privsynth.privacy.noise import NoiseSource
from privsynth.threat_model import load_threat_model

DIABETES_YAML = Path(__file__).resolve().parents[2] / "threat_models" / "diabetes.yaml"
KEPT = ["race", "gender", "age", "admission_type_id", "admission_source_id", "time_in_hospital", "num_medications",
        "insulin", "a1c_result", "readmitted"]
K = 3
ENCOUNTERS = 3500


def _hashes(frame: pd.DataFrame) -> np.ndarray:
    return pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return read_raw(bundled_table("diabetes"))


@pytest.fixture(scope="module")
def setting(raw, tmp_path_factory):
    """Person-level inputs (k = 3, split by patient) of the first 3,500 encounters, and the shadow settings."""
    path = tmp_path_factory.mktemp("person-attacks") / "table.csv"
    raw.iloc[:ENCOUNTERS].to_csv(path, index=False)
    dropped = [c for c in load_threat_model(DIABETES_YAML).model.data.columns if c not in KEPT]
    loaded = load_threat_model(DIABETES_YAML, [f"data.source={path}", f"data.drop_columns={json.dumps(dropped)}",
                                               "data.holdout_fraction=0.5", "attacks.shadow.targets=20",
                                               "attacks.shadow.shadow_runs=20", "attacks.shadow.train_size=300"])
    noise = NoiseSource.simulation(7)
    inputs = read_inputs(loaded, noise.generator("split"), noise.keyed_uniform)
    assert inputs.persons is not None and inputs.persons.max_rows_per_person == K
    return loaded.model, inputs


@pytest.fixture(scope="module")
def unseen(raw, setting) -> pd.DataFrame:
    """Patients outside the 3,500 encounters (none of them trained on or in the population): the null table."""
    _, inputs = setting
    later = raw.iloc[ENCOUNTERS:ENCOUNTERS + 3000]
    known = set(inputs.persons.train) | set(inputs.persons.holdout)
    later = later[~later["patient_nbr"].astype(str).str.strip().isin(known)]
    return inputs.domain.cast(later[KEPT].reset_index(drop=True))


@pytest.fixture(scope="module")
def plan(setting):
    model, inputs = setting
    return plan_shadow_attack(inputs.train, inputs.holdout, inputs.train_rows, inputs.holdout_rows,
                              model.attacks.shadow, inputs.domain, 0, copy_training_rows, task_mapper(None),
                              model.privacy.delta, persons=inputs.persons)


def test_shadow_targets_are_whole_persons_and_leave_the_population(setting, plan):
    _, inputs = setting
    owners = plan.owners
    assert plan.rows_per_person == K and owners is not None and owners.max() + 1 == 20
    assert len(plan.described["rows"]) == 20 and max(plan.described["rows"]) <= K
    assert sum(plan.described["rows"]) == len(plan.targets) > 20  # several targets have more than one row
    train_hashes = _hashes(inputs.train)
    for person, numbers in enumerate(plan.described["source_rows"]):
        rows = plan.targets[owners == person]
        owner_ids = set(inputs.persons.train[np.isin(train_hashes, _hashes(rows))])
        assert len(owner_ids) == 1  # the target's rows are one training person's ...
        patient = owner_ids.pop()
        assert len(rows) == int((inputs.persons.train == patient).sum()) == len(numbers)  # ... all of them
        assert sorted(numbers) == sorted(int(r) for r in inputs.train_rows[inputs.persons.train == patient])
    assert not set(_hashes(plan.targets)) & set(_hashes(plan.population))


def test_a_shadow_training_set_holds_all_or_none_of_each_target_persons_rows(plan):
    membership, sets = draw_training_sets(plan.targets, plan.population, plan.train_size, 12, seed=3,
                                          owners=plan.owners)
    assert membership.shape == (12, 20) and 0.3 < membership.mean() < 0.7
    target_hashes = _hashes(plan.targets)
    for run, frame in enumerate(sets):
        assert len(frame) == plan.train_size  # the size never gives a coin away
        labels, frame = frame[PERSON_KEY], frame.drop(columns=[PERSON_KEY])
        present = pd.Series(np.isin(target_hashes, _hashes(frame))).groupby(plan.owners).agg(["all", "any"])
        assert (present["all"] == present["any"]).all()  # never split across in and out
        assert list(present["all"]) == list(membership[run])
        # the fit is told whose each row is: a target person's rows share one label, filler rows have their own
        in_targets = labels.str.startswith("t")
        assert in_targets.sum() == int(np.isin(plan.owners, np.flatnonzero(membership[run])).sum())
        assert labels[in_targets].nunique() == int(membership[run].sum()) and labels[~in_targets].is_unique
    again, _ = draw_training_sets(plan.targets, plan.population, plan.train_size, 12, seed=3, owners=plan.owners)
    assert (again == membership).all()


def test_the_most_isolated_person_is_measured_against_other_persons(setting):
    """A planted outlying patient with three identical encounters: their own rows are not their neighbours, so
    they still rank first (without that rule their isolation would be 0 for the first two of five neighbours)."""
    _, inputs = setting
    frame = inputs.train.astype(object)
    ids = inputs.persons.train.copy()
    person = pd.Series(ids).value_counts().index[0]
    rows = np.flatnonzero(ids == person)
    assert len(rows) == K
    frame.loc[rows, ["race", "gender", "age", "admission_type_id", "time_in_hospital", "num_medications"]] = \
        ["Asian", "Unknown/Invalid", "[0-10)", inputs.train["admission_type_id"].cat.categories[6], 14, 150]
    frame = inputs.domain.cast(frame)
    chosen, isolation = pick_target_persons(frame, ids, inputs.domain, 5, "isolated", seed=0)
    assert chosen[0] == person and isolation[person] == isolation.max() and len(isolation) == len(set(ids))
    random_pick, _ = pick_target_persons(frame, ids, inputs.domain, 5, "random", seed=0)
    assert list(random_pick) == list(pick_target_persons(frame, ids, inputs.domain, 5, "random", seed=0)[0])


def test_the_shadow_attack_finds_copied_persons_and_gives_chance_on_unseen_persons(setting, plan, unseen):
    """One call, both controls: the attack's own positive control (a generator that publishes its training
    rows) must find the persons; the generator under test publishes unseen patients whatever it is trained on,
    so its verdict must be chance."""
    model, inputs = setting

    def unseen_persons(train: pd.DataFrame, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        return unseen.iloc[np.sort(rng.choice(len(unseen), len(train), replace=False))].reset_index(drop=True)

    null_plan = replace(plan, fit_and_sample=unseen_persons)
    data = AttackData(inputs.train.iloc[:50], inputs.holdout.iloc[:50], inputs.domain, ("age",), ("readmitted",),
                      50, 0, shadow=null_plan)
    result, epsilon = shadow_attack(data, inputs.train.iloc[:0])
    assert result.name == "shadow_auc" and result.details["unit"] == "person"
    assert result.details["max_rows_per_person"] == K and result.n == 10 * 20  # held-out runs x target PERSONS
    assert result.positive_control.estimate > 0.9, result.positive_control
    assert result.ci[0] <= 0.5 <= result.ci[1] and abs(result.estimate - 0.5) < 0.1, (result.estimate, result.ci)
    assert epsilon.details["unit"] == "person" and epsilon.estimate == 0.0


def test_canaries_are_persons_of_k_rows_in_or_out_together(setting, raw):
    _, inputs = setting
    canaries = inputs.domain.cast(raw.iloc[ENCOUNTERS:ENCOUNTERS + 30][KEPT].reset_index(drop=True))
    membership, bases, tables = draw_audit_tables(inputs.holdout, canaries, 400, runs=3, seed=1, rows_per_canary=K)
    for run, table in enumerate(tables):
        assert len(table) == 400 + K * int(membership[run].sum())
        labels, table = table[PERSON_KEY], table.drop(columns=[PERSON_KEY])
        counts = pd.Series(_hashes(table)).value_counts()
        in_table = np.array([counts.get(h, 0) for h in _hashes(canaries)])
        assert list(in_table) == [K if m else 0 for m in membership[run]]
        # a canary person's k rows share one label (the fit groups them); every base row is its own person
        canary_labels = labels[labels.str.startswith("c")]
        assert (canary_labels.value_counts() == K).all() and canary_labels.nunique() == int(membership[run].sum())
        assert labels[labels.str.startswith("b")].is_unique


def test_the_person_canary_audit_catches_a_copying_generator_and_not_a_blind_one(setting, unseen):
    model, inputs = setting

    def audit(fit_and_sample):
        setup = AuditSetup(inputs.holdout, AuditedFit.table_only(fit_and_sample), task_mapper(None), 100, 2, 500,
                           model.privacy.delta, model.privacy.epsilon, rows_per_canary=K)
        return run_canary_audit(setup, inputs.domain, seed=0)

    def blind(train: pd.DataFrame, seed: int) -> pd.DataFrame:
        return unseen.sample(n=len(train), replace=True, random_state=np.random.RandomState(seed % 2**32))

    caught = audit(copy_training_rows)
    assert caught["unit"] == "person" and caught["rows_per_canary"] == K and caught["group"] == 1
    assert caught["accuracy"] == 1.0 and caught["epsilon"] == pytest.approx(caught["max_certifiable"]), caught
    assert audit(blind)["epsilon"] == 0.0


def test_anonymeter_targets_hold_one_row_per_person(setting):
    model, inputs = setting
    people = inputs.persons
    data, _ = attack_tables(inputs.train, inputs.holdout, inputs.domain, 600, ["race", "gender", "age"],
                            ["readmitted"], 100, 0, people.train, people.holdout)
    plain, _ = attack_tables(inputs.train, inputs.holdout, inputs.domain, 600, ["race", "gender", "age"],
                             ["readmitted"], 100, 0)
    pd.testing.assert_frame_equal(data.members, plain.members)  # the persons only label the same rows
    assert anonymeter_targets(plain)[2] == {} and anonymeter_targets(plain)[0] is plain.members
    assert len(set(data.member_persons)) < len(data.members)  # the sample holds persons with several rows
    marked = replace(data, members=data.members.assign(sample_row=np.arange(len(data.members))),
                     control=data.control.assign(sample_row=np.arange(len(data.control))))
    members, control, unit = anonymeter_targets(marked)
    assert len(members) == len(control) == unit["persons_per_side"] <= len(set(data.member_persons))
    for frame, ids, rows in ((members, data.member_persons, marked.members),
                             (control, data.control_persons, marked.control)):
        picked = frame["sample_row"].to_numpy()
        assert len(set(ids[picked])) == len(picked)  # one row per person, each person once
        pd.testing.assert_frame_equal(frame, rows.iloc[picked].reset_index(drop=True))  # real rows of the sample
    pd.testing.assert_frame_equal(anonymeter_targets(marked)[0], members)  # a seeded draw
    result, = linkability(data, inputs.train)
    assert result.details["unit"] == "person" and result.n <= unit["persons_per_side"]


def test_named_target_rows_name_their_whole_persons(setting):
    """A row the threat model names stands for its person: all of their kept rows are the target, named once
    however many of their rows are named, and a holdout person's rows leave the attacker's population."""
    model, inputs = setting
    people = inputs.persons
    several = pd.Series(people.train).value_counts()
    patient = several.index[0]
    rows = [int(r) for r in inputs.train_rows[people.train == patient]]
    held = people.holdout[0]
    held_rows = [int(r) for r in inputs.holdout_rows[people.holdout == held]]
    spec = model.attacks.shadow.model_copy(update={"target_rows": [rows[0], rows[-1], held_rows[0]]})
    named = plan_shadow_attack(inputs.train, inputs.holdout, inputs.train_rows, inputs.holdout_rows, spec,
                               inputs.domain, 0, copy_training_rows, task_mapper(None), model.privacy.delta,
                               persons=people)
    assert named.selection == "target_rows" and list(np.bincount(named.owners)) == [len(rows), len(held_rows)]
    assert named.described["source_rows"] == [sorted(rows), sorted(held_rows)]
    assert len(named.population) == len(inputs.holdout) - len(held_rows)
    assert not set(_hashes(named.targets[named.owners == 1])) & set(_hashes(named.population))
