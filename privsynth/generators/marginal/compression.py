"""The model's code space for a column: which public codes share a model code, and how they are spread back.

Marginal mechanisms learn on a coarser code space than the public one when noisy counts cannot support every
code. Two ways to get there, both decided from noisy measurements or public facts only:

* AIM's compression (aim.py ``_compress``): codes whose noisy 1-way count is small are merged.
* A public hierarchy (``parent:`` in the threat model; ICD-9 code -> chapter, industry -> category): the column is
  measured at the parent level first and then at the child level, with PARENT_SHARE of its 1-way budget on the
  parent. A parent whose noisy count is below 3 sigma is not refined (its children share one model code and
  are spread uniformly: their own noisy counts are noise); inside a supported parent, every child whose noisy
  count reaches 3 sigma keeps a code of its own and the rest share one code of that parent. Every model code
  therefore lies inside one parent, so sampled children always respect their parent, and the parent level's
  precise total corrects its children's (the least-squares combination of the two noisy levels).

Spreading a shared code back picks a member in proportion to its clipped noisy count (public: a noisy
measurement), or uniformly when no member has a positive one. Everything here is post-processing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from privsynth.data.domain import ColumnCoder, PublicDomain
from privsynth.privacy.private_data import NoisyMarginal, PrivateData
from privsynth.threat_model import CategoricalColumn

#: share of a hierarchical column's 1-way budget spent on the parent level (the rest on the children)
PARENT_SHARE = 0.25
#: a noisy count supports a code of its own from this many noise standard deviations
SUPPORT = 3.0


@dataclass(frozen=True)
class CodeGroups:
    """``code_map[public code] = model code``; ``members[m]`` are the public codes of model code m and
    ``weights[m]`` their spreading weights (clipped noisy counts, or all equal)."""

    code_map: np.ndarray
    members: tuple[np.ndarray, ...]
    weights: tuple[np.ndarray, ...]

    @property
    def n_merged(self) -> int:
        """How many public codes share a model code with another one."""
        return int(sum(len(m) for m in self.members if len(m) > 1))

    def expand(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Model codes back to public codes; a shared code becomes one of its members at random."""
        codes = np.asarray(codes, dtype=np.int64)
        single = np.array([m[0] for m in self.members], dtype=np.int64)
        out = single[codes]
        for code, (members, weights) in enumerate(zip(self.members, self.weights)):
            if len(members) < 2:
                continue
            rows = np.flatnonzero(codes == code)
            total = weights.sum()
            p = weights / total if total > 0 else np.full(len(members), 1.0 / len(members))
            out[rows] = rng.choice(members, size=len(rows), p=p)
        return out


def parent_index(coder: ColumnCoder, spec: CategoricalColumn) -> tuple[np.ndarray, list[str]]:
    """Public code -> index of its parent value (the missing code is a parent of its own), and the parents."""
    mapping = spec.parent_map()
    parents = list(dict.fromkeys(mapping[v] for v in coder.values))
    index = [parents.index(mapping[v]) for v in coder.values]
    if coder.missing_code is not None:
        index.append(len(parents))
        parents.append("<missing>")
    return np.asarray(index, dtype=np.int64), parents


def derived_code_map(domain: PublicDomain, coders: dict[str, ColumnCoder], child: str) -> np.ndarray:
    """Child public code -> public code of the child's parent COLUMN (declared in the table)."""
    spec = domain.columns[child]
    assert isinstance(spec, CategoricalColumn) and spec.parent is not None
    parent_coder = coders[spec.parent.column]
    mapping = spec.parent_map()
    if parent_coder.kind == "categorical":
        out = [parent_coder.values.index(mapping[v]) for v in coders[child].values]
    else:  # an exactly coded integer column (validated): its code is its value's
        out = parent_coder.encode(pd.Series([int(mapping[v]) for v in coders[child].values])).tolist()
    if coders[child].missing_code is not None:
        out.append(int(parent_coder.missing_code))  # validated: the parent allows missing when the child does
    return np.asarray(out, dtype=np.int64)


