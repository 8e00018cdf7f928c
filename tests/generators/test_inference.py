"""Our numpy Private-PGM against mbi 1.1.0's jax original on small models: the same marginals from the same
potentials, and the same fitted model from the same noisy measurements. Both of our paths are checked: the
clique-by-clique one (inference.py) and the flat one for small trees (flat_inference.py)."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from privsynth.generators.marginal import flat_inference
from privsynth.generators.marginal._mbi import _model_cliques, junction_tree, loss_homes
from privsynth.generators.marginal.inference import (JunctionTree, MarginalLoss, Measurement, clique_marginals,
                                                     mirror_descent)

DESCENTS = {"cliques": mirror_descent, "flat": flat_inference.mirror_descent}

SIZES = {"a": 3, "b": 4, "c": 2, "d": 5, "e": 3}
#: a 4-cycle a-b-c-d (needs fill-in), e hanging off d, and a clique nested in another's home
CLIQUES = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("d", "e"), ("e",)]


def _tree(cliques):
    return JunctionTree.build(SIZES, *junction_tree(SIZES, cliques), cliques)


def _marginals(path, tree, potentials, total):
    """Belief propagation alone: the clique path's oracle, or the flat path's zero-iteration descent (its tables
    are the starting point's marginals; the one measurement only gives it a loss to set up)."""
    if path == "cliques":
        return clique_marginals(tree, potentials, total)
    loss = MarginalLoss(tree, [Measurement(("e",), np.ones(SIZES["e"]), 1.0, ("e",))]) if ("e",) in potentials \
        else MarginalLoss(tree, [Measurement(("d",), np.ones(SIZES["d"]), 1.0, ("d",))])
    return flat_inference.mirror_descent(tree, loss, potentials, total, iters=0)[1]


def _mbi_domain():
    from mbi import Domain

    return Domain(tuple(SIZES), tuple(SIZES.values()))


@pytest.mark.parametrize("path", DESCENTS)
@pytest.mark.parametrize("scale", [0.5, 8.0])  # 8: potentials spanning e^-40..e^40, near the underflow guard
def test_belief_propagation_matches_mbi(scale, path):
    from mbi import CliqueVector, Factor, marginal_oracles

    rng = np.random.default_rng(0)
    potentials = {c: scale * rng.normal(size=[SIZES[x] for x in c]) for c in CLIQUES}
    tree = _tree(CLIQUES)
    ours = _marginals(path, tree, potentials, total=1000.0)
    domain = _mbi_domain()
    vector = CliqueVector(domain, CLIQUES, {c: Factor(domain.project(c), potentials[c]) for c in CLIQUES})
    theirs = marginal_oracles.message_passing_stable(vector.expand(list(tree.cliques)), total=1000.0)
    for clique, table in zip(tree.cliques, ours):
        expected = np.asarray(theirs[clique].values)
        np.testing.assert_allclose(table, expected, rtol=1e-9, atol=1e-9 * 1000)
        assert table.sum() == pytest.approx(1000.0, rel=1e-12)


@pytest.mark.parametrize("path", DESCENTS)
def test_forest_cliques_are_normalised_separately(path):
    potentials = {("a", "b"): np.log(np.arange(1.0, 13.0).reshape(3, 4)), ("d",): np.zeros(5)}
    tree = _tree(list(potentials))
    tables = dict(zip(tree.cliques, _marginals(path, tree, potentials, total=60.0)))
    np.testing.assert_allclose(tables[("a", "b")], np.arange(1.0, 13.0).reshape(3, 4) * 60 / 78)
    np.testing.assert_allclose(tables[("d",)], np.full(5, 12.0))


#: 1-way measurements inside several 2-way ones, the first of which is not the smallest: mbi's choice of
#: holder sets the step size, and 60 iterations are far from converged, so any other choice shows
MEASURED = [("a",), ("b",), ("c",), ("d",), ("e",), ("a", "d"), ("d", "e"), ("a", "b"), ("b", "c"), ("c", "d")]


def _measured_model(measured=MEASURED, seed: int = 1):
    """Noisy measurements of a random table over SIZES: (tree, loss, zero potentials, total, the same
    measurements for mbi)."""
    from mbi import LinearMeasurement

    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 30, size=tuple(SIZES.values())).astype(float)
    names = "".join(SIZES)
    sigmas = rng.uniform(2.0, 10.0, size=len(measured))
    sigmas[0] = 0.5  # the precise 1-way of a sets the Lipschitz bound, through the clique that holds it
    counts = {c: truth.sum(axis=tuple(i for i, x in enumerate(names) if x not in c)) + rng.normal(0, s, [SIZES[x] for x in c])
              for c, s in zip(measured, sigmas)}
    total = float(truth.sum())
    cliques = _model_cliques(measured, tuple(SIZES))
    tree = _tree(cliques)
    holders = loss_homes(measured)
    loss = MarginalLoss(tree, [Measurement(c, counts[c], s, holders[c]) for c, s in zip(measured, sigmas)])
    zeros = {c: np.zeros([SIZES[x] for x in c]) for c in cliques}
    return tree, loss, zeros, total, [LinearMeasurement(counts[c].ravel(), c, s) for c, s in zip(measured, sigmas)]


