"""AIM (McKenna, Mullins, Sheldon & Miklau, "AIM: An Adaptive and Iterative Mechanism for Differentially
Private Synthetic Data", VLDB 2022), on Private-PGM.

The budget (zCDP rho) is split into rounds. Each round costs 1/(2 sigma^2) for a Gaussian measurement plus
eps^2/8 for an exponential-mechanism choice (alpha = 90% to measuring), starting from the split that would
last ``max_rounds`` rounds after the 1-way measurements:

1. Measure every 1-way marginal at noise sigma.
2. Each round, among the workload's marginals (and their subsets) that keep the model under the size cap,
   pick the one the current model explains worst, i.e. maximise
   w_r * (||M_r(D) - M_r(model)||_1 - sqrt(2/pi) * sigma * cells_r), measure it at sigma, and re-fit the
   model from every noisy measurement so far (warm-started).
3. When the model barely moved on the chosen marginal (less than the noise could explain), halve sigma and
   double eps (annealing): the next rounds buy more precise answers.
4. The round that would leave less than two rounds' budget spends exactly what is left, so the charges sum
   to the declared rho (the odometer checks it; a test asserts it).

The workload: all marginals of ``degree`` columns, unless the table has more than ``workload_size`` of them
(diabetes' 48 columns have 17,296 3-way ones, and estimating them all from the model every round was most of a
wide fit's time). Then ``public_workload`` draws that many uniformly, from a generator seeded by a hash of public
facts only (the sorted column names, the degree, the size and the target), never from the rows, the noise or
the row count: the workload is the same for every neighbouring table, so choosing it costs no budget.

Only step 2's score touches private rows, through ``PrivateData.select_by_error``; everything the model
learns comes from the noisy measurements, so fitting and sampling are post-processing.

Domain compression: after the 1-way measurements, the codes of a column whose NOISY count is below
3 sigma are merged into one code for the rest of the fit (AIM section 4.3). The rare values of age, hours and
the binned money columns are then learnt as a group, which shrinks every marginal they appear in. Which codes
merge is decided from the noisy 1-way counts only; sampling spreads a merged code back over its members in
proportion to their (clipped) noisy counts.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import math
import time
from dataclasses import dataclass
from collections.abc import Sequence as SequenceABC
from typing import Callable, Sequence

import numpy as np

from privsynth.generator_config import AIMParams
from privsynth.generators.base import Progress, silent
from privsynth.generators.marginal._mbi import MarginalModel, estimate_model, model_size_mb
from privsynth.generators.marginal.base import MarginalGenerator
from privsynth.generators.marginal.compression import measure_one_ways
from privsynth.privacy.accounting import exponential_rho, gaussian_rho, zcdp_epsilon
from privsynth.privacy.private_data import NoisyMarginal, PrivateData

Clique = tuple[str, ...]


class PublicClock:
    """AIM's time budget, counting only the seconds AIM spends on post-processing (inference, estimating the
    candidates, the model-size checks), never the time of a PrivateData query.

    Why: how long counting the private rows takes depends on how many there are, so a stop decided on a clock
    that included it would let the row count steer how many rounds run. Everything this clock times is a
    function of public sizes and earlier noisy answers (and of the machine's speed, which the data does not
    set). The price: a fit may overrun ``max_seconds`` by the time its private queries take.
    """

    def __init__(self, limit: float | None) -> None:
        self.limit, self.spent, self._start, self._depth = limit, 0.0, 0.0, 0

    def __enter__(self) -> "PublicClock":
        if self._depth == 0:  # nested blocks count once
            self._start = time.perf_counter()
        self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.spent += time.perf_counter() - self._start

    @property
    def expired(self) -> bool:
        return self.limit is not None and self.spent >= self.limit

    def details(self, rounds: int) -> dict[str, object]:
        """What the guarantee says about the time budget (nothing when none was set)."""
        if self.limit is None:
            return {}
        note = (f"time budget reached: round {rounds} measured with all the budget that was left, so the "
                "charges still sum to the declared rho" if self.expired else "time budget not reached")
        return {"max_seconds": self.limit, "stopped_by_time_budget": self.expired, "time_budget": note}


class PoolEstimates(SequenceABC[np.ndarray]):
    """The pool's estimated counts (model marginal x estimated total), computed as PrivateData scores them and
    then dropped: on a wide table the pool's tables together can outweigh the model many times over, so they
    are never all held at once. Post-processing of the model: nothing here reads the private rows."""

    def __init__(self, model: MarginalModel, cliques: list[Clique], clock: "PublicClock") -> None:
        self.model, self.cliques, self.clock = model, cliques, clock

    def __len__(self) -> int:
        return len(self.cliques)

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        with self.clock:  # public computing, on the time budget's clock even when PrivateData asks for it
            return self.model.estimate(self.cliques[index]) * self.model.total


@dataclass(frozen=True)
class Candidate:
    """A marginal AIM may measure, with its workload weight (how many workload cells it informs)."""

    columns: Clique
    weight: float


@dataclass(frozen=True)
class Workload:
    """The marginals AIM is asked to answer well: ``marginals`` of ``degree`` columns, out of the ``total`` the
    table has. ``target_kept``: every marginal with the target is in (always true of a whole workload)."""

    marginals: tuple[Clique, ...]
    degree: int
    total: int
    target: str | None
    target_kept: bool

    @property
    def sampled(self) -> bool:
        return len(self.marginals) < self.total

    def details(self) -> dict[str, object]:
        """What the guarantee's public details say about the workload."""
        if not self.sampled:
            note = f"all {self.total:,} {self.degree}-way marginals"
        else:
            kept = (f"; every marginal with the target {self.target!r} kept" if self.target_kept else
                    "; the target's marginals did not all fit, so the target was drawn like any column"
                    if self.target else "")
            note = (f"{len(self.marginals):,} of {self.total:,} {self.degree}-way marginals, drawn uniformly by a "
                    "generator seeded from public facts only (the sorted column names, the degree, workload_size, "
                    f"the target){kept}; no private row, noise or row count was used")
        return {"workload": note, "workload_marginals": len(self.marginals), "workload_of": self.total,
                "workload_degree": self.degree, "workload_sampled": self.sampled}


