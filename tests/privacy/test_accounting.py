"""zCDP accounting against independent closed forms (DP_PITFALLS: accountant or composition wrong)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from privsynth.privacy.accounting import (exponential_epsilon, exponential_rho, gaussian_rho, gaussian_sigma,
                                          zcdp_delta, zcdp_epsilon, zcdp_rho)


def exact_gaussian_delta(mu: float, eps: float) -> float:
    """Balle & Wang (2018): the exact privacy profile of the Gaussian mechanism with mu = sensitivity/sigma."""
    return norm.cdf(-eps / mu + mu / 2) - math.exp(eps) * norm.cdf(-eps / mu - mu / 2)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 3.0, 10.0])
@pytest.mark.parametrize("eps", [0.5, 1.0, 3.0])
def test_zcdp_conversion_is_valid_and_not_loose_for_the_gaussian(sigma, eps):
    rho = gaussian_rho(sigma)
    bound = zcdp_delta(rho, eps)
    exact = exact_gaussian_delta(1 / sigma, eps)
    assert bound >= exact * (1 - 1e-9)  # never claims more privacy than the mechanism has
    assert bound <= max(10 * exact, 1e-300) or exact < 1e-12  # and within an order of magnitude


@settings(max_examples=50, deadline=None)
@given(eps=st.floats(0.05, 20), log_delta=st.floats(-12, -3))
def test_rho_and_epsilon_conversions_invert(eps, log_delta):
    delta = 10**log_delta
    rho = zcdp_rho(eps, delta)
    assert rho > 0
    assert zcdp_delta(rho, eps) <= delta * (1 + 1e-6)
    assert zcdp_epsilon(rho, delta) == pytest.approx(eps, rel=1e-4)
    assert zcdp_epsilon(rho, delta) <= rho + 2 * math.sqrt(rho * math.log(1 / delta)) + 1e-9


def test_known_value_for_the_demo_budget():
    # epsilon 1 at delta 1e-9: the simple bound rho + 2 sqrt(rho log 1/delta) = 1 gives rho = 0.01154;
    # the optimal conversion of Canonne-Kamath-Steinke allows more (about 0.01497)
    rho = zcdp_rho(1.0, 1e-9)
    assert 0.0115 < rho < 0.0155
    assert rho == pytest.approx(0.014973, rel=1e-3)


def test_mechanism_costs_are_the_textbook_formulas():
    assert gaussian_rho(2.0) == pytest.approx(1 / 8)
    assert gaussian_sigma(gaussian_rho(7.5)) == pytest.approx(7.5)
    assert exponential_rho(2.0) == pytest.approx(0.5)
    assert exponential_epsilon(exponential_rho(0.3)) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        gaussian_rho(0)


def test_gaussian_dp_profile_matches_its_closed_form_and_sits_below_the_zcdp_conversion():
    from scipy.stats import norm

    from privsynth.privacy.accounting import gaussian_dp_delta, gaussian_dp_epsilon

    assert gaussian_dp_delta(1.0, 0.0) == pytest.approx(2 * norm.cdf(0.5) - 1)  # total variation of N(0,1), N(1,1)
    for mu, delta in [(0.2, 1e-9), (0.64, 1e-9), (1.0, 1e-5), (3.0, 1e-6)]:
        epsilon = gaussian_dp_epsilon(mu, delta)
        assert gaussian_dp_delta(mu, epsilon) == pytest.approx(delta, rel=1e-6)
        # mu-GDP is exactly the Gaussian mechanism; rho = mu^2 / 2 zCDP converted by CKS is a valid but looser bound
        assert epsilon < zcdp_epsilon(mu**2 / 2, delta)
    assert gaussian_dp_epsilon(0.01, 0.5) == 0.0  # delta at epsilon 0 is already below 0.5
