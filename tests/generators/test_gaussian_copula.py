"""The SDV baseline: only with consent, labelled non-DP, output inside the public domain."""
from __future__ import annotations

import pytest

from privsynth.errors import PrivsynthError
from privsynth.generators.registry import make_generator
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import PrivateData


def test_refuses_without_allow_non_dp(adult, adult_domain):
    private = PrivateData(adult.iloc[:500], adult_domain, Odometer(1.0, 1e-9), NoiseSource.simulation(0))
    with pytest.raises(PrivsynthError, match="allow_non_dp"):
        make_generator("gaussian-copula", {}).fit(private)


def test_fits_with_consent_and_says_no_guarantee(adult, adult_domain):
    private = PrivateData(adult.iloc[:1500], adult_domain, Odometer(1.0, 1e-9), NoiseSource.simulation(0), allow_non_dp=True)
    model = make_generator("gaussian-copula", {}).fit(private)
    assert model.guarantee_.dp is False and model.guarantee_.epsilon is None
    sample = model.sample(300, seed=1)
    assert model.sample(300, seed=1).equals(sample)
    assert list(sample.columns) == adult_domain.names
    assert sample["age"].between(17, 90).all()
    assert sample["income"].notna().all()
