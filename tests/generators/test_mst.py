"""MST: exact budget accounting, seeded sampling, and a sampler that keeps conditional independence."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr

from privsynth.generators.marginal._mbi import estimate_model
from privsynth.generators.marginal.mst import MST
from privsynth.privacy.noise import NoiseSource
from privsynth.privacy.odometer import Odometer
from privsynth.privacy.private_data import NoisyMarginal, PrivateData


def test_sampler_draws_children_of_one_parent_independently():
    """anchors.md pitfall 1: mbi 1.1.0's sampler makes two children of one parent comonotone. Truth here:
    X -> Y, X -> Z with Y, Z independent given X. Measured almost without noise, the sample must keep it."""
    rng = np.random.default_rng(0)
    n = 20000
    x = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    y = np.array([rng.choice(4, p=p) for p in np.array([[.4, .3, .2, .1], [.1, .2, .3, .4], [.25] * 4])[x]])
    z = np.array([rng.choice(4, p=p) for p in np.array([[.1, .1, .4, .4], [.4, .4, .1, .1], [.7, .1, .1, .1]])[x]])
    sizes = {"x": 3, "y": 4, "z": 4}

    def counts(*cols):
        data = {"x": x, "y": y, "z": z}
        shape = tuple(sizes[c] for c in cols)
        return np.bincount(np.ravel_multi_index(tuple(data[c] for c in cols), shape),
                           minlength=int(np.prod(shape))).reshape(shape).astype(float)

    measurements = [NoisyMarginal((c,), counts(c), 1e-3) for c in sizes]
    measurements += [NoisyMarginal(("x", "y"), counts("x", "y"), 1e-3), NoisyMarginal(("x", "z"), counts("x", "z"), 1e-3)]
    model = estimate_model(sizes, measurements, iters=300)
    sample = model.sample(n, np.random.default_rng(1))
    for a, b in itertools.combinations(range(3), 2):
        names = list(sizes)
        truth = counts(names[a], names[b]) / n
        shape = truth.shape
        got = np.bincount(np.ravel_multi_index((sample[:, a], sample[:, b]), shape),
                          minlength=truth.size).reshape(shape) / n
        assert 0.5 * np.abs(got - truth).sum() < 0.03, (names[a], names[b])
    for value in range(3):
        rows = sample[:, 0] == value
        rho, _ = spearmanr(sample[rows, 1], sample[rows, 2])
        assert abs(rho) < 0.1  # comonotone children would give |rho| near 1
    assert (model.sample(50, np.random.default_rng(5)) == model.sample(50, np.random.default_rng(5))).all()


@pytest.fixture(scope="module")
def fitted(adult, adult_domain):
    private = PrivateData(adult.iloc[:4000], adult_domain, Odometer.for_epsilon(1.0, 1e-9), NoiseSource.simulation(0))
    return MST(iters=200).fit(private), private


def test_budget_is_split_and_accounted_exactly(fitted, adult_domain):
    model, private = fitted
    d = len(adult_domain.names)
    kinds = [c.label.split("[")[0] for c in private.odometer.charges]
    assert kinds.count("mst.1way") == d and kinds.count("mst.select") == d - 1 and kinds.count("mst.2way") == d - 1
    assert private.odometer.spent_rho == pytest.approx(private.odometer.total_rho, rel=1e-9)
    assert model.guarantee_.epsilon <= 1.0 and model.guarantee_.dp
    assert len(model.tree_) == d - 1


def test_same_seed_same_table_and_public_domain(fitted, adult_domain):
    model, _ = fitted
    a, b, c = model.sample(500, seed=3), model.sample(500, seed=3), model.sample(500, seed=4)
    assert a.equals(b) and not a.equals(c)
    assert list(a.columns) == adult_domain.names
    assert a["age"].between(17, 90).all() and set(a["race"].dropna()) <= set(adult_domain.columns["race"].values)


def test_row_count_is_estimated_from_noisy_counts(fitted):
    model, _ = fitted
    assert abs(model.default_rows_ - 4000) < 400
