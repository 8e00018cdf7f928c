"""A test-only DP generator, small enough to fit in milliseconds, with a switch that breaks it on purpose.

It measures every 1-way marginal through PrivateData with the whole budget and samples each column
independently. ``noise=False`` is the deliberately broken mechanism of the audit tests: it charges the odometer
exactly like the correct one, but reads the exact counts behind the door (the fault of DataSynthesizer issue
#34: the accountant believes noise was added that never was).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from privsynth.generator_config import MSTParams
from privsynth.generators.base import Generator, Progress, silent
from privsynth.privacy.accounting import gaussian_sigma
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee


class IndependentParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    noise: bool = True


class IndependentMarginals(Generator):
    kind = "independent-marginals"
    is_dp = True
    params_model = IndependentParams

    @property
    def noise(self) -> bool:
        return self.params.noise

    def fit(self, private: PrivateData, progress: Progress = silent) -> "IndependentMarginals":
        names = private.domain.names
        sigma = gaussian_sigma(private.odometer.remaining_rho / len(names))
        self.probabilities_ = {}
        for column in names:
            measured = private.measure_marginal((column,), sigma, label="test.1way")
            counts = measured.counts if self.noise else private._true_counts((column,))  # the planted bug
            clipped = np.clip(counts, 0.0, None)
            self.probabilities_[column] = clipped / clipped.sum() if clipped.sum() > 0 else \
                np.full(len(clipped), 1.0 / len(clipped))
        self.coders_, self.domain_ = dict(private.coders), private.domain
        self.default_rows_ = 100
        self.guarantee = Guarantee(dp=True, mechanism="independent 1-way marginals (test only)",
                                   epsilon=private.odometer.epsilon_spent, delta=private.odometer.delta,
                                   accounting="zCDP")
        return self

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng([seed, 0x7E5])
        codes = np.stack([rng.choice(len(p), size=n, p=p) for p in self.probabilities_.values()], axis=1)
        return self.domain_.decode(codes, self.coders_, rng)

    @property
    def guarantee_(self) -> Guarantee:
        return self.guarantee



class NoiseOffMST(IndependentMarginals):
    """A planted fault behind a real kind: registered as "mst" (a threat model cannot name a test generator),
    it charges like a DP mechanism and publishes exact marginals."""

    kind = "mst"
    params_model = MSTParams

    @property
    def noise(self) -> bool:
        return False
