"""PrivateData charges every query, noise matches what is charged, and the odometer refuses overspending."""
from __future__ import annotations

import numpy as np
import pytest

from privsynth.errors import BudgetExceeded, PrivsynthError
from privsynth.privacy.accounting import exponential_rho, gaussian_rho
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData


@pytest.fixture
def private(adult, adult_domain):
    return PrivateData(adult.iloc[:2000], adult_domain, Odometer(100.0, 1e-9), NoiseSource.simulation(0))


def test_noise_spread_matches_the_sigma_that_was_charged(private, adult):
    """DataSynthesizer #34: noise calibrated for probabilities but added to counts. Measure one marginal
    400 times: the empirical spread of (noisy - true) must match the charged sigma (within 5%)."""
    true = np.bincount(adult.iloc[:2000]["race"].cat.codes, minlength=5)
    sigma = 3.0
    draws = np.stack([private.measure_marginal(("race",), sigma).counts for _ in range(400)])
    assert draws.shape == (400, 5)
    errors = draws - true
    assert abs(errors.std() / sigma - 1) < 0.05
    assert abs(errors.mean()) < 0.2
    assert private.odometer.spent_rho == pytest.approx(400 * gaussian_rho(sigma))


def test_total_charged_is_the_sum_of_its_parts(private):
    private.measure_marginal(("age", "sex"), 5.0)
    private.select_by_error([("race",), ("sex",)], [np.zeros(5), np.zeros(2)], epsilon=0.4)
    charges = private.odometer.charges
    assert [c.mechanism for c in charges] == ["gaussian", "exponential"]
    assert private.odometer.spent_rho == pytest.approx(gaussian_rho(5.0) + exponential_rho(0.4))


def test_odometer_refuses_before_computing(adult, adult_domain):
    odometer = Odometer(gaussian_rho(10.0) * 1.5, 1e-9)
    private = PrivateData(adult.iloc[:100], adult_domain, odometer, NoiseSource.simulation(0))
    private.measure_marginal(("age",), 10.0)
    with pytest.raises(BudgetExceeded, match="exceed the budget"):
        private.measure_marginal(("age",), 10.0)
    assert len(odometer.charges) == 1


def test_exponential_mechanism_prefers_the_worst_explained_marginal(private):
    """At epsilon 1 with a score gap of 2000, the candidate whose estimate is furthest from the truth is chosen."""
    true_sex = np.bincount(private._train["sex"].cat.codes, minlength=2).astype(float)
    good, bad = true_sex, np.array([true_sex.sum(), 0.0])
    picks = [private.select_by_error([("sex",), ("sex",)], [good, bad], epsilon=1.0) for _ in range(50)]
    assert np.mean(picks) > 0.95


def test_raw_rows_only_with_consent(adult, adult_domain):
    private = PrivateData(adult.iloc[:100], adult_domain, Odometer(1.0, 1e-9), NoiseSource.simulation(0))
    with pytest.raises(PrivsynthError, match="allow_non_dp"):
        private.raw_frame_for_non_dp_baseline()
    assert private.non_dp_access is False
    consenting = PrivateData(adult.iloc[:100], adult_domain, Odometer(1.0, 1e-9), NoiseSource.simulation(0), allow_non_dp=True)
    assert len(consenting.raw_frame_for_non_dp_baseline()) == 100 and consenting.non_dp_access


def test_a_feasibility_check_restricts_the_exponential_mechanism_to_the_accepted_candidates(adult, adult_domain):
    """Gumbel-max under the same noise: asking feasible() lazily picks exactly as the mechanism on the subset."""
    adult = adult.iloc[:200]  # the scores are given; the rows only have to encode (420 handles are built)
    estimates = [np.zeros(2), np.zeros(2), np.zeros(2)]
    candidates = [("sex",), ("sex",), ("sex",)]
    asked: list[int] = []

    def only_the_last(index: int) -> bool:
        asked.append(index)
        return index == 2

    for seed in range(20):
        private = PrivateData(adult, adult_domain, Odometer.for_epsilon(10.0, 1e-9), NoiseSource.simulation(seed))
        assert private.select_by_error(candidates, estimates, epsilon=1.0, feasible=only_the_last) == 2
    assert set(asked) <= {0, 1, 2} and 2 in asked
    # equal scores: the restricted choice between two accepted candidates is a fair coin
    picks = [PrivateData(adult, adult_domain, Odometer.for_epsilon(10.0, 1e-9), NoiseSource.simulation(seed))
             .select_by_error(candidates, estimates, epsilon=1.0, feasible=lambda i: i != 0) for seed in range(400)]
    assert 0 not in picks and 150 < picks.count(1) < 250
