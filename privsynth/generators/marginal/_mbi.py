"""Adapter to Private-PGM (``mbi`` 1.1.0): the only file in privsynth that imports it.

Private-PGM turns noisy marginals into a graphical model by mirror descent over the marginal polytope. It only
ever sees the Gaussian-noised measurements, so fitting and sampling are post-processing and cost no budget.

We do NOT use mbi 1.1.0's ``synthetic_data``. It conditions each new column on the *measured* cliques rather
than on the junction tree's maximal cliques, and its rounding sampler ranks each parent group's rows by
position, so two columns drawn from the same parents come out comonotone (a real run gave
P(>50K | Divorced) = 0.000). ``MarginalModel.sample`` instead walks the junction tree and draws every row's new
columns independently from P(new | separator), which reproduces the model's distribution exactly in law.

mbi is imported lazily: importing it pulls in jax and switches on ``jax_enable_x64`` process-wide.

XLA compile time: mirror descent is jit-compiled anew for every model (AIM re-fits after each of its rounds),
and on CPU XLA's optimising passes cost more than they save here: with them off a fit of AIM on Adult ran about
three times faster (measured; the compiled programs are small and run a few hundred steps each). The flags are
added to XLA_FLAGS when this module is imported, before jax starts, unless the user set an optimisation level.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np

from privsynth.privacy.private_data import NoisyMarginal

__all__ = ["NoisyMarginal", "MarginalModel", "estimate_model", "model_size_mb", "noisy_total"]

log = logging.getLogger(__name__)

_FAST_COMPILE = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {_FAST_COMPILE}".strip()

Clique = tuple[str, ...]


class MarginalModel:
    """A fitted graphical model (wraps the mbi model). Post-processing only: it saw noisy measurements only.

    ``total`` is the row count estimated from the noisy measurements, never the private count.
    """

    def __init__(self, mrf: Any, sizes: Mapping[str, int], tables: Mapping[Clique, np.ndarray], total: float):
        self._mrf = mrf
        self.columns: tuple[str, ...] = tuple(sizes)
        self._sizes = {c: int(s) for c, s in sizes.items()}
        self._tables = dict(tables)  # maximal clique -> probabilities, in a running-intersection order
        self.total = float(total)
        self._cached_factors: list[tuple[np.ndarray, Clique, Clique]] | None = None
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

        Read off a maximal clique when one contains the columns; otherwise summed out of the junction tree.
        """
        columns = self._check_columns(columns)
        home = next((clique for clique in self._tables if set(columns) <= set(clique)), None)
        if home is not None:
            return _normalise(_project(self._tables[home], home, columns))
        return _normalise(self._eliminate(columns))

    def _eliminate(self, columns: Clique) -> np.ndarray:
        """Out-of-clique marginal by summing the junction-tree factorisation P(C1) prod_k P(new_k | sep_k).

        Factors whose new columns nobody needs sum to one and are dropped (walking the tree backwards), so
        only the subtree joining ``columns`` is contracted, in numpy. mbi's variable elimination gives the
        same numbers but re-traces jax ops for every new query (seconds per call).
        """
        needed, operands = set(columns), []
        for table, labels, new in reversed(self._factors()):
            if needed & set(new):
                operands.append((table, labels))
                needed |= set(labels)
        symbols = {c: i for i, c in enumerate(sorted(needed))}
        if len(symbols) > 52:  # np.einsum's label limit: let mbi do it
            factor = self._mrf.project(columns)
            return _project(np.asarray(factor.values, dtype=float), tuple(factor.domain.attributes), columns)
        args: list[Any] = []
        for table, labels in operands:
            args += [table, [symbols[c] for c in labels]]
        return np.einsum(*args, [symbols[c] for c in columns], optimize=True)

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
        P(new | separator) at the row's own separator values, one independent uniform per row. The product
        P(C1) * prod_k P(new_k | sep_k) is exactly the junction-tree factorisation of the model, so the sample
        has the model's distribution; no ranking couples rows, so siblings stay conditionally independent.
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


def _project(table: np.ndarray, axes: Clique, columns: Clique) -> np.ndarray:
    """Sum ``table`` (axes named by ``axes``) down to ``columns``, transposed into that order."""
    dropped = tuple(i for i, c in enumerate(axes) if c not in columns)
    kept = [c for c in axes if c in columns]
    values = table.sum(axis=dropped) if dropped else table
    return np.transpose(values, [kept.index(c) for c in columns])


