"""Adapter to Private-PGM (``mbi`` 1.1.0): the only file in privsynth that imports it.

Private-PGM turns noisy marginals into a graphical model by mirror descent over the marginal polytope. It only
ever sees the Gaussian-noised measurements, so fitting and sampling are post-processing and cost no budget.

We do NOT use mbi 1.1.0's ``synthetic_data``. It conditions each new column on the *measured* cliques rather
than on the junction tree's maximal cliques, and its rounding sampler ranks each parent group's rows by
position, so two columns drawn from the same parents come out comonotone (a real run gave
P(>50K | Divorced) = 0.000). ``MarginalModel.sample`` instead walks the junction tree and gives the rows of
each separator value their new columns in proportion to P(new | separator) (stratified: unbiased, with far
less sampling error than independent draws), in a fresh random order per clique, so no two columns are coupled.

Inference is ours too (``inference.py``: Private-PGM's mirror descent in numpy, because mbi's jax version
spent most of every AIM fit compiling). What this file still takes from mbi is its junction tree: the greedy
elimination order, triangulation and maximal-clique spanning tree of ``mbi.junction_tree`` (networkx, no jax
computation). mbi is imported lazily: importing it pulls in jax and switches on ``jax_enable_x64``.
"""
from __future__ import annotations

import functools
import itertools
import logging
import math
from typing import Mapping, Sequence

import numpy as np

from privsynth.generators.marginal import flat_inference
from privsynth.generators.marginal.inference import JunctionTree, MarginalLoss, Measurement, mirror_descent
from privsynth.privacy.private_data import NoisyMarginal

__all__ = ["NoisyMarginal", "MarginalModel", "estimate_model", "model_size_mb", "noisy_total"]

log = logging.getLogger(__name__)

Clique = tuple[str, ...]


