"""dp-tvae and dp-ctgan: preprocessing from the public domain only, fit and sample inside the domain,
condition frequencies only from charged measurements; SDV neural baselines only with consent."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from privsynth.errors import PrivsynthError
from privsynth.generators.registry import make_generator
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import NoisyMarginal, PrivateData

DELTA = 1e-9


def _private(rows: pd.DataFrame, domain, accountant: str = "rdp", epsilon: float = 4.0, **kw) -> PrivateData:
    return PrivateData(rows, domain, Odometer.for_epsilon(epsilon, DELTA, accountant), NoiseSource.simulation(0), **kw)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 399), donor=st.integers(400, 30000), bins=st.sampled_from([None, 8, 16]))
def test_one_changed_row_changes_no_part_of_the_preprocessing(adult, adult_domain, row, donor, bins):
    """Neighbouring tables (one row replaced, here by a row from elsewhere in Adult, often carrying a rare
    category): identical layout and coders, and feature rows that differ in that row only."""
    table = adult.iloc[:400].reset_index(drop=True)
    neighbour = table.copy()
    neighbour.iloc[row] = adult.iloc[donor]
    a, b = _private(table, adult_domain), _private(neighbour, adult_domain)
    (layout_a, coders_a), (layout_b, coders_b) = a.one_hot_layout(bins), b.one_hot_layout(bins)
    assert layout_a == layout_b and coders_a == coders_b
    codes_a = np.stack([coders_a[n].encode(table[n]) for n in adult_domain.names], axis=1)
    codes_b = np.stack([coders_b[n].encode(neighbour[n]) for n in adult_domain.names], axis=1)
    changed = np.flatnonzero((layout_a.one_hot(codes_a) != layout_b.one_hot(codes_b)).any(axis=1))
    assert set(changed) <= {row}


@pytest.mark.parametrize("kind", ["dp-tvae", "dp-ctgan"])
def test_fits_and_samples_inside_the_public_domain(adult, adult_domain, kind):
    lines: list[str] = []
    model = make_generator(kind, {"epochs": 2, "batch_size": 200}).fit(_private(adult.iloc[:1000], adult_domain),
                                                                       progress=lines.append)
    sample = model.sample(400, seed=3)
    assert model.sample(400, seed=3).equals(sample)
    assert list(sample.columns) == adult_domain.names and len(sample) == 400
    for name, spec in adult_domain.columns.items():
        values = sample[name].dropna()
        if spec.type == "categorical":
            assert values.isin(spec.values).all(), name
        else:
            assert values.between(spec.min, spec.max).all(), name
    assert len(lines) == 2 and lines[-1].startswith("epoch 2/2: loss ") and ", epsilon spent " in lines[-1]
    assert float(lines[-1].rsplit(" ", 1)[1]) == pytest.approx(model.guarantee_.epsilon, abs=1e-3)
    details = model.guarantee_.details
    for key in ("accountant", "noise_multiplier", "max_grad_norm", "sample_rate", "steps", "epsilon_spent"):
        assert key in details, key
    assert 600 < model.default_rows_ < 1400  # a noisy estimate of the 1000 rows (count_sigma 100: 4 sigma)


def test_ctgan_conditions_come_only_from_charged_measurements(adult, adult_domain, monkeypatch):
    """SmartNoise #301: CTGAN samplers read exact category frequencies. Ours must be the noisy ones."""
    measured: dict[tuple[str, ...], np.ndarray] = {}
    original = PrivateData.measure_marginal

    def record(self, columns, sigma, label="marginal") -> NoisyMarginal:
        result = original(self, columns, sigma, label)
        measured[result.columns] = result.counts
        return result

    monkeypatch.setattr(PrivateData, "measure_marginal", record)
    private = _private(adult.iloc[:800], adult_domain)
    model = make_generator("dp-ctgan", {"epochs": 1, "batch_size": 200}).fit(private)
    conditions = model.conditions_
    categorical = [n for n, s in adult_domain.columns.items() if s.type == "categorical"]
    assert conditions.columns == categorical
    assert [c.label for c in private.odometer.charges] == \
        [f"dp-ctgan.frequency['{n}']" for n in categorical] + ["dp-ctgan.discriminator"]
    for name, frequencies in zip(conditions.columns, conditions.frequencies):
        noisy = measured[(name,)]
        assert np.array_equal(frequencies, np.clip(noisy, 0, None))
        true = adult.iloc[:800][name].value_counts()
        assert not np.allclose(noisy[: len(true)], np.sort(true.values)[::-1])  # noise is there


def test_dpsgd_generators_refuse_zcdp_books_and_bad_params(adult, adult_domain):
    with pytest.raises(PrivsynthError, match="accountant"):
        make_generator("dp-tvae", {"accountant": "moments"})
    with pytest.raises(PrivsynthError, match="frequency_share"):
        make_generator("dp-ctgan", {"frequency_share": 1.5})
    zcdp = PrivateData(adult.iloc[:300], adult_domain, Odometer.for_epsilon(1.0, DELTA), NoiseSource.simulation(0))
    with pytest.raises(PrivsynthError, match="rdp or prv"):
        make_generator("dp-tvae", {"epochs": 1}).fit(zcdp)


@pytest.mark.parametrize("kind", ["ctgan", "tvae"])
def test_sdv_neural_baselines_refuse_without_allow_non_dp(adult, adult_domain, kind):
    model = make_generator(kind, {"epochs": 1})
    assert model.is_dp is False
    with pytest.raises(PrivsynthError, match="allow_non_dp"):
        model.fit(_private(adult.iloc[:300], adult_domain))


def test_sdv_tvae_with_consent_says_no_guarantee(adult, adult_domain):
    model = make_generator("tvae", {"epochs": 1}).fit(_private(adult.iloc[:500], adult_domain, allow_non_dp=True))
    assert model.guarantee_.dp is False and model.guarantee_.epsilon is None
    sample = model.sample(200, seed=1)
    assert model.sample(200, seed=1).equals(sample)
    assert list(sample.columns) == adult_domain.names and sample["age"].between(17, 90).all()
