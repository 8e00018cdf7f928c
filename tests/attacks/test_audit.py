"""The empirical epsilon audit: its arithmetic, a correct mechanism that passes, and a deliberately broken one
(noise off) that the release gate must block as an implementation fault."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from privsynth.attacks.audit import clopper_pearson_upper, empirical_epsilon, epsilon_lower_bound
from privsynth.attacks.membership.shadow import run_shadow_models, score_runs
from privsynth.attacks.stats import clopper_pearson
from privsynth.data.io import check_table, read_raw
from privsynth.generators import registry
from privsynth.pipeline import ShadowGenerator
from privsynth.parallel import task_mapper
from tests.attacks.independent_marginals import IndependentMarginals, NoiseOffMST


def test_clopper_pearson_matches_its_closed_forms():
    assert clopper_pearson(0, 10) == pytest.approx((0.0, 1 - 0.025 ** 0.1), abs=1e-9)
    assert clopper_pearson(10, 10) == pytest.approx((0.025 ** 0.1, 1.0), abs=1e-9)
    assert clopper_pearson_upper(0, 50, 0.025) == pytest.approx(1 - 0.025 ** (1 / 50), abs=1e-9)
    low, high = clopper_pearson(30, 100)
    assert low < 0.3 < high and high - low == pytest.approx(0.185, abs=0.01)


@pytest.mark.parametrize("trials, certifiable", [(100, 3.3), (500, 4.9), (1000, 5.6), (10000, 7.9)])
def test_zero_errors_certify_what_dp_pitfalls_says(trials, certifiable):
    assert epsilon_lower_bound(0, trials, 0, trials, delta=1e-9)[0] == pytest.approx(certifiable, abs=0.1)


def test_a_coin_flip_attack_proves_nothing():
    assert epsilon_lower_bound(50, 100, 50, 100, delta=1e-9)[0] == 0.0
    assert epsilon_lower_bound(0, 100, 100, 100, delta=1e-9)[0] == 0.0


def unique_category_rows(frame, n: int) -> list[int]:
    """Rows holding a category no other row of ``frame`` has: the clearest outliers a marginal can betray."""
    rows = set()
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            counts = frame[column].value_counts()
            rows |= set(np.flatnonzero(frame[column].isin(counts[counts == 1].index)))
    return sorted(int(r) for r in rows)[:n]


@pytest.fixture(scope="module")
def small_adult(small_adult_csv, adult_model):
    frame, _ = check_table(read_raw(small_adult_csv), adult_model.data, "small")
    return frame


@pytest.fixture
def test_generator(monkeypatch):
    monkeypatch.setitem(registry.GENERATORS, IndependentMarginals.kind, IndependentMarginals)


def _audit(noise: bool, targets, reference, domain):
    factory = ShadowGenerator(IndependentMarginals.kind, {"noise": noise}, 1.0, 1e-9, False, domain, 1500)
    runs = run_shadow_models(targets, reference, domain, factory, train_size=300, runs=30, seed=0,
                             map_tasks=task_mapper(None))
    return empirical_epsilon(score_runs(runs, seed=0), delta=1e-9)


def test_the_audit_separates_a_correct_mechanism_from_one_with_the_noise_off(test_generator, small_adult,
                                                                              adult_domain):
    rows = unique_category_rows(small_adult, 4)
    targets = small_adult.iloc[rows].reset_index(drop=True)
    reference = small_adult.drop(index=rows).iloc[:600].reset_index(drop=True)
    correct = _audit(True, targets, reference, adult_domain)
    broken = _audit(False, targets, reference, adult_domain)
    assert correct.estimate <= 1.0
    assert broken.estimate > 1.0, broken.details
    assert broken.details["max_certifiable"] >= broken.estimate


def test_the_gate_blocks_a_broken_mechanism_as_an_implementation_fault(small_adult, write_threat_model,
                                                                       monkeypatch):
    from privsynth.pipeline import run

    # 60 runs: 120 held-out guesses certify up to eps 1.84, so a few wrong guesses (the split's key is fresh each
    # run) still show eps > 1; with 60 guesses (30 runs) two wrong ones fell to 0.98 on CI
    shadow = {"target_rows": unique_category_rows(small_adult, 4), "shadow_runs": 60, "train_size": 300}
    monkeypatch.setitem(registry.GENERATORS, "mst", NoiseOffMST)  # the threat model says mst; the code is broken
    path = write_threat_model(
        generator__kind="mst", generator__params={}, privacy__epsilon=1.0,
        attacks__shadow=shadow, attacks__sample_size=100, attacks__n_attacks=20, compute__scheduler="synchronous",
        gates__shadow_auc="report")  # 4 named targets x 30 held-out runs cannot judge the 0.65 gate; the audit can
    result = run(path, out=path.parent / "out")
    audit = next(a for a in result.attacks if a.name == "empirical_epsilon")
    assert audit.threshold == pytest.approx(1.0) and audit.passed is False and audit.estimate > 1.0
    assert not result.decision.released
    reason = next(f.reason for f in result.decision.failures if f.check == "empirical_epsilon")
    assert "implementation fault" in reason
    attack = next(a for a in result.attacks if a.name == "shadow_auc")
    assert attack.positive_control.estimate > 0.9  # the attack is not blind
    assert [t["source_row"] for t in attack.details["targets"]] == shadow["target_rows"]
    saved = json.loads((result.review_dir / "report.json").read_text())
    assert any(c["check"] == "empirical_epsilon" for c in saved["failed_checks"])