class MarginalModel:
    """A fitted graphical model. Post-processing only: it saw noisy measurements only.

    ``total`` is the row count estimated from the noisy measurements, never the private count. ``potentials``
    (log-space, per model clique) let the next fit warm-start from this one.
    """

    def __init__(self, potentials: Mapping[Clique, np.ndarray], sizes: Mapping[str, int],
                 tables: Mapping[Clique, np.ndarray], total: float):
        self.potentials = dict(potentials)
        self.columns: tuple[str, ...] = tuple(sizes)
        self._sizes = {c: int(s) for c, s in sizes.items()}
        self._tables = dict(tables)  # maximal clique -> probabilities, in a running-intersection order
        self.total = float(total)
        self._cached_factors: list[tuple[np.ndarray, Clique, Clique]] | None = None
        self._reductions: dict[tuple[int, Clique], tuple[np.ndarray, Clique]] = {}
        self._homes: dict[frozenset[str], Clique] | None = None
        self._parts: dict[Clique, np.ndarray] = {}
        self._trees: dict[str, int] | None = None
        missing = set(self.columns) - {c for clique in self._tables for c in clique}
        if missing:
            raise ValueError(f"junction tree does not cover columns {sorted(missing)}")

    @property
    def cliques(self) -> tuple[Clique, ...]:
        """Maximal cliques of the junction tree, in sampling order (each one's overlap with the earlier
        ones lies inside a single earlier clique, its parent: the running-intersection property)."""
        return tuple(self._tables)

    def marginal(self, columns: Sequence[str]) -> np.ndarray:
        """Estimated probabilities over ``columns`` (axes in the given order, shape by sizes), summing to 1.

        Read off a maximal clique when one contains the columns; columns in different trees of the junction
        forest are independent, so their marginal is the product of each tree's; otherwise summed out of the
        junction tree.
        """
        columns = self._check_columns(columns)
        return _normalise(self._unnormalised(columns))

    def marginals(self, cliques: Sequence[Clique]) -> list[np.ndarray]:
        """``marginal`` of each clique, for many at once (see ``estimate``)."""
        return [self.estimate(clique) for clique in cliques]

    def estimate(self, clique: Sequence[str]) -> np.ndarray:
        """``marginal`` of ``clique``, for AIM's candidates (thousands, every round): the columns are split by
        tree of the junction forest and the parts multiplied (outer products of distributions, already
        normalised). A part smaller than the clique is kept for the next clique that needs it; whole
        candidates are not kept (on a wide table they would outweigh the model many times over)."""
        clique = tuple(clique)
        if not set(clique) <= self._sizes.keys():
            self._check_columns(clique)  # raises, naming the unknown columns
        product, order = None, ()
        for part in self._split(clique):
            if part == clique:
                table = _normalise(self._within_tree(part))
            else:
                if part not in self._parts:
                    self._parts[part] = _normalise(self._within_tree(part))
                table = self._parts[part]
            product = table if product is None else np.multiply.outer(product, table)
            order += part
        return product if order == clique else np.transpose(product, [order.index(c) for c in clique])

    def _unnormalised(self, columns: Clique) -> np.ndarray:
        parts = self._split(columns)
        if len(parts) == 1:
            return self._within_tree(columns)
        return _einsum([(_normalise(self._within_tree(part)), part) for part in parts], columns)

    def _split(self, columns: Clique) -> list[Clique]:
        """``columns`` grouped by tree of the junction forest (columns of different trees are independent)."""
        trees: dict[int, list[str]] = {}
        tree_of = self._tree_of()
        for column in columns:
            trees.setdefault(tree_of[column], []).append(column)
        return [tuple(group) for group in trees.values()]

    def _within_tree(self, columns: Clique) -> np.ndarray:
        home = self._home(columns)
        if home is not None:
            return _project(self._tables[home], home, columns)
        return self._eliminate(columns)

    def _home(self, columns: Clique) -> Clique | None:
        """The first maximal clique containing ``columns`` (looked up in a table of every clique's subsets of
        up to three columns, AIM asks this for every candidate every round; larger sets are searched)."""
        if self._homes is None:
            self._homes = {}
            for clique in self._tables:
                for k in range(1, min(3, len(clique)) + 1):
                    for subset in itertools.combinations(clique, k):
                        self._homes.setdefault(frozenset(subset), clique)
        if len(columns) <= 3:
            return self._homes.get(frozenset(columns))
        return next((clique for clique in self._tables if set(columns) <= set(clique)), None)

    def _tree_of(self) -> dict[str, int]:
        """Each column's tree in the junction forest (numbered by the clique that starts it)."""
        if self._trees is None:
            self._trees, tree = {}, -1
            for k, (_, labels, new) in enumerate(self._factors()):
                if len(labels) == len(new):  # no separator: this clique starts a new tree
                    tree = k
                self._trees.update(dict.fromkeys(new, tree))
        return self._trees

    def _eliminate(self, columns: Clique) -> np.ndarray:
        """Out-of-clique marginal by summing the junction-tree factorisation P(C1) prod_k P(new_k | sep_k).

        Only factors that introduce a needed column are kept (walking the tree backwards: the others sum to
        one), each first summed over its new columns that neither the query nor a later factor's separator
        uses (a conditional summed over some of its own columns is still a conditional); the rest is variable
        elimination (``_contract``). AIM asks this for hundreds of candidate marginals every round.
        """
        factors = self._factors()
        needed, chosen = set(columns), []
        for k in reversed(range(len(factors))):
            if needed & set(factors[k][2]):
                chosen.append(k)
                needed |= set(factors[k][1])
        chosen.reverse()
        operands = [self._reduced_factor(k, set(columns).union(*[factors[j][1] for j in chosen[i + 1:]]))
                    for i, k in enumerate(chosen)]
        return _contract(operands, columns, self._sizes)

    def _reduced_factor(self, k: int, later: set[str]) -> tuple[np.ndarray, Clique]:
        """Factor k summed over its new columns outside ``later`` (memoised: candidates share reductions)."""
        table, labels, new = self._factors()[k]
        kept = tuple(c for c in labels if c not in new or c in later)
        key = (k, kept)
        if key not in self._reductions:
            self._reductions[key] = (_project(table, labels, kept), kept)
        return self._reductions[key]

    def _factors(self) -> list[tuple[np.ndarray, Clique, Clique]]:
        """(P(new | separator) over separator + new, those labels, the new columns) per clique, in order."""
        if self._cached_factors is None:
            drawn: set[str] = set()
            self._cached_factors = []
            for clique, table in self._tables.items():
                separator = tuple(c for c in clique if c in drawn)
                new = tuple(c for c in clique if c not in drawn)
                joint = _project(table, clique, separator + new)
                below = joint.sum(axis=tuple(range(len(separator), joint.ndim)), keepdims=True)
                conditional = np.divide(joint, below, out=np.zeros_like(joint), where=below > 0)
                self._cached_factors.append((conditional, separator + new, new))
                drawn.update(new)
        return self._cached_factors

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n rows of int64 codes, shape (n, len(columns)), columns in ``self.columns`` order.

        The first maximal clique is drawn jointly; each later clique draws its new columns from
        P(new | separator) at the rows' own separator values (``_draw_rows``: stratified within each separator
        value, in a random order of its rows). The product P(C1) * prod_k P(new_k | sep_k) is exactly the
        junction-tree factorisation of the model, so each cell's expected count is the model's; the random
        order per clique keeps siblings conditionally independent.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        position = {c: i for i, c in enumerate(self.columns)}
        codes = np.zeros((int(n), len(self.columns)), dtype=np.int64)
        drawn: set[str] = set()
        for clique, table in self._tables.items():
            separator = tuple(c for c in clique if c in drawn)
            new = tuple(c for c in clique if c not in drawn)
            if not new:
                continue
            new_shape = tuple(self._sizes[c] for c in new)
            joint = _project(table, clique, separator + new).reshape(-1, int(np.prod(new_shape)))
            groups = self._separator_index(codes, separator, position)
            flat = _draw_rows(_conditionals(joint), groups, rng)
            for column, values in zip(new, np.unravel_index(flat, new_shape)):
                codes[:, position[column]] = values
            drawn.update(new)
        return codes

    def _separator_index(self, codes: np.ndarray, separator: Clique, position: Mapping[str, int]) -> np.ndarray:
        """Each row's flat cell index in the separator's table (all zeros for an empty separator)."""
        if not separator:
            return np.zeros(len(codes), dtype=np.int64)
        return np.ravel_multi_index(tuple(codes[:, position[c]] for c in separator),
                                    tuple(self._sizes[c] for c in separator))

    def _check_columns(self, columns: Sequence[str]) -> Clique:
        columns = (columns,) if isinstance(columns, str) else tuple(columns)
        unknown = [c for c in columns if c not in self._sizes]
        if not columns or unknown or len(set(columns)) != len(columns):
            raise ValueError(f"columns must be distinct model columns, got {list(columns)} "
                             f"(unknown: {unknown}; model columns: {list(self.columns)})")
        return columns


