"""Private-PGM's estimator in numpy: mirror descent over the marginal polytope of a junction tree
(McKenna, Sheldon & Miklau, "Graphical-model based estimation and inference for differential privacy", ICML
2019, Algorithm 1), with log-space belief propagation as the marginal oracle.

Why not mbi's own ``mirror_descent``: it is written in jax and jit-compiles its update step, its loss and the
Lipschitz estimate anew for every model, and AIM builds a new model every round. Measured on Adult (AIM at
epsilon 1, 2 shared cores, bench/speed.py): 80-90% of a fit was jax tracing and XLA compilation, about 8 s per
round, while the models themselves stay small (under 25,000 cells after domain compression), so running one
iteration costs well under a millisecond in numpy. This module has no compile step; its iterations are the same
maths as mbi 1.1.0 (Armijo line search from step 2 / (L * total), L the Lipschitz constant of the loss
gradient), and tests/generators/test_inference.py compares its marginals with mbi's on small models.

Everything here is post-processing: its inputs are noisy measurements and public sizes only.

Tables are numpy arrays whose axes follow the model's column order (the order of ``sizes``). Any clique
written in that order broadcasts into any larger clique by inserting length-1 axes, so no table is ever
transposed.
"""
from __future__ import annotations

import functools
import math

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

Clique = tuple[str, ...]


def _axes_not_in(clique: Clique, kept: Clique) -> tuple[int, ...]:
    return tuple(i for i, c in enumerate(clique) if c not in kept)


def _broadcast_shape(sub: Clique, clique: Clique, sizes: Mapping[str, int]) -> tuple[int, ...]:
    return tuple(sizes[c] if c in sub else 1 for c in clique)


@dataclass(frozen=True)
class JunctionTree:
    """A junction tree (or forest) over the model's columns, with the bookkeeping belief propagation needs,
    worked out once per model so the iterations only add, exponentiate and sum.

    ``cliques`` are its maximal cliques in depth-first preorder (each in model column order) and ``parents``
    the index of each one's parent (-1 for a root); ``homes`` maps every model clique (potential) to the
    smallest tree clique containing it.
    """

    sizes: Mapping[str, int]
    cliques: tuple[Clique, ...]
    parents: tuple[int, ...]
    homes: Mapping[Clique, int]
    children: tuple[tuple[int, ...], ...]
    roots: tuple[int, ...]        # the root of each clique's tree
    up_axes: tuple[tuple[int, ...], ...]         # clique i's axes outside its separator
    down_axes: tuple[tuple[int, ...], ...]       # the parent's axes outside clique i's separator
    in_child: tuple[tuple[int, ...], ...]        # separator i broadcast into clique i
    in_parent: tuple[tuple[int, ...], ...]       # separator i broadcast into its parent
    potential_plans: Mapping[Clique, tuple[int, tuple[int, ...], tuple[int, ...]]]  # home, broadcast, sum axes

    @classmethod
    def build(cls, sizes: Mapping[str, int], cliques: Sequence[Clique], parents: Sequence[int],
              potentials: Sequence[Clique]) -> "JunctionTree":
        order = {c: i for i, c in enumerate(sizes)}
        ordered = tuple(tuple(sorted(clique, key=order.__getitem__)) for clique in cliques)
        plans = {}
        for potential in potentials:
            holders = [i for i, clique in enumerate(ordered) if set(potential) <= set(clique)]
            if not holders:
                raise ValueError(f"no junction-tree clique contains {potential}")
            home = min(holders, key=lambda i: (_cells(ordered[i], sizes), i))
            plans[potential] = (home, _broadcast_shape(potential, ordered[home], sizes),
                                _axes_not_in(ordered[home], potential))
        children: list[list[int]] = [[] for _ in ordered]
        roots: list[int] = []
        separators: list[Clique] = []
        for i, parent in enumerate(parents):
            if parent >= 0:
                children[parent].append(i)
            roots.append(i if parent < 0 else roots[parent])
            separators.append(() if parent < 0 else tuple(c for c in ordered[i] if c in ordered[parent]))
        parent_of = [ordered[p] if p >= 0 else () for p in parents]
        return cls(dict(sizes), ordered, tuple(parents), {p: plan[0] for p, plan in plans.items()},
                   tuple(map(tuple, children)), tuple(roots),
                   tuple(_axes_not_in(c, s) for c, s in zip(ordered, separators)),
                   tuple(_axes_not_in(p, s) for p, s in zip(parent_of, separators)),
                   tuple(_broadcast_shape(s, c, sizes) for c, s in zip(ordered, separators)),
                   tuple(_broadcast_shape(s, p, sizes) for p, s in zip(parent_of, separators)),
                   plans)

    def shape(self, i: int) -> tuple[int, ...]:
        return tuple(self.sizes[c] for c in self.cliques[i])

    @property
    def cells(self) -> int:
        return sum(_cells(clique, self.sizes) for clique in self.cliques)


