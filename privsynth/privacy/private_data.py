"""PrivateData: the only door from a generator to the private training rows.

A generator is handed this object, never the DataFrame. Each method answers one privatised query and charges
the odometer before computing it. A DP reviewer audits this file (and accounting.py, odometer.py) instead of
every generator. The one exception, ``raw_frame_for_non_dp_baseline``, is loudly named, refuses unless the
threat model sets ``allow_non_dp: true``, and marks the run as carrying no formal guarantee.

Neighbouring tables differ by adding or removing one row; a count vector then changes by 1 in one cell
(L2 and L1 sensitivity 1), and the L1 error of any fixed estimate against it changes by at most 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from privsynth.data.domain import ColumnCoder, PublicDomain
from privsynth.errors import PrivsynthError
from privsynth.privacy.accounting import exponential_rho, gaussian_rho
from privsynth.privacy.odometer import Odometer


@dataclass(frozen=True)
class NoisyMarginal:
    """Gaussian-noised counts over ``columns`` (shape = their code sizes), with the noise scale used."""

    columns: tuple[str, ...]
    counts: np.ndarray
    sigma: float


class PrivateData:
    def __init__(
        self,
        train: pd.DataFrame,
        domain: PublicDomain,
        odometer: Odometer,
        seed: int,
        allow_non_dp: bool = False,
    ) -> None:
        self._train = train
        self._codes, self._coders = domain.encode(train)
        self.domain = domain
        self.odometer = odometer
        self._rng = np.random.default_rng([seed, 0x5EED])
        self._allow_non_dp = allow_non_dp
        self.non_dp_access = False

    # ------------------------------------------------------------------ public facts (no budget needed)
    @property
    def coders(self) -> Mapping[str, ColumnCoder]:
        """Encoders built from the public domain alone."""
        return self._coders

    @property
    def sizes(self) -> dict[str, int]:
        return {n: c.size for n, c in self._coders.items()}

    # ------------------------------------------------------------------ privatised queries
    def measure_marginal(self, columns: Sequence[str], sigma: float, label: str = "marginal") -> NoisyMarginal:
        """Counts of every cell of the marginal over ``columns`` plus N(0, sigma^2) noise per cell."""
        columns = tuple(columns)
        self.odometer.charge(f"{label}{list(columns)}", "gaussian", gaussian_rho(sigma), sigma=sigma,
                             columns=list(columns))
        counts = self._true_counts(columns)
        noisy = counts + self._rng.normal(0.0, sigma, size=counts.shape)
        return NoisyMarginal(columns, noisy, float(sigma))

    def select_by_error(
        self,
        candidates: Sequence[tuple[str, ...]],
        estimates: Sequence[np.ndarray],
        epsilon: float,
        penalties: Sequence[float] | None = None,
        label: str = "select",
    ) -> int:
        """Exponential mechanism: pick the candidate marginal worst explained by its (public) estimate.

        The quality of candidate i is ||true_i - estimate_i||_1 - penalty_i (sensitivity 1, since the
        estimates and penalties do not depend on the private rows). Returns the chosen index.
        """
        if len(candidates) != len(estimates) or not candidates:
            raise ValueError("one estimate per candidate, and at least one candidate")
        self.odometer.charge(label, "exponential", exponential_rho(epsilon), epsilon=epsilon,
                             n_candidates=len(candidates))
        scores = np.array([np.abs(self._true_counts(tuple(c)) - np.asarray(e).reshape(self._shape(c))).sum()
                           for c, e in zip(candidates, estimates)], dtype=float)
        if penalties is not None:
            scores = scores - np.asarray(penalties, dtype=float)
        logits = 0.5 * epsilon * (scores - scores.max())
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum()
        return int(self._rng.choice(len(candidates), p=probabilities))

    # ------------------------------------------------------------------ escape hatch, non-DP only
    def raw_frame_for_non_dp_baseline(self) -> pd.DataFrame:
        """The raw training rows, for SDV baselines. Refuses unless the threat model allows non-DP runs."""
        if not self._allow_non_dp:
            raise PrivsynthError("this generator has no DP guarantee and reads raw rows; set "
                                 "privacy.allow_non_dp: true to run it as a labelled non-DP baseline")
        self.non_dp_access = True
        return self._train.copy()

    # ------------------------------------------------------------------ internals
    def _shape(self, columns: Sequence[str]) -> tuple[int, ...]:
        return tuple(self._coders[c].size for c in columns)

    def _true_counts(self, columns: tuple[str, ...]) -> np.ndarray:
        index = [self.domain.names.index(c) for c in columns]
        shape = self._shape(columns)
        flat = np.ravel_multi_index(tuple(self._codes[:, j] for j in index), shape)
        return np.bincount(flat, minlength=int(np.prod(shape))).astype(float).reshape(shape)