def _contract(operands: Sequence[tuple[np.ndarray, Clique]], out: Clique, sizes: Mapping[str, int]) -> np.ndarray:
    """Sum over every column not in ``out`` of the product of the labelled tables (axes in ``out`` order), by
    variable elimination: each step sums out the column whose factors span the fewest cells (greedy), its
    factors multiplied and summed by ``_sum_out``. numpy's own einsum paths multiplied whole separators by every
    query column and ran a hundred times slower on AIM's models."""
    factors = list(operands)
    hidden = {c for _, labels in factors for c in labels} - set(out)

    def span(column: str) -> int:
        return math.prod(sizes[c] for c in {c for _, labels in factors if column in labels for c in labels})

    while hidden:
        column = min(sorted(hidden), key=span)
        involved = [f for f in factors if column in f[1]]
        factors = [f for f in factors if column not in f[1]]
        factors.append(_sum_out(involved, column, sizes))
        hidden.discard(column)
    return _einsum(factors, tuple(out))


def _sum_out(involved: Sequence[tuple[np.ndarray, Clique]], column: str,
             sizes: Mapping[str, int]) -> tuple[np.ndarray, Clique]:
    """The product of the tables that hold ``column``, summed over it: one elimination step.

    The last table is contracted with the product of the others as a batched matrix product (shared columns
    the batch, ``column`` the inner dimension), which numpy runs in BLAS-style loops; np.einsum, used before,
    ran its generic loop at about 7 ns per cell of the step's span. On a diabetes round's 2,098 AIM candidates
    (a 41-clique tree of 368k cells) the candidates took 3.8 s instead of 12.3 s, with the same marginals to
    2e-16 (bench/README.md)."""
    if len(involved) == 1:
        table, labels = involved[0]
        return table.sum(axis=labels.index(column)), tuple(c for c in labels if c != column)
    *first, (y, y_labels) = involved
    if len(first) == 1:
        x, x_labels = first[0]
    else:
        x_labels = tuple(dict.fromkeys(c for _, labels in first for c in labels))
        x = np.broadcast_to(_product(first, x_labels), [sizes[c] for c in x_labels])
    batch = [c for c in x_labels if c in y_labels and c != column]
    left = [c for c in x_labels if c not in y_labels]
    right = [c for c in y_labels if c not in x_labels]
    n_batch, n_left, n_right = (math.prod(sizes[c] for c in group) for group in (batch, left, right))
    x = np.transpose(x, [x_labels.index(c) for c in (*batch, *left, column)]).reshape(n_batch, n_left, -1)
    y = np.transpose(y, [y_labels.index(c) for c in (*batch, column, *right)]).reshape(n_batch, -1, n_right)
    kept = (*batch, *left, *right)
    return np.matmul(x, y).reshape([sizes[c] for c in kept]), kept


