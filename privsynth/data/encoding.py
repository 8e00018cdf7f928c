"""One-hot feature rows for neural generators, laid out from the public coders alone.

Every column becomes a block of ``coder.size`` indicators (categories from the declared list, numbers in
the public bins or exact integer codes of data/domain.py, missing values their own code). Nothing here looks
at a table to decide the layout: no min/max, no category frequencies, no Gaussian mixtures. A row's features
depend on that row only, so neighbouring tables differ in exactly one feature row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from privsynth.data.domain import ColumnCoder


@dataclass(frozen=True)
class OneHotLayout:
    """Column ``names[j]`` occupies features ``offsets[j] : offsets[j] + sizes[j]``."""

    names: tuple[str, ...]
    sizes: tuple[int, ...]

    @classmethod
    def from_coders(cls, coders: Mapping[str, ColumnCoder]) -> "OneHotLayout":
        return cls(tuple(coders), tuple(int(c.size) for c in coders.values()))

    @property
    def offsets(self) -> tuple[int, ...]:
        return tuple(int(x) for x in np.concatenate([[0], np.cumsum(self.sizes)[:-1]]))

    @property
    def width(self) -> int:
        return int(sum(self.sizes))

    def block(self, name: str) -> slice:
        j = self.names.index(name)
        return slice(self.offsets[j], self.offsets[j] + self.sizes[j])

    def one_hot(self, codes: np.ndarray) -> np.ndarray:
        """Integer codes (rows x columns, in ``names`` order) -> float32 indicators (rows x width)."""
        codes = np.asarray(codes, dtype=np.int64)
        if codes.ndim != 2 or codes.shape[1] != len(self.names):
            raise ValueError(f"expected codes with {len(self.names)} columns, got shape {codes.shape}")
        if ((codes < 0) | (codes >= np.asarray(self.sizes))).any():
            raise ValueError("a code lies outside its column's public domain")
        out = np.zeros((len(codes), self.width), dtype=np.float32)
        out[np.arange(len(codes))[:, None], codes + np.asarray(self.offsets)] = 1.0
        return out