def public_workload(names: Sequence[str], degree: int, size: int | None, target: str | None) -> Workload:
    """All marginals of ``degree`` of ``names``, or, when there are more than ``size``, ``size`` of them drawn
    uniformly without replacement.

    Privacy: the draw is a function of public facts only. Its generator is seeded from a SHA-256 of the sorted
    column names, the degree, the size and the target (hashlib, not Python's per-process salted ``hash``), so
    two tables with the same columns get the same workload whatever their rows, and so does every run.

    The target: when every marginal with ``target`` fits in ``size`` they are all kept and the rest is drawn
    from the others, because the downstream model (TSTR) needs the target's relations; when they do not fit
    (diabetes' readmitted is in 1,081 of its 3-way marginals, more than the default 1,000), the draw is uniform
    over all marginals, the target treated as any column: raise ``workload_size`` to keep them all.
    A whole workload is today's, in today's order, so a table that fits (Adult, bank marketing) is unchanged."""
    degree = min(degree, len(names))
    target = target if target in names else None
    total = math.comb(len(names), degree)
    if size is None or total <= size:
        return Workload(tuple(itertools.combinations(names, degree)), degree, total, target, True)
    facts = json.dumps({"columns": sorted(names), "degree": degree, "size": size, "target": target})
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(facts.encode()).digest()[:16], "big"))
    ordered = sorted(names)
    with_target = math.comb(len(names) - 1, degree - 1) if target else 0
    if target and with_target <= size:
        others = [c for c in ordered if c != target]
        drawn = [(target, *rest) for rest in itertools.combinations(others, degree - 1)]
        drawn += _draw_combinations(rng, others, degree, size - with_target)
    else:
        drawn = _draw_combinations(rng, ordered, degree, size)
    position = {c: i for i, c in enumerate(names)}
    marginals = sorted((tuple(sorted(m, key=position.__getitem__)) for m in drawn),
                       key=lambda m: [position[c] for c in m])
    return Workload(tuple(marginals), degree, total, target, bool(target) and with_target <= size)


def _draw_combinations(rng: np.random.Generator, pool: Sequence[str], k: int, m: int) -> list[Clique]:
    """``m`` distinct k-subsets of ``pool``, uniformly: ``m`` distinct ranks drawn without replacement, each
    unranked in lexicographic order, so the cost is in ``m``, not in the number of subsets."""
    ranks = rng.choice(math.comb(len(pool), k), size=m, replace=False) if m else []
    return [tuple(pool[i] for i in _unrank(int(r), len(pool), k)) for r in ranks]