def measure_hierarchy(private: PrivateData, column: str, sigma: float, label: str) -> tuple[NoisyMarginal, CodeGroups]:
    """The 1-way of a column with a public parent, at the cost of one measurement at ``sigma``; returns the
    noisy counts in the model's code space (see the module doc) and how to spread the model codes back."""
    spec = private.domain.columns[column]
    assert isinstance(spec, CategoricalColumn)
    parent_of, parents = parent_index(private.coders[column], spec)
    sigma_parent, sigma_child = sigma / math.sqrt(PARENT_SHARE), sigma / math.sqrt(1 - PARENT_SHARE)
    used = np.unique(parent_of)
    parent_view = private.recoded({column: np.searchsorted(used, parent_of)})
    parent = parent_view.measure_marginal((column,), sigma_parent, label=f"{label}.parent")
    child = private.measure_marginal((column,), sigma_child, label=label)
    parent_counts = np.zeros(len(parents))
    parent_counts[used] = parent.counts
    members: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    for p in range(len(parents)):
        children = np.flatnonzero(parent_of == p)
        if not len(children):
            continue
        if parent_counts[p] < SUPPORT * sigma_parent:
            members.append(children)
            weights.append(np.ones(len(children)))
            continue
        own = children[child.counts[children] >= SUPPORT * sigma_child]
        rest = np.setdiff1d(children, own)
        members += [np.array([c]) for c in own]
        weights += [np.ones(1)] * len(own)
        if len(rest):
            members.append(rest)
            weights.append(np.clip(child.counts[rest], 0.0, None))
    code_map = np.empty(len(parent_of), dtype=np.int64)
    for code, group in enumerate(members):
        code_map[group] = code
    # weights and the model's loss use the noise actually added (k times the planned one at person level)
    counts = _combine(child.counts, child.sigma, parent_counts, parent.sigma, members, parent_of)
    return NoisyMarginal((column,), counts, float(child.sigma)), CodeGroups(code_map, tuple(members), tuple(weights))


def _combine(child: np.ndarray, sigma_child: float, parent: np.ndarray, sigma_parent: float,
             members: list[np.ndarray], parent_of: np.ndarray) -> np.ndarray:
    """Noisy counts of the model codes: their members' child counts summed, then moved so each parent's total
    is the inverse-variance mean of the children's sum and the parent's own noisy count, the difference
    shared in proportion to each code's variance (the least-squares estimate on a two-level tree)."""
    sums = np.array([child[g].sum() for g in members])
    variances = np.array([len(g) * sigma_child**2 for g in members])
    owner = np.array([parent_of[g[0]] for g in members])
    for p in np.unique(owner):
        mine = owner == p
        total, variance = sums[mine].sum(), variances[mine].sum()
        combined = (total / variance + parent[p] / sigma_parent**2) / (1 / variance + 1 / sigma_parent**2)
        sums[mine] += (combined - total) * variances[mine] / variance
    return sums


def identity_groups(size: int) -> CodeGroups:
    codes = np.arange(size)
    return CodeGroups(codes, tuple(np.array([c]) for c in codes), tuple(np.ones(1) for _ in codes))


def merge_counts(counts: np.ndarray, code_map: np.ndarray) -> np.ndarray:
    return np.bincount(code_map, weights=np.asarray(counts, dtype=float), minlength=int(code_map.max()) + 1)


def measure_one_ways(private: PrivateData, columns: list[str], sigma: float, label: str,
                     compress: Callable[[NoisyMarginal, float], Any] | None = None,
                     ) -> tuple[PrivateData, list[NoisyMarginal], dict[str, Any]]:
    """Every column's 1-way at noise ``sigma`` (a hierarchical column: its two levels at the same total cost),
    in the model's code space; returns the private data recoded to that space, the measurements and each
    column's groups (``compress(measurement, sigma)`` decides them for the other columns; None keeps every
    code)."""
    measurements, groups = [], {}
    for column in columns:
        if column in private.domain.parents:
            measurement, groups[column] = measure_hierarchy(private, column, sigma, label)
        else:
            raw = private.measure_marginal((column,), sigma, label=label)
            groups[column] = compress(raw, sigma) if compress is not None else identity_groups(len(raw.counts))
            measurement = NoisyMarginal(raw.columns, merge_counts(raw.counts, groups[column].code_map), raw.sigma)
        measurements.append(measurement)
    view = private.recoded({c: g.code_map for c, g in groups.items()})
    return view, measurements, groups
