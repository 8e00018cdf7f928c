"""The Private-PGM adapter: fitting from noisy marginals, our junction-tree sampler, and input checks.

Truths are exact count tables (every cell an integer), measured with tiny Gaussian noise, so the fitted model
should equal the truth and any sampling error is the sampler's (plus multinomial noise, bounded below).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import spearmanr

from privsynth.generators.marginal._mbi import NoisyMarginal, estimate_model, noisy_total

SIGMA = 1e-3


def tvd(p: np.ndarray, q: np.ndarray) -> float:
    return 0.5 * float(np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def measure(joint: np.ndarray, names: str, clique: str, rng: np.random.Generator) -> NoisyMarginal:
    """Counts of ``joint`` (axes named by the letters of ``names``) over ``clique``, plus N(0, SIGMA^2)."""
    counts = joint.sum(axis=tuple(i for i, c in enumerate(names) if c not in clique))
    return NoisyMarginal(tuple(clique), counts + rng.normal(0.0, SIGMA, counts.shape), SIGMA)


def empirical(sample: np.ndarray, axes: tuple[int, ...], shape: tuple[int, ...]) -> np.ndarray:
    flat = np.ravel_multi_index(tuple(sample[:, a] for a in axes), shape)
    return np.bincount(flat, minlength=int(np.prod(shape))).reshape(shape) / len(sample)


# X -> Y, X -> Z with Y, Z independent given X; every cell n * p is an integer
N_FORK = 20000
PX = np.array([0.5, 0.3, 0.2])
PY = np.array([[0.4, 0.3, 0.2, 0.1], [0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25]])
PZ = np.array([[0.1, 0.1, 0.4, 0.4], [0.4, 0.4, 0.1, 0.1], [0.7, 0.1, 0.1, 0.1]])
FORK = N_FORK * PX[:, None, None] * PY[:, :, None] * PZ[:, None, :]


@pytest.fixture(scope="module")
def fork():
    rng = np.random.default_rng(0)
    measurements = [measure(FORK, "xyz", c, rng) for c in ("x", "y", "z", "xy", "xz")]
    model = estimate_model({"x": 3, "y": 4, "z": 4}, measurements, iters=500)
    return model, model.sample(N_FORK, np.random.default_rng(1))


def conditional_independence_gap(sample: np.ndarray) -> tuple[float, float]:
    """Worst TVD of (Y, Z | X=x) from P(Y|x)P(Z|x), and worst |Spearman rho(Y, Z | X=x)|, over x."""
    gaps, rhos = [], []
    for x in range(3):
        rows = sample[sample[:, 0] == x]
        gaps.append(tvd(empirical(rows, (1, 2), (4, 4)), np.outer(PY[x], PZ[x])))
        rhos.append(abs(spearmanr(rows[:, 1], rows[:, 2])[0]))
    return max(gaps), max(rhos)


def test_fork_sample_keeps_two_way_marginals(fork):
    _, sample = fork
    for (a, b) in itertools.combinations(range(3), 2):
        truth = FORK.sum(axis=3 - a - b) / N_FORK
        assert tvd(empirical(sample, (a, b), truth.shape), truth) < 0.03, (a, b)


def test_children_of_one_parent_are_drawn_independently(fork):
    """mbi 1.1.0's rounding sampler makes Y and Z comonotone given X; ours must not."""
    _, sample = fork
    gap, rho = conditional_independence_gap(sample)
    assert gap < 0.05 and rho < 0.1
    # control: the comonotone coupling (Y and Z sorted together within each X group) fails the same check
    coupled = sample.copy()
    for x in range(3):
        rows = np.flatnonzero(sample[:, 0] == x)
        coupled[rows, 1], coupled[rows, 2] = np.sort(sample[rows, 1]), np.sort(sample[rows, 2])
    bad_gap, bad_rho = conditional_independence_gap(coupled)
    assert bad_gap > 0.3 and bad_rho > 0.5


def test_marginals_sum_to_one_and_match_measured_truth(fork):
    model, _ = fork
    assert model.columns == ("x", "y", "z")
    assert {frozenset(c) for c in model.cliques} == {frozenset("xy"), frozenset("xz")}
    for clique in ("xy", "xz", "yz", "xyz"):
        estimate = model.marginal(tuple(clique))
        assert estimate.sum() == pytest.approx(1.0, abs=1e-12)
        truth = FORK.sum(axis=tuple(i for i, c in enumerate("xyz") if c not in clique)) / N_FORK
        assert tvd(estimate, truth) < 1e-4, clique
    np.testing.assert_allclose(model.marginal(("z", "x")), model.marginal(("x", "z")).T, atol=1e-12)
    assert model.total == pytest.approx(N_FORK, abs=0.5)