def _unrank(rank: int, n: int, k: int) -> list[int]:
    """The ``rank``-th k-subset of range(n) in lexicographic order (combinatorial number system)."""
    chosen, start = [], 0
    for slots in range(k, 0, -1):
        item = start
        while rank >= (count := math.comb(n - item - 1, slots - 1)):
            rank -= count
            item += 1
        chosen.append(item)
        start = item + 1
    return chosen


def workload_candidates(names: Sequence[str], degree: int, target: str | None, target_weight: float,
                        marginals: Sequence[Clique] | None = None) -> list[Candidate]:
    """The workload (``marginals``; default: all marginals of ``degree`` columns) and their non-empty subsets,
    weighted as in AIM: w_r = sum over workload marginals W of weight(W) * |r & W|, so on a sampled workload
    the weights are the sampled workload's, as the paper defines them for any workload. Marginals with the
    target column get ``target_weight`` in the workload, so a steward can favour the relations the downstream
    model needs."""
    degree = min(degree, len(names))
    chosen = itertools.combinations(names, degree) if marginals is None else marginals
    workload = {w: (target_weight if target in w else 1.0) for w in chosen}
    # sum_W weight(W) |r & W| = sum over columns c of r of the total weight of the workload marginals with c
    per_column = dict.fromkeys(names, 0.0)
    for w, weight in workload.items():
        for column in w:
            per_column[column] += weight
    closure = {sub for w in workload for k in range(1, degree + 1) for sub in itertools.combinations(w, k)}
    return [Candidate(r, float(sum(per_column[c] for c in r)))
            for r in sorted(closure, key=lambda r: (len(r), [names.index(c) for c in r]))]


#: the default junction-tree cap: MODEL_MIB_PER_EPSILON MiB per unit of the fit's epsilon, within MODEL_MIB_RANGE
MODEL_MIB_PER_EPSILON = 5.0
MODEL_MIB_RANGE = (5.0, 10.0)


def default_model_size(rho: float, delta: float) -> float:
    """The cap (MiB) when the threat model sets none, from the fit's budget only (public). Each round estimates
    every candidate from the model, so its cost grows with the tree: on diabetes at epsilon 1 a 20 MiB cap let
    some noise paths grow trees of 1-2.6 million cells and run for 25+ minutes, with the same 2-way TVD and TSTR
    as a 5 MiB cap; Adult at epsilon 1 gives identical tables at both caps. At epsilon 10 the sampling floor
    keeps sigma up and so measures about 60 marginals: 10 MiB took 400-570 s on Adult against 1,100-1,500 s at
    20, for decile 3-way TVD 0.0385 against 0.0375 (independent draws; bench/README.md). A small budget cannot fill a large model
    with signal anyway."""
    low, high = MODEL_MIB_RANGE
    return min(max(MODEL_MIB_PER_EPSILON * zcdp_epsilon(rho, delta), low), high)