def _product(factors: Sequence[tuple[np.ndarray, Clique]], labels: Clique) -> np.ndarray:
    """The broadcast product of labelled tables, axes in ``labels`` order (absent columns of length 1)."""
    aligned = [np.transpose(table, [own.index(c) for c in labels if c in own]).reshape(
        [table.shape[own.index(c)] if c in own else 1 for c in labels]) for table, own in factors]
    return functools.reduce(np.multiply, aligned)


def _einsum(operands: Sequence[tuple[np.ndarray, Clique]], out: Clique) -> np.ndarray:
    if not operands:
        return np.ones(())
    symbol = {c: i for i, c in enumerate(dict.fromkeys(c for _, labels in operands for c in labels))}
    args: list = []
    for table, labels in operands:
        args += [table, [symbol[c] for c in labels]]
    return np.einsum(*args, [symbol[c] for c in out])


def _project(table: np.ndarray, axes: Clique, columns: Clique) -> np.ndarray:
    """Sum ``table`` (axes named by ``axes``) down to ``columns``, transposed into that order."""
    dropped = tuple(i for i, c in enumerate(axes) if c not in columns)
    kept = [c for c in axes if c in columns]
    values = table.sum(axis=dropped) if dropped else table
    return np.transpose(values, [kept.index(c) for c in columns])


def _normalise(values: np.ndarray) -> np.ndarray:
    """Clip float noise (tiny negatives, NaN) and rescale to sum 1; an empty table becomes uniform."""
    values = np.asarray(values, dtype=float)
    if not np.isfinite(values).all():
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    values = np.maximum(values, 0.0)
    mass = values.sum()
    return values / mass if mass > 0 else np.full(values.shape, 1.0 / values.size)


def _conditionals(joint: np.ndarray) -> np.ndarray:
    """Rows of P(new | separator = s) from a (separator cells x new cells) joint.

    A separator value the model gives no mass can still turn up (it cannot under exact arithmetic, but
    float underflow happens); such rows fall back to the unconditional P(new) rather than failing.
    """
    joint = _normalise(joint)
    fallback = _normalise(joint.sum(axis=0))
    mass = joint.sum(axis=1, keepdims=True)
    return np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), fallback)


