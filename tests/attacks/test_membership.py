"""Vulnerable-record ranking, shadow features and the density attack, on real Adult rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privsynth.attacks.base import AttackData
from privsynth.attacks.membership.density import density_membership
from privsynth.attacks.membership.features import TargetView, feature_names, target_features
from privsynth.attacks.membership.shadow import draw_training_sets, run_shadow_models
from privsynth.parallel import task_mapper
from privsynth.attacks.membership.vulnerable import isolation_scores, pick_targets
from privsynth.errors import PrivsynthError


@pytest.fixture(scope="module")
def parts(adult):
    rows = np.random.default_rng(5).permutation(len(adult))
    return [adult.iloc[rows[i * 600:(i + 1) * 600]].reset_index(drop=True) for i in range(4)]


def test_a_planted_outlier_is_the_most_isolated_record(parts, adult_domain):
    frame = parts[0].copy()
    frame.loc[17, ["age", "capital_gain", "hours_per_week", "native_country", "workclass", "race", "occupation",
                   "marital_status", "education", "education_num"]] = \
        [90, 99999, 99, "Holand-Netherlands", "Never-worked", "Other", "Armed-Forces", "Married-AF-spouse",
         "Preschool", 1]
    frame = adult_domain.cast(frame)
    chosen, scores = pick_targets(frame, adult_domain, 3, "isolated", seed=0)
    assert chosen[0] == 17 and scores[17] == scores.max()
    # the ranking is the mean distance to the 5 nearest OTHER rows: a duplicated row is not isolated
    doubled = adult_domain.cast(frame.iloc[[17, 17, 17, 17, 17, 17] + list(range(40))].reset_index(drop=True))
    assert isolation_scores(doubled, adult_domain, k=5)[0] == pytest.approx(0.0, abs=1e-6)
    random_pick, _ = pick_targets(frame, adult_domain, 3, "random", seed=0)
    assert list(random_pick) == list(pick_targets(frame, adult_domain, 3, "random", seed=0)[0])


def test_training_sets_have_the_declared_size_and_hold_exactly_the_drawn_targets(parts, adult_domain):
    targets, reference = parts[0].iloc[:4].reset_index(drop=True), parts[1]
    membership, sets = draw_training_sets(targets, reference, 100, runs=12, seed=3)
    assert membership.shape == (12, 4) and 0 < membership.mean() < 1
    features = adult_domain.distance_features(targets)
    for run, frame in enumerate(sets):
        assert len(frame) == 100
        encoded = adult_domain.distance_features(frame)
        present = [bool((np.abs(encoded - row).sum(1) < 1e-9).any()) for row in features]
        assert present == list(membership[run])
    again, _ = draw_training_sets(targets, reference, 100, runs=12, seed=3)
    assert (again == membership).all()



def test_a_shadow_attack_too_small_to_score_is_refused_before_any_fit(parts, adult_domain):
    # 4 runs and 1 target leave 2 held-out (run, target) pairs: never 2 with the target in AND 2 without
    def must_not_fit(*_args, **_kwargs):
        raise AssertionError("a generator was fitted for an attack that cannot be scored")

    with pytest.raises(PrivsynthError, match="attacks.shadow.shadow_runs"):
        run_shadow_models(parts[0].iloc[:1], parts[1], adult_domain, must_not_fit, 100, runs=4, seed=0,
                          map_tasks=task_mapper(None))

def test_features_see_a_target_copied_into_the_synthetic_table(parts, adult_domain):
    targets, synthetic = parts[0].iloc[:3].reset_index(drop=True), parts[1]
    view = TargetView.build(targets, parts[2], adult_domain)
    names = feature_names(adult_domain)
    without = target_features(synthetic, view, adult_domain)
    with_copies = target_features(adult_domain.cast(pd.concat([synthetic, targets], ignore_index=True)), view,
                                  adult_domain)
    assert without.shape == (3, len(names))
    closest, exact = names.index("closest"), names.index("cells=all")
    assert with_copies[:, closest] == pytest.approx([0.0] * 3, abs=1e-6)
    assert (with_copies[:, exact] > without[:, exact]).all()
    assert ((with_copies >= 0) & np.isfinite(with_copies)).all()


def test_density_attack_fires_on_copies_and_is_blind_on_fresh_rows(parts, adult_domain):
    members, control, reference, fresh = parts
    data = AttackData(members.iloc[:300], control.iloc[:300], adult_domain, ("age",), ("income",), 100, seed=0,
                      reference=reference)
    (copied,), (unseen,) = density_membership(data, data.members), density_membership(data, fresh)
    assert copied.estimate > 0.85 and copied.ci[0] > 0.8
    assert unseen.ci[0] < 0.5 < unseen.ci[1] and abs(unseen.estimate - 0.5) < 0.08