class AIM(MarginalGenerator):
    kind = "aim"
    is_dp = True
    sample_tag = 0xA1

    params_model = AIMParams

    def fit(self, private: PrivateData, progress: Progress = silent) -> "AIM":
        private = self._prepare(private, self.kind)
        names = self.model_columns(private)
        rho = private.odometer.remaining_rho
        rounds = self.params.max_rounds or 16 * len(names)
        max_model_size = self.params.max_model_size or default_model_size(rho, private.odometer.delta)
        # the paper splits rho into T = 16d round units and pays the d 1-way measurements from them; counting
        # the 1-ways as d extra units keeps a small max_rounds from spending everything on them
        units = rounds + len(names)
        sigma = math.sqrt(units / (2 * self.params.alpha * rho))
        epsilon = math.sqrt(8 * (1 - self.params.alpha) * rho / units)
        clock = PublicClock(self.params.max_seconds)

        view, measurements, groups = measure_one_ways(private, names, sigma, "aim.1way",
                                                      compress=_compress if self.params.compress else None)
        sizes = {c: view.sizes[c] for c in names}
        with clock:
            model = estimate_model(sizes, measurements, iters=self.params.round_iters)
            workload = public_workload(names, self.params.degree, self.params.workload_size, private.domain.target)
            candidates = workload_candidates(names, workload.degree, private.domain.target,
                                             self.params.target_weight, workload.marginals)
            cells = np.array([math.prod(sizes[col] for col in c.columns) for c in candidates], dtype=float)
        chosen_log: list[dict[str, object]] = []
        size_cache: dict[tuple[tuple[Clique, ...], Clique], float] = {}

        for round_no in range(1, rounds + 1):
            remaining = private.odometer.remaining_rho
            final = clock.expired or remaining < 2 * (gaussian_rho(sigma) + exponential_rho(epsilon)) \
                or round_no == rounds
            if final:
                sigma = math.sqrt(1 / (2 * self.params.alpha * remaining))
                epsilon = math.sqrt(8 * (1 - self.params.alpha) * remaining)
            spent_after = rho - remaining + gaussian_rho(sigma) + exponential_rho(epsilon)
            size_limit = max_model_size * spent_after / rho
            with clock:
                fits = self._size_check(sizes, measurements, size_limit, size_cache)
                pool = self._pool(candidates, cells, measurements, size_limit)
                estimates = PoolEstimates(model, [candidates[i].columns for i in pool], clock)
            pick = view.select_by_error([candidates[i].columns for i in pool], estimates, epsilon,
                                        penalties=math.sqrt(2 / math.pi) * sigma * cells[pool],
                                        weights=[candidates[i].weight for i in pool],
                                        feasible=lambda k: fits(candidates[pool[k]].columns), label="aim.select")
            columns = candidates[pool[pick]].columns
            measurements.append(view.measure_marginal(columns, sigma, label="aim.measure"))
            with clock:
                model = estimate_model(sizes, measurements, iters=self.params.round_iters, warm_start=model)
                moved = float(np.abs(model.marginal(columns) * model.total - estimates[pick]).sum())
            chosen_log.append({"round": round_no, "columns": list(columns), "sigma": sigma, "epsilon": epsilon})
            left = private.odometer.remaining_rho
            progress(f"round {round_no}: measured {' x '.join(columns)} (sigma {sigma:.1f}); "
                     f"rho left {max(left, 0.0):.3g} of {rho:.3g}" + ("; time budget reached" if clock.expired else ""))
            if final:
                break
            if moved <= math.sqrt(2 / math.pi) * sigma * cells[pool[pick]] and \
                    (not self.params.sampling_floor or sigma / 2 >= sampling_floor(model, columns)):
                sigma, epsilon = sigma / 2, epsilon * 2

        progress(f"final estimate from {len(measurements)} noisy marginals ({self.params.final_iters} iterations)")
        model = estimate_model(sizes, measurements, iters=self.params.final_iters, warm_start=model)
        self.rounds_ = chosen_log
        self._finish(view, model, "AIM (adaptive Gaussian marginals + exponential-mechanism selection, "
                     "Private-PGM)", {"rounds": len(chosen_log), "alpha": self.params.alpha,
                                      "max_model_size_mib": round(max_model_size, 3),
                                      "measured": [r["columns"] for r in chosen_log],
                                      "compressed_columns": {c: g.n_merged for c, g in groups.items() if g.n_merged},
                                      **workload.details(),
                                      **clock.details(len(chosen_log))},
                     groups)
        return self

    @staticmethod
    def _pool(candidates: Sequence[Candidate], cells: np.ndarray, measurements: Sequence[NoisyMarginal],
              limit: float) -> list[int]:
        """The candidates offered this round: those inside a clique already measured, and those whose own table
        fits under ``limit`` MiB. Public (sizes and earlier noisy outputs only), so the exponential mechanism
        over this pool is the mechanism over the feasible set, as before; leaving out candidates that could
        never pass the size check spares estimating them (on a wide table most 3-way marginals of the long
        category lists)."""
        inside = {frozenset(sub) for m in measurements for k in range(1, len(m.columns) + 1)
                  for sub in itertools.combinations(m.columns, k)}
        small = cells * 8 / 2**20 <= limit
        return [i for i, c in enumerate(candidates) if small[i] or frozenset(c.columns) in inside]

    @staticmethod
    def _size_check(sizes: dict[str, int], measurements: list[NoisyMarginal], limit: float,
                    cache: dict[tuple[tuple[Clique, ...], Clique], float]) -> Callable[[Clique], bool]:
        """Whether measuring a marginal keeps the junction tree under ``limit`` MiB (always true for one inside
        a clique already measured, so some candidate always fits). Public: it reads sizes and the cliques
        measured so far. ``cache`` remembers triangulations, which often repeat from one round to the next."""
        measured = tuple(sorted(_maximal({m.columns for m in measurements})))
        current = model_size_mb(sizes, measured)

        def fits(columns: Clique) -> bool:
            if any(set(columns) <= set(m) for m in measured):
                return True
            if np.prod([sizes[col] for col in columns]) * 8 / 2**20 > limit:
                return False  # the candidate's own table is already too big
            key = (measured, columns)
            if key not in cache:
                cache[key] = model_size_mb(sizes, [*measured, columns])
            return cache[key] <= max(limit, current)

        return fits


