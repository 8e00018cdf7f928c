"""The public domain of a table, and every encoder privsynth uses, built from that domain ALONE.

Why this matters: an encoder fitted on the private table (min/max scaling, category lists, modes, Gaussian
mixtures) leaks outside the privacy budget. Every encoder here is a pure function of the threat model's
declared domain, so two neighbouring tables get byte-identical encoders (tested in tests/data).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.data import binning
from privsynth.rules import ColumnFacts, Rule, parse_rule, violations
from privsynth.columns import EXACT_INTEGER_LIMIT, column_facts
from privsynth.threat_model import CategoricalColumn, DataSpec, NumericColumn

ColumnSpec = NumericColumn | CategoricalColumn

DEFAULT_BINS = 32


@dataclass(frozen=True)
class ColumnCoder:
    """Maps one column to integer codes 0..size-1 and back, from public information only.

    Numbers fall into ``edges`` (public cut points on the column's scale, cut points bought through the
    privacy layer, or one code per integer), with an optional code of its own for exact zero (zero-inflated
    counts such as capital gains). Missing values, where the domain allows them, take the last code. Decoding
    places a number inside its bin (data/binning.py: uniformly or along an interpolated density): that is
    post-processing of the generator's output and needs no private information.
    """

    name: str
    kind: str  # "integer" | "float" | "categorical"
    size: int
    values: tuple[str, ...] = ()
    edges: tuple[float, ...] = ()
    exact: bool = False
    zero_code: int | None = None
    missing_code: int | None = None
    scale: str = "linear"
    within: str = "uniform"

    def encode(self, series: pd.Series) -> np.ndarray:
        if self.kind == "categorical":
            codes = pd.Categorical(series, categories=list(self.values)).codes.astype(np.int64)
            missing = series.isna().to_numpy()
        else:
            x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            missing = np.isnan(x)
            lo, hi = self.edges[0], self.edges[-1]
            xc = np.clip(np.nan_to_num(x, nan=lo), lo, hi)
            if self.exact:
                codes = np.rint(xc - lo).astype(np.int64)
            else:
                inner = np.array(self.edges[1:-1])
                codes = np.searchsorted(inner, xc, side="right").astype(np.int64)
                if self.zero_code is not None:
                    codes = codes + 1
                    codes[xc == 0] = 0
        if missing.any():
            if self.missing_code is None:
                raise ValueError(f"column {self.name!r} has missing values but its domain does not allow them")
            codes[missing] = self.missing_code
        if (codes < 0).any():
            raise ValueError(f"column {self.name!r} has values outside its public domain")
        return codes

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> pd.Series:
        codes = np.asarray(codes, dtype=np.int64)
        missing = codes == self.missing_code if self.missing_code is not None else np.zeros(len(codes), bool)
        if self.kind == "categorical":
            vals = np.array(self.values, dtype=object)
            out = np.where(missing, None, vals[np.clip(codes, 0, len(vals) - 1)])
            return pd.Series(out, name=self.name, dtype=object)
        x = self._decode_numbers(codes, missing, rng)
        x[missing] = np.nan
        return pd.Series(x, name=self.name)

    def _decode_numbers(self, codes: np.ndarray, missing: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lo = self.edges[0]
        if self.exact:
            return (lo + codes).astype(float)
        edges = np.asarray(self.edges)
        shift = 1 if self.zero_code is not None else 0
        in_bin = ~missing & (codes != self.zero_code if self.zero_code is not None else True)
        b = np.clip(codes - shift, 0, len(edges) - 2)
        integer = self.kind == "integer"
        left, right, spans_zero = binning.bin_ranges(edges, integer, self.zero_code is not None)
        x = np.zeros(len(codes))
        x[in_bin] = binning.place(b[in_bin], left, right, self.scale, self.within, rng)
        if integer:
            x = np.clip(np.floor(x), left[b], right[b] - 1)
            # zero has a code of its own: a bin that spans it never draws it (its range is one unit shorter)
            x = np.where(spans_zero[b] & (x >= 0), x + 1, x)
        if self.zero_code is not None:
            x = np.where(codes == self.zero_code, 0.0, x)
        return x.astype(float)


def coder_for(
    name: str,
    spec: ColumnSpec,
    bins: int | None = None,
    exact_integer_limit: int = EXACT_INTEGER_LIMIT,
    zero_bin: bool = True,
    bought_edges: Sequence[float] | None = None,
) -> ColumnCoder:
    """Build a column's coder from its public spec. ``bins`` overrides the spec with equal-width bins (used by
    evaluation). ``bought_edges``: the cut points of a ``bins: quantile`` column, bought through the privacy
    layer (PrivateData.with_quantile_bins); without them such a column is cut into ``quantile_bins``
    equal-width bins, which the privacy layer refuses to measure."""
    if isinstance(spec, CategoricalColumn):
        n = len(spec.values)
        return ColumnCoder(
            name, "categorical", n + int(spec.missing), values=tuple(spec.values), missing_code=n if spec.missing else None
        )
    lo, hi = float(spec.min), float(spec.max)
    integer = spec.type == "integer"
    n_integers = int(hi - lo) + 1 if integer else math.inf
    default = bins is None and spec.bins is None and spec.edges is None and spec.scale == "linear"
    if default and n_integers <= exact_integer_limit:
        size = int(n_integers)
        return ColumnCoder(name, spec.type, size + int(spec.missing), edges=(lo, hi), exact=True,
                           missing_code=size if spec.missing else None)
    edges = _edges(spec, bins, bought_edges, n_integers)
    zero_code = 0 if (zero_bin and bins is None and lo <= 0 <= hi) else None
    size = len(edges) - 1 + (1 if zero_code is not None else 0)
    return ColumnCoder(name, spec.type, size + int(spec.missing), edges=edges, zero_code=zero_code,
                       missing_code=size if spec.missing else None,
                       scale="linear" if bins is not None else spec.scale,
                       within="uniform" if bins is not None else spec.within_bin)


def _edges(spec: NumericColumn, bins: int | None, bought: Sequence[float] | None, n_integers: float) -> tuple[float, ...]:
    lo, hi = float(spec.min), float(spec.max)
    integer = spec.type == "integer"
    if bins is not None:
        inner = binning.inner_edges(lo, hi, int(min(bins, n_integers)), "linear")
    elif spec.edges is not None:
        inner = np.asarray(spec.edges, dtype=float)
    elif spec.bins == "quantile":
        inner = np.asarray(bought, dtype=float) if bought is not None else \
            binning.inner_edges(lo, hi, int(min(spec.quantile_bins, n_integers)), spec.scale)
    else:
        inner = binning.inner_edges(lo, hi, int(min(spec.bins or DEFAULT_BINS, n_integers)), spec.scale)
    return binning.full_edges(lo, hi, inner, integer)


class PublicDomain:
    """The declared columns of a table, in order, with the encoders derived from them, the public
    hierarchies of categorical columns and the public consistency rules over rows."""

    def __init__(self, columns: Mapping[str, ColumnSpec], target: str | None = None,
                 rules: Sequence[str] = ()) -> None:
        if not columns:
            raise ValueError("a public domain needs at least one column")
        self.columns: dict[str, ColumnSpec] = dict(columns)
        self.target = target if target in self.columns else None
        self.rule_texts: tuple[str, ...] = tuple(rules)
        self.rules: tuple[Rule, ...] = tuple(parse_rule(text) for text in rules)

    @classmethod
    def from_spec(cls, spec: DataSpec) -> "PublicDomain":
        """The domain of a threat model's ``data`` section: kept columns, target and rules."""
        return cls(spec.kept_columns, target=spec.target, rules=spec.rules)

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    @property
    def quantile_columns(self) -> list[str]:
        """Numeric columns whose cut points must be bought with budget (``bins: quantile``)."""
        return [n for n, s in self.columns.items() if isinstance(s, NumericColumn) and s.bins == "quantile"]

    @property
    def parents(self) -> dict[str, str]:
        """Child column -> the name of its declared public parent (a column of the table or a measuring level)."""
        return {n: s.parent.column for n, s in self.columns.items()
                if isinstance(s, CategoricalColumn) and s.parent is not None}

    @property
    def derived_columns(self) -> dict[str, str]:
        """Parent columns of the table that generators derive from their child: parent -> child."""
        return {parent: child for child, parent in self.parents.items() if parent in self.columns}

    def rule_facts(self) -> dict[str, ColumnFacts]:
        return column_facts(self.columns)

    def rule_violations(self, frame: pd.DataFrame) -> dict[str, int]:
        """How many rows of ``frame`` break each rule (rule text -> count)."""
        facts = self.rule_facts()
        return {rule.text: int(violations(rule, frame, facts).sum()) for rule in self.rules}

    def coders(self, bins: int | None = None, zero_bin: bool = True,
               bought_edges: Mapping[str, Sequence[float]] | None = None) -> dict[str, ColumnCoder]:
        limit = EXACT_INTEGER_LIMIT if bins is None else 0
        bought = bought_edges or {}
        return {n: coder_for(n, s, bins=bins, exact_integer_limit=limit, zero_bin=zero_bin,
                             bought_edges=bought.get(n)) for n, s in self.columns.items()}

    def encode(self, frame: pd.DataFrame, bins: int | None = None,
               bought_edges: Mapping[str, Sequence[float]] | None = None) -> tuple[np.ndarray, dict[str, ColumnCoder]]:
        """Integer codes (n_rows x n_columns) and the coders that made them."""
        coders = self.coders(bins=bins, zero_bin=bins is None, bought_edges=bought_edges)
        codes = np.stack([coders[n].encode(frame[n]) for n in self.names], axis=1)
        return codes, coders

    def decode(self, codes: np.ndarray, coders: Mapping[str, ColumnCoder], rng: np.random.Generator) -> pd.DataFrame:
        frame = pd.DataFrame({n: coders[n].decode(codes[:, j], rng) for j, n in enumerate(self.names)})
        return self.cast(frame)

    def cast(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The canonical dtypes: categories with the public list, nullable integers, floats."""
        out = {}
        for n, spec in self.columns.items():
            s = frame[n]
            if isinstance(spec, CategoricalColumn):
                out[n] = pd.Categorical(s.astype(object).where(s.notna(), None), categories=spec.values)
            elif spec.type == "integer":
                x = pd.to_numeric(s, errors="coerce")
                out[n] = x.round().astype("Int64") if spec.missing else x.round().astype("int64")
            else:
                out[n] = pd.to_numeric(s, errors="coerce").astype(float)
        return pd.DataFrame(out, index=frame.index)

    def distance_features(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows as vectors for distance attacks: numbers scaled by the PUBLIC range, categories one-hot
        (missing its own category). A missing number is encoded as -1, far from every present value."""
        parts = []
        for n, spec in self.columns.items():
            s = frame[n]
            if isinstance(spec, CategoricalColumn):
                codes = pd.Categorical(s, categories=spec.values).codes.astype(np.int64)
                codes = np.where(codes < 0, len(spec.values), codes)
                onehot = np.zeros((len(frame), len(spec.values) + 1))
                onehot[np.arange(len(frame)), codes] = 1.0
                parts.append(onehot)
            else:
                x = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float)
                z = (np.clip(x, spec.min, spec.max) - spec.min) / (spec.max - spec.min)
                parts.append(np.where(np.isnan(z), -1.0, z)[:, None])
        return np.concatenate(parts, axis=1)
