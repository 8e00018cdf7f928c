"""Cut points of bins: quantile columns are bought through the odometer: the exponential mechanism draws with
exactly the probabilities its charge assumes, and a neighbouring table changes the cut points only through the
mechanism's answers (record/replay), never through anything else read from the rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from privsynth.data.domain import PublicDomain
from privsynth.errors import PrivsynthError
from privsynth.privacy.accounting import zcdp_rho
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.private_data import PrivateData
from privsynth.threat_model import NumericColumn

COLUMNS = ["age", "fnlwgt", "sex", "income"]


@pytest.fixture(scope="module")
def domain(adult_model) -> PublicDomain:
    columns = {c: adult_model.kept_columns[c] for c in COLUMNS}
    columns["fnlwgt"] = NumericColumn(type="integer", min=1, max=1_500_000, bins="quantile", quantile_bins=10,
                                      quantile_share=0.05)
    return PublicDomain(columns, target="income")


def test_cut_points_are_charged_once_with_the_declared_share(adult, domain):
    private = PrivateData(adult[COLUMNS].iloc[:3000], domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0))
    with pytest.raises(PrivsynthError, match="not bought yet"):
        private.measure_marginal(("fnlwgt",), 10.0)
    assert private.odometer.charges == ()  # refused before charging
    view = private.with_quantile_bins()
    (charge,) = private.odometer.charges
    assert charge.mechanism == "exponential" and charge.label == "bins.quantile[fnlwgt]"
    assert charge.rho == pytest.approx(0.05 * zcdp_rho(1.0, 1e-9))
    edges = view.bought_edges["fnlwgt"]
    assert len(edges) == 9 and list(edges) == sorted(edges) and 1 < edges[0] and edges[-1] < 1_500_000
    assert view.coders["fnlwgt"].size == len(set(edges)) + 1 and view.with_quantile_bins() is view
    view.measure_marginal(("fnlwgt", "sex"), 10.0)  # usable now


def test_cut_points_are_accurate_with_budget(adult, domain):
    """At a large budget every cut point falls within 1% of the rows of its target rank."""
    rows = adult[COLUMNS].iloc[:5000]
    view = PrivateData(rows, domain, Odometer(400.0, 1e-9), NoiseSource.simulation(1)).with_quantile_bins()
    x = np.sort(rows["fnlwgt"].to_numpy(dtype=float))
    ranks = np.searchsorted(x, view.bought_edges["fnlwgt"], side="left") / len(x)
    assert np.abs(ranks - np.arange(1, 10) / 10).max() < 0.01


def test_draws_follow_the_exponential_mechanism_exactly(domain):
    """Six rows, five candidates, one level (the median), epsilon 2: the empirical frequencies of 4,000 draws
    match exp(-epsilon * score / (2 * sensitivity)), normalised (a noise too small would show as a skew)."""
    rows = pd.DataFrame({"age": [30] * 6, "fnlwgt": [10, 20, 30, 40, 50, 60], "sex": ["Male"] * 6,
                         "income": ["<=50K"] * 6})
    rows = PublicDomain(domain.columns).cast(rows)
    private = PrivateData(rows, domain, Odometer(10_000.0, 1e-9), NoiseSource.simulation(7))
    candidates = np.array([5.0, 25.0, 35.0, 45.0, 65.0])
    rho = 2.0**2 / 8
    picks = [private.dp_quantiles("fnlwgt", [0.5], candidates, rho)[0] for _ in range(4000)]
    below = np.array([0, 2, 3, 4, 6])
    score = np.abs(below - 0.5 * 6)
    expected = np.exp(-2.0 * score / (2 * 0.5))
    expected /= expected.sum()
    observed = np.array([np.mean(np.asarray(picks) == c) for c in candidates])
    assert np.abs(observed - expected).max() < 0.025
    assert sum(c.rho for c in private.odometer.charges) == pytest.approx(4000 * rho)


class Recording(PrivateData):
    tape: list

    def dp_quantiles(self, column, levels, candidates, rho, label="quantiles"):
        answer = super().dp_quantiles(column, levels, candidates, rho, label)
        self.tape.append((column, answer.copy()))
        return answer


class Replaying(PrivateData):
    tape: list

    def dp_quantiles(self, column, levels, candidates, rho, label="quantiles"):
        recorded_column, answer = self.tape.pop(0)
        assert recorded_column == column
        self.odometer.charge(f"{label}[{column}]", "exponential", rho)
        return answer


def test_a_neighbouring_table_changes_cut_points_only_through_the_mechanism(adult, domain):
    """Replace one row by an extreme one: replaying the first table's mechanism answers on the neighbour
    gives identical coders and codes for every other row; only the charged answers could differ."""
    rows = adult[COLUMNS].iloc[:3000].reset_index(drop=True)
    neighbour = rows.copy()
    neighbour.loc[0, "fnlwgt"] = 1_499_999
    recorded = Recording(rows, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0))
    recorded.tape = []
    first = recorded.with_quantile_bins()
    replay = Replaying(neighbour, domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(99))
    replay.tape = list(recorded.tape)
    second = replay.with_quantile_bins()
    assert first.coders == second.coders and first.bought_edges == second.bought_edges
    assert (first._codes[1:] == second._codes[1:]).all()
    assert [c.rho for c in recorded.odometer.charges] == [c.rho for c in replay.odometer.charges]