def _cells(clique: Clique, sizes: Mapping[str, int]) -> int:
    return int(np.prod([sizes[c] for c in clique], dtype=np.int64))


def _sum_axes(table: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """``table.sum(axis=axes)``, in an order numpy runs fast on the junction tree's many-axis tables.

    Adjacent axes that are both summed (or both kept) are merged first (a free reshape); if summed groups
    remain apart, they are summed one at a time, the largest first, so each later pass reads a smaller
    table. One numpy call over interleaved axes iterates with the innermost kept axis as its inner loop,
    often of length 2 here: on a diabetes tree that took up to 15 times longer. The order is fixed by the
    shape alone, so a fit stays reproducible.
    """
    if len(axes) <= 1:
        return table.sum(axis=axes) if axes else table
    merged_shape, order, out_shape = _sum_plan(table.shape, axes)
    merged = table.reshape(merged_shape)
    for axis in order:
        merged = merged.sum(axis=axis)
    return merged.reshape(out_shape)


@functools.lru_cache(maxsize=4096)
def _sum_plan(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...],
                                                                       tuple[int, ...]]:
    """``_sum_axes``'s plan, a function of the shape alone (cached: a small fit calls it thousands of times
    on the same few shapes): the merged shape, the axes to sum one after another (as numbered when each is
    summed), and the result's shape."""
    merged: list[int] = []
    summed: list[bool] = []
    for i, size in enumerate(shape):
        if summed and summed[-1] == (i in axes):
            merged[-1] *= size
        else:
            merged.append(size)
            summed.append(i in axes)
    groups = sorted((g for g, s in enumerate(summed) if s), key=lambda g: (-merged[g], g))
    remaining, order = list(range(len(merged))), []
    for g in groups:
        order.append(remaining.index(g))
        remaining.remove(g)
    return tuple(merged), tuple(order), tuple(size for i, size in enumerate(shape) if i not in axes)


def _log_beliefs(tree: JunctionTree, potentials: Mapping[Clique, np.ndarray]) -> list[np.ndarray]:
    """Each tree clique's log-potential: the sum of the model cliques it is home to."""
    beliefs: list[np.ndarray | None] = [None] * len(tree.cliques)
    for potential, table in potentials.items():
        home, shape, _ = tree.potential_plans[potential]
        part = table.reshape(shape)
        beliefs[home] = part if beliefs[home] is None else beliefs[home] + part
    return [np.zeros(tree.shape(i)) if b is None else b if b.shape == tree.shape(i) else
            np.broadcast_to(b, tree.shape(i)) for i, b in enumerate(beliefs)]


def clique_marginals(tree: JunctionTree, potentials: Mapping[Clique, np.ndarray], total: float) -> list[np.ndarray]:
    """Each tree clique's marginal, summing to ``total``, by belief propagation (Hugin's two passes).

    Each clique's potential is exponentiated once, shifted by its maximum, and the passes then multiply and
    sum in probability space: upward, a clique sends its parent its table times its children's messages,
    summed over the columns it does not share; downward, the parent's calibrated table summed likewise and
    divided by that upward message. Messages are rescaled to a maximum of 1 and every clique is normalised at the
    end, so scale factors never need tracking (in a calibrated tree every clique has the same mass). A cell
    more than ~745 nats below its clique's maximum underflows to 0; it would hold a probability below 1e-300
    of that maximum, and a division 0/0 it causes is taken as 0 (the cells it multiplies are 0 too).
    Cliques in different trees of a forest share no column, so each tree is calibrated on its own.
    """
    tables = []
    for log_table in _log_beliefs(tree, potentials):
        # a trial step that overflowed a potential to +-inf gives inf - inf = NaN here: the line search rejects
        # it (its loss is not finite), so the warning would only alarm the steward
        with np.errstate(invalid="ignore"):
            tables.append(np.exp(log_table - log_table.max()))
    upward: list[np.ndarray] = [np.zeros(0)] * len(tables)
    for i in reversed(range(len(tables))):
        for child in tree.children[i]:
            tables[i] = tables[i] * upward[child].reshape(tree.in_parent[child])
        if tree.parents[i] >= 0:
            upward[i] = _rescaled(_sum_axes(tables[i], tree.up_axes[i]))
    for i in range(len(tables)):
        for child in tree.children[i]:
            # the upward message is constant along the parent's other axes, so dividing after summing over
            # them is the same quotient at the separator's size, not the parent's (on a diabetes round's
            # 819k-cell tree, 15% of an iteration)
            below = _sum_axes(tables[i], tree.down_axes[child])
            sent = upward[child]
            quotient = np.divide(below, sent, out=np.zeros_like(below), where=sent > 0)
            tables[child] = tables[child] * _rescaled(quotient).reshape(tree.in_child[child])
    # a too-long trial step of mirror descent can push every cell of a clique below the float range: its mass
    # is then 0 (or denormal) and the tables come out NaN or inf, which the line search rejects
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return [table * (total / table.sum()) for table in tables]