def _draw_rows(conditionals: np.ndarray, groups: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each row, a code from ``conditionals[groups[row]]``, by stratified allocation.

    The n_g rows of separator value g get each new cell c floor(n_g P(c | g)) times, plus one more for the
    cells that a systematic sample (one uniform start per group) picks with probability equal to the
    fractional part; a fresh random order of the group's rows then receives those codes.

    Why not independent draws: every cell's count keeps its expectation n_g P(c | g), but it is off by less
    than one instead of by a multinomial error of about sqrt(n_g P). That error is a large share of what the
    release's marginals differ by when the budget is large (Adult at epsilon 10: decile 3-way TVD 0.042 with
    independent draws, 0.039 stratified, from the same model). Why still no coupling (mbi 1.1.0's fault, see
    the module doc): every clique puts the rows of a group in a new random order, so columns drawn from one
    separator in different cliques stay independent given it.
    """
    used, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    probs = conditionals[used]
    expected = probs / probs.sum(axis=1, keepdims=True) * counts[:, None]
    base = np.floor(expected)
    extra = np.rint(counts - base.sum(axis=1))  # an integer up to rounding error: how many cells get one more
    cumulative = np.cumsum(expected - base, axis=1)
    cumulative *= (extra / np.where(cumulative[:, -1] > 0, cumulative[:, -1], 1.0))[:, None]
    cumulative[:, -1] = extra
    start = rng.random(len(used))[:, None]
    above = np.floor(cumulative - start)  # cell c is picked when an integer lies in [cum_{c-1}, cum_c) - start
    picked = np.diff(above, axis=1, prepend=np.floor(-start))
    allocation = (base + picked).astype(np.int64).ravel()
    cells = np.flatnonzero(allocation)
    codes = np.repeat(cells % probs.shape[1], allocation[cells])  # group by group, in the order of ``used``
    order = np.argsort(inverse + rng.random(len(groups)), kind="stable")  # each group's rows, shuffled
    out = np.empty(len(groups), dtype=np.int64)
    out[order] = codes
    return out


def noisy_total(measurements: Sequence[tuple[Clique, np.ndarray, float]]) -> float:
    """Row count from noisy measurements alone: the inverse-variance weighted mean of their sums.

    Each noisy sum is unbiased for n with variance sigma^2 * cells, so these weights give the minimum-variance
    unbiased combination (mbi's own default). It is post-processing: the private count is never read.
    """
    sums = np.array([float(np.sum(counts)) for _, counts, _ in measurements])
    variances = np.array([sigma ** 2 * np.size(counts) for _, counts, sigma in measurements])
    weights = 1.0 / variances
    return max(1.0, float(np.sum(weights * sums) / np.sum(weights)))


def _check_sizes(sizes: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(sizes, Mapping) or not sizes:
        raise ValueError("sizes must be a non-empty mapping of column name -> number of codes")
    for name, size in sizes.items():
        if not isinstance(name, str) or isinstance(size, bool) or not isinstance(size, (int, np.integer)) \
                or size < 1:
            raise ValueError(f"sizes[{name!r}] must be a positive integer keyed by a string, got {size!r}")
    return {name: int(size) for name, size in sizes.items()}


def _prepare(m: NoisyMarginal, sizes: Mapping[str, int], order: Sequence[str]) -> tuple[Clique, np.ndarray, float]:
    """Validate one measurement; return (clique in domain order, flat counts in that order, sigma)."""
    columns = tuple(m.columns)
    unknown = [c for c in columns if c not in sizes]
    if not columns or unknown or len(set(columns)) != len(columns):
        raise ValueError(f"measurement over {list(columns)}: columns must be distinct and in sizes "
                         f"(unknown: {unknown})")
    sigma = float(m.sigma)
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"measurement over {list(columns)}: sigma must be positive and finite, got {m.sigma!r}")
    shape = tuple(sizes[c] for c in columns)
    counts = np.asarray(m.counts, dtype=float)
    if counts.shape != shape and counts.shape != (int(np.prod(shape)),):
        raise ValueError(f"measurement over {list(columns)}: counts of shape {counts.shape} do not fit the "
                         f"marginal's shape {shape}")
    if not np.all(np.isfinite(counts)):
        raise ValueError(f"measurement over {list(columns)}: counts must be finite")
    canonical = tuple(c for c in order if c in columns)
    return canonical, _project(counts.reshape(shape), columns, canonical).ravel(), sigma


def _model_cliques(measured: Sequence[Clique], order: Sequence[str]) -> list[Clique]:
    """The measured cliques not nested in another, plus a 1-way clique for each never-measured column.

    The extra 1-way cliques carry zero potentials, so those columns are uniform and independent: with no
    measurement there is no evidence to prefer anything else. Ties are ordered by column position, never by
    set order: string hashes differ between processes, and the clique order shapes the junction tree and so
    which rows a seed samples (a shadow run must give the same table on every dask worker).
    """
    position = {c: i for i, c in enumerate(order)}
    maximal: list[Clique] = []
    for clique in sorted(set(measured), key=lambda c: (-len(c), [position[x] for x in c])):
        if not any(set(clique) <= set(other) for other in maximal):
            maximal.append(clique)
    covered = {c for clique in maximal for c in clique}
    return maximal + [(c,) for c in order if c not in covered]


def junction_tree(sizes: Mapping[str, int], cliques: Sequence[Clique]) -> tuple[list[Clique], list[int]]:
    """mbi's junction tree (forest) over ``cliques``: its maximal cliques in depth-first preorder and the index
    of each one's parent (-1 for a root). In preorder every clique's overlap with the earlier ones lies inside
    its parent (running intersection), which the sampler and the message passing rely on."""
    from mbi import Domain, junction_tree as jt

    domain = Domain(tuple(sizes), tuple(int(v) for v in sizes.values()))
    tree, _ = jt.make_junction_tree(domain, [tuple(c) for c in cliques])
    order = [tuple(c) for c in jt.maximal_cliques(tree)]
    position = {c: i for i, c in enumerate(order)}
    parents = []
    for i, clique in enumerate(order):
        earlier = [position[tuple(n)] for n in tree.neighbors(clique) if position[tuple(n)] < i]
        parents.append(earlier[0] if earlier else -1)
    return order, parents


def model_size_mb(sizes: Mapping[str, int], cliques: Sequence[Clique]) -> float:
    """Memory of the junction tree a model over ``cliques`` would need (float64 cells, in MiB).

    AIM's model-size cap: a candidate marginal whose triangulation would blow up the tree is not offered.
    Uses the same triangulation as ``estimate_model``.
    """
    maximal, _ = junction_tree(sizes, cliques)
    return sum(int(np.prod([sizes[c] for c in clique], dtype=np.int64)) for clique in maximal) * 8 / 2**20


def estimate_model(sizes: Mapping[str, int], measurements: Sequence[NoisyMarginal], iters: int = 1000,
                   warm_start: MarginalModel | None = None) -> MarginalModel:
    """Private-PGM inference (mirror descent, ``inference.py``) from noisy marginals only; columns never
    measured still get a (uniform) marginal. The total is ``noisy_total`` of the measurements, never the
    private row count.

    ``warm_start`` continues from an earlier model's potentials, each added into a clique of the new model
    that contains it (AIM re-fits after every round; starting from the last solution needs far fewer
    iterations than starting from scratch).
    """
    sizes = _check_sizes(sizes)
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 0:
        raise ValueError(f"iters must be a non-negative integer, got {iters!r}")
    if not measurements:
        raise ValueError("at least one noisy measurement is needed (the row total is estimated from them)")
    order = tuple(sizes)
    prepared = [_prepare(m, sizes, order) for m in measurements]
    total = noisy_total(prepared)
    cliques = _model_cliques([clique for clique, _, _ in prepared], order)
    tree = JunctionTree.build(sizes, *junction_tree(sizes, cliques), cliques)
    homes = loss_homes([clique for clique, _, _ in prepared])
    loss = MarginalLoss(tree, [Measurement(clique, counts.reshape([sizes[c] for c in clique]), sigma, homes[clique])
                               for clique, counts, sigma in prepared])
    potentials = _initial_potentials(cliques, sizes, warm_start)
    descend = flat_inference.mirror_descent if tree.cells <= flat_inference.FLAT_MAX_CELLS else mirror_descent
    potentials, tables = descend(tree, loss, potentials, total, int(iters))
    normalised = {clique: _normalise(table) for clique, table in zip(tree.cliques, tables)}
    log.info("Private-PGM model: %d columns, %d measurements, %d maximal cliques (%d cells, largest %d), "
             "estimated total %.1f", len(order), len(prepared), len(normalised), tree.cells,
             max(t.size for t in normalised.values()), total)
    return MarginalModel(potentials, sizes, normalised, total)


def loss_homes(measured: Sequence[Clique]) -> dict[Clique, Clique]:
    """The model clique each measurement's loss term reads: the measurement itself when no other contains it,
    else the first maximal measured clique that does, in mbi's order (longest first, then measurement order).

    Any clique containing the measurement gives the same iterates (the term changes the model's log-density as
    a function of the measurement's columns, whichever potential holds it); the choice only sets the Lipschitz
    bound, hence the first step size, and this one is mbi 1.1.0's, so the fit follows mbi's path."""
    maximal: list[Clique] = []
    for clique in sorted(measured, key=len, reverse=True):  # a stable sort: measurement order among equals
        if not any(set(clique) <= set(other) for other in maximal):
            maximal.append(clique)
    return {c: c if c in maximal else next(m for m in maximal if set(c) <= set(m)) for c in measured}


def _smallest_holder(clique: Clique, cliques: Sequence[Clique], sizes: Mapping[str, int]) -> Clique:
    holders = [c for c in cliques if set(clique) <= set(c)]
    return min(holders, key=lambda c: int(np.prod([sizes[x] for x in c], dtype=np.int64)))


def _initial_potentials(cliques: Sequence[Clique], sizes: Mapping[str, int],
                        warm_start: MarginalModel | None) -> dict[Clique, np.ndarray]:
    """Zeros over every model clique, plus, for a warm start, each earlier potential added into the
    smallest new clique that contains it (the distribution the earlier potentials describe is unchanged)."""
    potentials = {c: np.zeros([sizes[x] for x in c]) for c in cliques}
    if warm_start is None or warm_start.columns != tuple(sizes):
        return potentials
    for old, table in warm_start.potentials.items():
        home = _smallest_holder(old, cliques, sizes)
        potentials[home] = potentials[home] + table.reshape([sizes[c] if c in old else 1 for c in home])
    return potentials