def test_a_cliques_counts_are_the_models_within_one_row(fork):
    """Stratified allocation: the first clique's counts are n * P within one row, and each later clique's new
    column within one row of its group's n_g * P(new | separator) (independent draws: off by sqrt(n p))."""
    model, sample = fork
    (first, *_), n = model.cliques, len(sample)
    axes = tuple("xyz".index(c) for c in first)
    counts = empirical(sample, axes, model.marginal(first).shape) * n
    assert np.abs(counts - n * model.marginal(first)).max() < 1
    other = next(c for c in model.cliques if c != first)
    separator, new = [c for c in other if c in first], [c for c in other if c not in first]
    joint = model.marginal((*separator, *new))
    for s in range(joint.shape[0]):
        rows = sample[sample[:, "xyz".index(separator[0])] == s]
        got = np.bincount(rows[:, "xyz".index(new[0])], minlength=joint.shape[1])
        assert np.abs(got - len(rows) * joint[s] / joint[s].sum()).max() < 1, s


def test_stratified_rows_are_unbiased_across_cliques(fork):
    """Each cell of the full joint (which spans both cliques) is hit n * P(x, y, z) times on average, at a
    small n where rounding matters: the allocation shifts no mass."""
    model, _ = fork
    n, draws = 37, 2000
    rng = np.random.default_rng(7)
    total = sum(empirical(model.sample(n, rng), (0, 1, 2), (3, 4, 4)) for _ in range(draws)) / draws
    truth = FORK / N_FORK
    assert np.abs(total - truth).max() < 0.004  # 4 standard errors of the largest cell's mean share (p 0.08)
    assert tvd(total, truth) < 0.02


def test_same_seed_same_rows_other_seed_other_rows(fork):
    model, _ = fork
    a, b = model.sample(500, np.random.default_rng(5)), model.sample(500, np.random.default_rng(5))
    c = model.sample(500, np.random.default_rng(6))
    assert a.dtype == np.int64 and a.shape == (500, 3)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert model.sample(0, np.random.default_rng(0)).shape == (0, 3)


# chain A -> B -> C, plus W that is never measured
N_CHAIN = 30000
PA = np.array([0.2, 0.3, 0.5])
PB_A = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.6, 0.2, 0.1], [0.1, 0.1, 0.3, 0.5]])
PC_B = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]])
CHAIN = N_CHAIN * PA[:, None, None] * PB_A[:, :, None] * PC_B[None, :, :]


@pytest.fixture(scope="module")
def chain():
    rng = np.random.default_rng(2)
    measurements = [measure(CHAIN, "abc", c, rng) for c in ("a", "b", "c", "ab", "bc")]
    return estimate_model({"a": 3, "b": 4, "c": 3, "w": 5}, measurements, iters=500)


def test_chain_sample_follows_the_model_through_the_separator(chain):
    implied = np.einsum("ab,bc->ac", chain.marginal(("a", "b")),  # sum_b P(a, b) P(c | b)
                        chain.marginal(("b", "c")) / chain.marginal(("b",))[:, None])
    np.testing.assert_allclose(chain.marginal(("a", "c")), implied, atol=1e-9)  # out-of-clique path
    np.testing.assert_allclose(implied, CHAIN.sum(axis=1) / N_CHAIN, atol=1e-4)
    sample = chain.sample(N_CHAIN, np.random.default_rng(3))
    for a in range(3):
        rows = sample[sample[:, 0] == a]
        got = np.bincount(rows[:, 2], minlength=3) / len(rows)
        assert tvd(got, implied[a] / implied[a].sum()) < 0.03, a


def test_unmeasured_column_is_uniform_and_independent(chain):
    assert ("w",) in chain.cliques
    np.testing.assert_allclose(chain.marginal(("w",)), np.full(5, 0.2), atol=1e-9)
    np.testing.assert_allclose(chain.marginal(("a", "w")), np.outer(PA, np.full(5, 0.2)), atol=1e-4)
    sample = chain.sample(N_CHAIN, np.random.default_rng(4))
    assert tvd(np.bincount(sample[:, 3], minlength=5) / N_CHAIN, np.full(5, 0.2)) < 0.02


def test_cycle_is_triangulated_and_sampled_from_its_cliques():
    """Measuring the 4-cycle a-b-c-d-a forces fill-in: 3-column cliques joined by a 2-column separator,
    whose marginals come from message passing rather than from the fitted measured cliques."""
    sizes = {"a": 2, "b": 3, "c": 4, "d": 3}
    rng = np.random.default_rng(7)
    weights = rng.integers(1, 40, size=tuple(sizes.values())).astype(float)
    measurements = [measure(weights, "abcd", c, rng) for c in ("ab", "bc", "cd", "ad", "a", "b", "c", "d")]
    model = estimate_model(sizes, measurements, iters=500)
    assert sorted(len(c) for c in model.cliques) == [3, 3]
    sample = model.sample(40000, np.random.default_rng(8))
    for pair in itertools.combinations("abcd", 2):
        axes = tuple("abcd".index(c) for c in pair)
        estimate = model.marginal(pair)
        assert estimate.sum() == pytest.approx(1.0, abs=1e-12)
        assert tvd(empirical(sample, axes, estimate.shape), estimate) < 0.03, pair
    for pair in ("ab", "bc", "cd", "ad"):
        truth = weights.sum(axis=tuple(i for i, c in enumerate("abcd") if c not in pair))
        assert tvd(model.marginal(tuple(pair)), truth / truth.sum()) < 0.01, pair