def _rescaled(message: np.ndarray) -> np.ndarray:
    top = message.max()
    return message / top if top > 0 else message


@dataclass(frozen=True)
class Measurement:
    """One noisy marginal, as the loss sees it: its clique (model column order), counts, sigma and the
    potential clique whose marginal its loss term reads (``_mbi.loss_homes``: mbi's choice)."""

    clique: Clique
    counts: np.ndarray
    sigma: float
    home: Clique


class MarginalLoss:
    """L(mu) = sum_k ||P_k mu - y_k||^2 / (2 sigma_k^2), P_k summing a potential clique's marginal down to
    measurement k's clique (the loss of mbi's ``from_linear_measurements``)."""

    def __init__(self, tree: JunctionTree, measurements: Sequence[Measurement]) -> None:
        self.tree = tree
        self.measurements = list(measurements)
        self._plans = [(m, _axes_not_in(m.home, m.clique), _broadcast_shape(m.clique, m.home, tree.sizes))
                       for m in self.measurements]

    def lipschitz(self) -> float:
        """Largest eigenvalue of the loss's Hessian. It is block diagonal (one block per potential clique) and
        each P_k^T P_k has the constant table as its top eigenvector, with eigenvalue |home| / |clique|, so
        the bound is max over potential cliques of sum_k |home| / (|clique_k| sigma_k^2). mbi reaches the same
        number by power iteration from the constant table."""
        per_home: dict[Clique, float] = {}
        sizes = self.tree.sizes
        for m in self.measurements:
            ratio = _cells(m.home, sizes) / _cells(m.clique, sizes)
            per_home[m.home] = per_home.get(m.home, 0.0) + ratio / m.sigma ** 2
        return max(per_home.values())

    def residuals(self, marginals: Mapping[Clique, np.ndarray]) -> tuple[float, list[np.ndarray]]:
        """The loss and each measurement's standardised residual (P_k mu - y_k) / sigma_k."""
        residuals = [(marginals[m.home].sum(axis=axes) if axes else marginals[m.home]) - m.counts
                     for m, axes, _ in self._plans]
        residuals = [r / m.sigma for r, (m, _, _) in zip(residuals, self._plans)]
        return 0.5 * sum(float(np.vdot(r, r)) for r in residuals), residuals

    def gradient(self, residuals: Sequence[np.ndarray], like: Mapping[Clique, np.ndarray]) -> dict[Clique, np.ndarray]:
        """dL/dmu per potential clique: each residual / sigma, broadcast back over its home clique."""
        gradient = {c: np.zeros_like(t) for c, t in like.items()}
        for r, (m, _, shape) in zip(residuals, self._plans):
            gradient[m.home] += (r / m.sigma).reshape(shape)
        return gradient


def potential_marginals(tree: JunctionTree, potentials: Mapping[Clique, np.ndarray],
                        total: float) -> tuple[dict[Clique, np.ndarray], list[np.ndarray]]:
    """Marginals over every potential clique (summed from its home tree clique) and over every tree clique."""
    tables = clique_marginals(tree, potentials, total)
    out = {}
    for potential in potentials:
        home, _, axes = tree.potential_plans[potential]
        out[potential] = _sum_axes(tables[home], axes)
    return out, tables


def mirror_descent(tree: JunctionTree, loss: MarginalLoss, potentials: dict[Clique, np.ndarray], total: float,
                   iters: int) -> tuple[dict[Clique, np.ndarray], list[np.ndarray]]:
    """``iters`` steps of entropic mirror descent with mbi's Armijo line search; returns the potentials and
    the tree cliques' marginals at the last accepted point.

    A step theta - alpha * grad is kept when the loss falls by at least alpha/2 * <grad, mu - mu'> (then alpha
    grows by 1%), otherwise alpha halves and theta stays. mbi recomputes the marginals at the start of every
    iteration; they are those of the last accepted point, which this loop keeps instead of recomputing.
    """
    alpha = 2.0 / (loss.lipschitz() * total)
    marginals, tables = potential_marginals(tree, potentials, total)
    value, residuals = loss.residuals(marginals)
    gradient = loss.gradient(residuals, marginals)
    for _ in range(iters):
        trial = {c: potentials[c] - alpha * gradient[c] for c in potentials}
        trial_marginals, trial_tables = potential_marginals(tree, trial, total)
        trial_value, trial_residuals = loss.residuals(trial_marginals)
        decrease = sum(float(np.vdot(gradient[c], marginals[c] - trial_marginals[c])) for c in gradient)
        if math.isfinite(trial_value) and value - trial_value >= 0.5 * alpha * decrease:
            potentials, marginals, tables, value = trial, trial_marginals, trial_tables, trial_value
            gradient = loss.gradient(trial_residuals, marginals)
            alpha *= 1.01
        else:
            alpha *= 0.5
    return potentials, tables