@pytest.mark.parametrize("path", DESCENTS)
def test_mirror_descent_matches_mbi(path):
    """Same measurements, same iterations: the same model (mbi's line search, step size and Lipschitz bound)."""
    from mbi.estimation import mirror_descent as mbi_mirror_descent

    tree, loss, zeros, total, linear = _measured_model()
    _, ours = DESCENTS[path](tree, loss, zeros, total, iters=60)  # 60: far from converged, the path must match
    theirs = mbi_mirror_descent(_mbi_domain(), linear, known_total=total, iters=60)
    assert loss.lipschitz() == pytest.approx(float(_mbi_lipschitz(linear)), rel=1e-6)
    for clique, table in zip(tree.cliques, ours):
        expected = np.asarray(theirs.project(clique).values)
        np.testing.assert_allclose(table, expected, rtol=1e-6, atol=1e-9 * total)


def test_the_flat_path_returns_the_clique_paths_potentials_and_tables():
    """The flat path steps on tree cliques and rebuilds the model cliques' potentials at the end; a warm start
    of the next AIM round reads those potentials, so they must be the clique path's, not only the tables."""
    # a 3-way clique holding a 1-way and a 2-way, and three cliques hanging off one: a product of several
    # children's messages per cell, which the flat path takes one child at a time
    measured = [("a",), ("c", "e"), ("a", "b", "c"), ("c", "d"), ("a", "b"), ("b", "e"), ("c",)]
    tree, loss, zeros, total, _ = _measured_model(measured, seed=2)
    assert any(len(children) > 1 for children in tree.children)  # a product of several messages per cell
    flat_potentials, flat_tables = flat_inference.mirror_descent(tree, loss, zeros, total, iters=40)
    potentials, tables = mirror_descent(tree, loss, zeros, total, iters=40)
    assert flat_potentials.keys() == potentials.keys()
    for clique in potentials:
        np.testing.assert_allclose(flat_potentials[clique], potentials[clique], rtol=1e-9, atol=1e-9)
    for ours, theirs in zip(flat_tables, tables):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9 * total)


def _mbi_lipschitz(linear):
    from mbi import marginal_loss

    return marginal_loss.from_linear_measurements(linear, domain=_mbi_domain()).lipschitz


def test_sum_axes_equals_numpy_sum_over_every_axis_set():
    """``_sum_axes`` reorders a many-axis reduction for speed; it must still be ``table.sum(axis=axes)``."""
    from privsynth.generators.marginal.inference import _sum_axes

    table = np.random.default_rng(5).random((3, 4, 2, 5, 2, 3))
    for k in range(table.ndim + 1):
        for axes in itertools.combinations(range(table.ndim), k):
            np.testing.assert_allclose(_sum_axes(table, axes), table.sum(axis=axes), rtol=1e-12, atol=0)