@dataclass(frozen=True)
class CodeGroups:
    """A column's codes mapped onto a compressed domain, and how to spread the merged code back.

    ``code_map[original] = compressed``; the codes in ``members`` share the last compressed code. ``weights``
    are the members' clipped noisy 1-way counts: public, being noisy measurements."""

    code_map: np.ndarray
    members: np.ndarray
    weights: np.ndarray

    @property
    def n_merged(self) -> int:
        return len(self.members)

    def expand(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Compressed codes back to original codes; a merged code becomes one of its members at random."""
        if not len(self.members):
            return codes
        kept = np.setdiff1d(np.arange(len(self.code_map)), self.members)
        merged = codes == len(kept)
        out = np.empty_like(codes)
        out[~merged] = kept[codes[~merged]]
        total = self.weights.sum()
        p = self.weights / total if total > 0 else np.full(len(self.members), 1 / len(self.members))
        out[merged] = rng.choice(self.members, size=int(merged.sum()), p=p)
        return out


def _identity(m: NoisyMarginal) -> CodeGroups:
    size = len(m.counts)
    return CodeGroups(np.arange(size), np.array([], dtype=np.int64), np.array([]))


def _compress(m: NoisyMarginal, sigma: float) -> CodeGroups:
    """Merge the codes whose noisy count is below 3 sigma (at least two of them, else nothing to gain)."""
    counts = np.asarray(m.counts, dtype=float)
    rare = np.flatnonzero(counts < 3 * sigma)
    if len(rare) < 2:
        return _identity(m)
    kept = np.setdiff1d(np.arange(len(counts)), rare)
    code_map = np.empty(len(counts), dtype=np.int64)
    code_map[kept] = np.arange(len(kept))
    code_map[rare] = len(kept)
    return CodeGroups(code_map, rare, np.clip(counts[rare], 0.0, None))


def sampling_floor(model: MarginalModel, columns: Clique) -> float:
    """The noise below which annealing stops: the sigma at which a measurement's expected L1 error on
    ``columns``, sqrt(2/pi) * sigma * cells, equals the expected L1 sampling error of a table of N rows drawn
    from the model, sum over cells of sqrt(2/pi) * sqrt(N p (1 - p)) (about sqrt(2/pi) sqrt(N) sum sqrt(p)).

    Why: the release is a sample of about N rows, so on this marginal it carries that sampling error whatever
    the model knows; halving sigma further buys precision the released table cannot show, at four times the
    round's cost, and so fewer marginals measured (at epsilon 10 on Adult the paper's annealing takes sigma
    from 11.5 to 2.9 within 7 rounds and the budget ends after 19, leaving whole relations unmeasured; with the
    floor sigma stays near 5.8 for about 60 rounds). The stratified sampler (_mbi._draw_rows) keeps a clique's
    counts closer to the model than independent draws would, so the bound is a rule of thumb for where more
    precision stops paying rather than an exact one; measured on Adult at epsilon 10, both sampled stratified:
    decile 3-way TVD 0.032-0.034 with the floor against 0.039 without (bench/README.md). On by default; it does
    not bind at epsilon 1 on Adult, bank marketing or diabetes (the same rounds and tables).
    Post-processing: N is the model's noisy total and p its estimated marginal, never the private rows."""
    p = model.marginal(columns).ravel()
    return math.sqrt(model.total) * float(np.sqrt(p * (1 - p)).sum()) / p.size


def _maximal(cliques: set[Clique]) -> list[Clique]:
    ordered = sorted(cliques, key=len, reverse=True)
    return [c for i, c in enumerate(ordered) if not any(set(c) <= set(o) for o in ordered[:i])]