def test_total_is_the_inverse_variance_mean_of_noisy_sums():
    estimate = noisy_total([(("a",), np.array([400.0, 600.0]), 1.0),  # sum 1000, variance 2
                            (("b",), np.full(4, 500.0), 10.0)])      # sum 2000, variance 400
    assert estimate == pytest.approx((1000 / 2 + 2000 / 400) / (1 / 2 + 1 / 400), rel=1e-12)


def test_flat_counts_are_accepted():
    counts = FORK.sum(axis=2)
    shaped = estimate_model({"x": 3, "y": 4}, [NoisyMarginal(("y", "x"), counts.T, 1.0)], iters=300)
    flat = estimate_model({"x": 3, "y": 4}, [NoisyMarginal(("y", "x"), counts.T.ravel(), 1.0)], iters=300)
    np.testing.assert_allclose(shaped.marginal(("x", "y")), flat.marginal(("x", "y")), atol=1e-12)
    assert tvd(flat.marginal(("x", "y")), counts / N_FORK) < 1e-3


@pytest.mark.parametrize("measurement, message", [
    (NoisyMarginal(("x", "nope"), np.zeros((3, 2)), 1.0), "nope"),
    (NoisyMarginal(("x", "y"), np.zeros((4, 3)), 1.0), "shape"),
    (NoisyMarginal(("x", "y"), np.zeros(11), 1.0), "shape"),
    (NoisyMarginal(("x",), np.zeros(3), 0.0), "sigma"),
    (NoisyMarginal(("x",), np.zeros(3), -1.0), "sigma"),
    (NoisyMarginal(("x",), np.zeros(3), float("nan")), "sigma"),
    (NoisyMarginal(("x",), np.array([1.0, np.inf, 2.0]), 1.0), "finite"),
    (NoisyMarginal(("x", "x"), np.zeros((3, 3)), 1.0), "distinct"),
])
def test_bad_measurements_raise_value_error(measurement, message):
    with pytest.raises(ValueError, match=message):
        estimate_model({"x": 3, "y": 4}, [measurement])


def test_bad_arguments_raise_value_error(fork):
    good = [NoisyMarginal(("x",), np.ones(3), 1.0)]
    with pytest.raises(ValueError, match="at least one"):
        estimate_model({"x": 3}, [])
    with pytest.raises(ValueError, match="sizes"):
        estimate_model({"x": 0}, good)
    with pytest.raises(ValueError, match="iters"):
        estimate_model({"x": 3}, good, iters=-1)
    model, _ = fork
    with pytest.raises(ValueError, match="unknown"):
        model.marginal(("x", "nope"))
    with pytest.raises(ValueError, match="non-negative"):
        model.sample(-1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="Generator"):
        model.sample(10, np.random.RandomState(0))


def test_model_cliques_do_not_depend_on_the_order_measurements_come_in():
    """The clique order shapes the junction tree, hence which rows a seed draws: it must not follow set order
    (string hashes differ between processes, so a shadow run on a dask worker would sample other rows)."""
    from privsynth.generators.marginal._mbi import _model_cliques

    measured = [("a", "b"), ("c", "d"), ("b", "c"), ("a",), ("e", "a"), ("d", "b")]
    expected = _model_cliques(measured, ("a", "b", "c", "d", "e", "f"))
    assert expected == [("a", "b"), ("b", "c"), ("c", "d"), ("d", "b"), ("e", "a"), ("f",)]
    for shift in range(1, len(measured)):
        assert _model_cliques(measured[shift:] + measured[:shift], ("a", "b", "c", "d", "e", "f")) == expected


def test_variable_elimination_equals_the_full_einsum():
    """``_contract`` sums out columns one step at a time (batched matrix products); whatever the steps, the
    answer is the one-shot einsum of all the tables. The tables share columns in every pattern a step meets:
    a column held by one table, by two (with shared batch columns) and by three."""
    from privsynth.generators.marginal._mbi import _contract

    sizes = {"a": 2, "b": 3, "c": 4, "d": 5, "e": 3, "f": 2}
    rng = np.random.default_rng(11)
    operands = [(rng.random((2, 3, 4)), ("a", "b", "c")), (rng.random((4, 5)), ("c", "d")),
                (rng.random((3, 5, 3)), ("b", "d", "e")), (rng.random((5, 2)), ("d", "f")),
                (rng.random((3, 2)), ("e", "f")), (rng.random((4,)), ("c",))]
    subscripts = ",".join("".join(labels) for _, labels in operands)
    for out in [("a",), ("f", "a"), ("e", "c", "a"), ("d", "b", "f"), ()]:
        expected = np.einsum(f"{subscripts}->{''.join(out)}", *[table for table, _ in operands])
        np.testing.assert_allclose(_contract(operands, out, sizes), expected, rtol=1e-12, atol=0)
