"""The public domain of a table, and every encoder privsynth uses, built from that domain ALONE.

Why this matters: an encoder fitted on the private table (min/max scaling, category lists, modes, Gaussian
mixtures) leaks outside the privacy budget. Every encoder here is a pure function of the threat model's
declared domain, so two neighbouring tables get byte-identical encoders (tested in tests/data).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from privsynth.threat_model import CategoricalColumn, NumericColumn

ColumnSpec = NumericColumn | CategoricalColumn

#: integer columns with at most this many values are kept exact by default (anchors: binning costs more
#: than the mechanism: age, education_num and hours_per_week lose most of their fidelity in 10 bins)
EXACT_INTEGER_LIMIT = 128
DEFAULT_BINS = 32


@dataclass(frozen=True)
class ColumnCoder:
    """Maps one column to integer codes 0..size-1 and back, from public information only.

    Numbers fall into ``edges`` (equal width over the public bounds, or one code per integer), with an
    optional code of its own for exact zero (zero-inflated counts such as capital gains). Missing values,
    where the domain allows them, take the last code. Decoding draws uniformly inside a bin: that is
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
        x = self._decode_numbers(codes, rng)
        x[missing] = np.nan
        return pd.Series(x, name=self.name)

    def _decode_numbers(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lo = self.edges[0]
        if self.exact:
            return (lo + codes).astype(float)
        edges = np.asarray(self.edges)
        b = codes - (1 if self.zero_code is not None else 0)
        b = np.clip(b, 0, len(edges) - 2)
        left, right = edges[b], edges[b + 1]
        u = rng.random(len(codes))
        if self.kind == "integer":
            # integers in [left, right) ; the last bin also holds the upper bound
            first = np.ceil(left)
            last = np.where(b == len(edges) - 2, np.floor(right), np.ceil(right) - 1)
            last = np.maximum(last, first)
            if self.zero_code is None:
                x = first + np.floor(u * (last - first + 1))
            else:  # zero has a code of its own: never draw it from a bin, even from one that spans it
                spans_zero = (first <= 0) & (last >= 0) & (last > first)
                x = first + np.floor(u * (last - first + 1 - spans_zero))
                x = np.where(spans_zero & (x >= 0), x + 1, x)
        else:
            x = left + u * (right - left)
        if self.zero_code is not None:
            x = np.where(codes == self.zero_code, 0.0, x)
        return x.astype(float)


def coder_for(
    name: str,
    spec: ColumnSpec,
    bins: int | None = None,
    exact_integer_limit: int = EXACT_INTEGER_LIMIT,
    zero_bin: bool = True,
) -> ColumnCoder:
    """Build a column's coder from its public spec. ``bins`` overrides the spec (used by evaluation)."""
    if isinstance(spec, CategoricalColumn):
        n = len(spec.values)
        return ColumnCoder(
            name, "categorical", n + int(spec.missing), values=tuple(spec.values), missing_code=n if spec.missing else None
        )
    lo, hi = float(spec.min), float(spec.max)
    n_bins = bins if bins is not None else spec.bins
    n_integers = int(hi - lo) + 1 if spec.type == "integer" else math.inf
    if n_bins is None and n_integers <= exact_integer_limit:
        size = int(n_integers)
        return ColumnCoder(name, spec.type, size + int(spec.missing), edges=(lo, hi), exact=True,
                           missing_code=size if spec.missing else None)
    n_bins = n_bins or DEFAULT_BINS
    if spec.type == "integer":
        n_bins = int(min(n_bins, n_integers))
    edges = tuple(np.linspace(lo, hi, n_bins + 1).tolist())
    zero_code = 0 if (zero_bin and bins is None and lo <= 0 <= hi) else None
    size = n_bins + (1 if zero_code is not None else 0)
    return ColumnCoder(name, spec.type, size + int(spec.missing), edges=edges, zero_code=zero_code,
                       missing_code=size if spec.missing else None)


class PublicDomain:
    """The declared columns of a table, in order, with the encoders derived from them."""

    def __init__(self, columns: Mapping[str, ColumnSpec], target: str | None = None) -> None:
        if not columns:
            raise ValueError("a public domain needs at least one column")
        self.columns: dict[str, ColumnSpec] = dict(columns)
        self.target = target if target in self.columns else None

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def coders(self, bins: int | None = None, zero_bin: bool = True) -> dict[str, ColumnCoder]:
        limit = EXACT_INTEGER_LIMIT if bins is None else 0
        return {n: coder_for(n, s, bins=bins, exact_integer_limit=limit, zero_bin=zero_bin)
                for n, s in self.columns.items()}

    def encode(self, frame: pd.DataFrame, bins: int | None = None) -> tuple[np.ndarray, dict[str, ColumnCoder]]:
        """Integer codes (n_rows x n_columns) and the coders that made them."""
        coders = self.coders(bins=bins, zero_bin=bins is None)
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