def _normalise(values: np.ndarray) -> np.ndarray:
    """Clip float noise (tiny negatives, NaN) and rescale to sum 1; an empty table becomes uniform."""
    values = np.clip(np.nan_to_num(np.asarray(values, dtype=float), nan=0.0, posinf=0.0, neginf=0.0), 0.0, None)
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
    """For each row, an independent inverse-CDF draw from ``conditionals[groups[row]]``.

    Vectorised: the CDFs of the separator values in use are laid end to end, row r shifted by 2r, so one
    ``searchsorted`` serves every row. Rows never share or rank their uniforms, so no coupling appears.
    """
    used, inverse = np.unique(groups, return_inverse=True)
    probs = conditionals[used]
    width = probs.shape[1]
    cdf = np.cumsum(probs, axis=1)
    cdf /= cdf[:, -1:]
    offset = 2.0 * np.arange(len(used))
    picks = np.searchsorted((cdf + offset[:, None]).ravel(), rng.random(len(groups)) + offset[inverse],
                            side="right") - inverse * width
    # a uniform that rounds up onto its row's end overruns: give it the row's last category with mass
    last = width - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
    overrun = picks >= width
    picks[overrun] = last[inverse[overrun]]
    return picks.astype(np.int64)


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
    measurement there is no evidence to prefer anything else.
    """
    maximal: list[Clique] = []
    for clique in sorted(set(measured), key=len, reverse=True):
        if not any(set(clique) <= set(other) for other in maximal):
            maximal.append(clique)
    covered = {c for clique in maximal for c in clique}
    return maximal + [(c,) for c in order if c not in covered]


def _clique_tables(mrf: Any, domain: Any, cliques: list[Clique]) -> dict[Clique, np.ndarray]:
    """Probabilities over each maximal clique of the model's junction tree, parents before children.

    When no triangulation fill-in was needed (e.g. MST's tree of pairs) these are the fitted marginals
    themselves; otherwise mbi's message passing computes the larger cliques from the potentials.
    """
    from mbi import junction_tree, marginal_oracles

    tree, _ = junction_tree.make_junction_tree(domain, cliques)
    maximal = [tuple(c) for c in junction_tree.maximal_cliques(tree)]  # DFS preorder: parents come first
    if all(clique in mrf.marginals.cliques for clique in maximal):
        beliefs = mrf.marginals
    else:
        beliefs = marginal_oracles.message_passing_stable(mrf.potentials.expand(maximal), total=1.0, jtree=tree)
    return {clique: _normalise(_project(np.asarray(beliefs[clique].values, dtype=float),
                                        tuple(beliefs[clique].domain.attributes), clique)) for clique in maximal}


def release_compiled_programs() -> None:
    """Drop jax's compiled programs. Each fit compiles mirror descent for its own junction tree, which no later
    fit reuses; kept, they grow a process by ~250 MB a fit, and a dask worker running sixty shadow fits of AIM
    would hold gigabytes of dead code."""
    import jax

    jax.clear_caches()


def model_size_mb(sizes: Mapping[str, int], cliques: Sequence[Clique]) -> float:
    """Memory of the junction tree a model over ``cliques`` would need (float64 cells, in MiB).

    AIM's model-size cap: a candidate marginal whose triangulation would blow up the tree is not offered.
    Uses mbi's own triangulation, so the figure matches what ``estimate_model`` would build.
    """
    from mbi import Domain, junction_tree

    domain = Domain(tuple(sizes), tuple(int(v) for v in sizes.values()))
    tree, _ = junction_tree.make_junction_tree(domain, [tuple(c) for c in cliques])
    return sum(domain.size(c) for c in junction_tree.maximal_cliques(tree)) * 8 / 2**20


def estimate_model(sizes: Mapping[str, int], measurements: Sequence[NoisyMarginal], iters: int = 1000,
                   warm_start: MarginalModel | None = None) -> MarginalModel:
    """Private-PGM inference (mirror descent) from noisy marginals only; columns never measured still get a
    (uniform) marginal. The total is ``noisy_total`` of the measurements, never the private row count.

    ``warm_start`` continues from an earlier model's potentials (AIM re-fits after every round; starting
    from the last solution needs far fewer iterations than starting from scratch).
    """
    sizes = _check_sizes(sizes)
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 0:
        raise ValueError(f"iters must be a non-negative integer, got {iters!r}")
    if not measurements:
        raise ValueError("at least one noisy measurement is needed (the row total is estimated from them)")
    order = tuple(sizes)
    prepared = [_prepare(m, sizes, order) for m in measurements]
    total = noisy_total(prepared)

    from mbi import CliqueVector, Domain, LinearMeasurement
    from mbi.estimation import mirror_descent

    domain = Domain(order, tuple(sizes.values()))
    cliques = _model_cliques([clique for clique, _, _ in prepared], order)
    linear = [LinearMeasurement(counts, clique, sigma) for clique, counts, sigma in prepared]
    if warm_start is not None and warm_start.columns == order:
        potentials = warm_start._mrf.potentials.expand(cliques)
    else:
        potentials = CliqueVector.zeros(domain, cliques)
    mrf = mirror_descent(domain, linear, known_total=total, potentials=potentials, iters=int(iters))

    tables = _clique_tables(mrf, domain, cliques)
    log.info("Private-PGM model: %d columns, %d measurements, %d maximal cliques (largest %d cells), "
             "estimated total %.1f", len(order), len(prepared), len(tables),
             max(t.size for t in tables.values()), total)
    return MarginalModel(mrf, sizes, tables, total)
