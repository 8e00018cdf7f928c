"""What every marginal-based generator shares once its Private-PGM model is fitted: sampling and the receipt.

MST and AIM differ only in which noisy marginals they buy. After that both hold a ``MarginalModel`` estimated
from the noisy measurements alone, so sampling, the row count and the guarantee are the same code.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privsynth.generators.base import Generator
from privsynth.generators.marginal._mbi import MarginalModel
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee


class MarginalGenerator(Generator):
    """A generator whose fit ends in a Private-PGM model; subclasses implement ``fit`` and call ``_finish``."""

    def _finish(self, private: PrivateData, model: MarginalModel, mechanism: str, details: dict[str, Any]) -> None:
        """Keep the model and write the guarantee from what the odometer actually charged."""
        self.model_ = model
        self.coders_ = dict(private.coders)
        self.domain_ = private.domain
        self.spent_rho_ = private.odometer.spent_rho
        # the number of rows is itself private: the model's total comes from the noisy measurements only
        self.default_rows_ = max(1, int(round(model.total)))
        self.guarantee = Guarantee(
            dp=True,
            mechanism=mechanism,
            epsilon=private.odometer.epsilon_spent,
            delta=private.odometer.delta,
            accounting="zCDP (rho composed by addition), converted to (epsilon, delta) (Canonne-Kamath-Steinke 2020)",
            details={"rho": self.spent_rho_, "neighbouring": "add/remove one row", **details},
        )

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        self._require_fitted("model_")
        rng = np.random.default_rng([seed, 0x5A3])
        codes = self.model_.sample(n, rng)
        order = [self.model_.columns.index(c) for c in self.domain_.names]
        return self.domain_.decode(codes[:, order], self.coders_, rng)

    @property
    def guarantee_(self) -> Guarantee:
        self._require_fitted("guarantee")
        return self.guarantee
