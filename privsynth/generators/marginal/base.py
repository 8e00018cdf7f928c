"""What every marginal-based generator shares once its Private-PGM model is fitted: sampling and the receipt.

MST and AIM differ only in which noisy marginals they buy. Both first buy the cut points of ``bins: quantile``
columns (``_prepare``), learn on the model's code space (generators/marginal/compression.py), and end holding a
``MarginalModel`` estimated from the noisy measurements alone, so sampling (spreading shared codes back,
deriving declared parent columns from their child, decoding, enforcing the public rules), the row count and
the guarantee are the same code.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from privsynth.generators.base import Generator
from privsynth.generators.filtering import RuleReport, draw_with_rules, probe_receipt
from privsynth.generators.marginal._mbi import MarginalModel
from privsynth.generators.marginal.compression import derived_code_map, identity_groups
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee


class MarginalGenerator(Generator):
    """A generator whose fit ends in a Private-PGM model; subclasses implement ``fit`` and call ``_finish``."""

    enforces_structure = True
    buys_quantile_bins = True
    #: mixed into the sampling seed (each generator kept its own, so a seed's table did not change)
    sample_tag: int = 0x5A3

    @staticmethod
    def _prepare(private: PrivateData, label: str) -> PrivateData:
        """Buy the cut points of ``bins: quantile`` columns (charged; the view encodes with them)."""
        return private.with_quantile_bins(label=f"{label}.bins")

    @staticmethod
    def model_columns(private: PrivateData) -> list[str]:
        """The columns the model learns: all but parent columns derived from their child."""
        derived = private.domain.derived_columns
        return [c for c in private.domain.names if c not in derived]

    def _finish(self, private: PrivateData, model: MarginalModel, mechanism: str, details: dict[str, Any],
                groups: dict[str, Any] | None = None) -> None:
        """Keep the model and write the guarantee from what the odometer actually charged. ``private`` is the
        view the fit ended on (its coders hold any bought cut points); ``groups`` spread model codes back."""
        self.model_ = model
        self.coders_ = dict(private.coders)
        self.domain_ = private.domain
        self.groups_ = {c: (groups or {}).get(c) or identity_groups(self.coders_[c].size) for c in model.columns}
        self.derived_ = {parent: (child, derived_code_map(self.domain_, self.coders_, child))
                         for parent, child in self.domain_.derived_columns.items()}
        self.spent_rho_ = private.odometer.spent_rho
        # the number of rows is itself private: the model's total comes from the noisy measurements only
        self.default_rows_ = max(1, int(round(model.total)))
        public = {"rho": self.spent_rho_, "neighbouring": "add/remove one row", **details, **private.edges_receipt()}
        hierarchies = {c: {"parent": p, "model_codes": len(self.groups_[c].members), "merged": self.groups_[c].n_merged}
                       for c, p in self.domain_.parents.items() if c in self.groups_}
        if hierarchies:
            public["hierarchies"] = hierarchies
        receipt = probe_receipt(self._draw, self.domain_)
        if receipt is not None:
            public["rules"] = receipt
        self.guarantee = Guarantee(
            dp=True,
            mechanism=mechanism,
            epsilon=private.odometer.epsilon_spent,
            delta=private.odometer.delta,
            accounting="zCDP (rho composed by addition), converted to (epsilon, delta) (Canonne-Kamath-Steinke 2020)",
            details=public,
        )

    def _draw(self, n: int, rng: np.random.Generator) -> pd.DataFrame:
        """Raw rows of the model: model codes, spread back to public codes, parents derived, decoded."""
        codes = self.model_.sample(n, rng)
        names = self.domain_.names
        table = np.zeros((n, len(names)), dtype=np.int64)
        for j, column in enumerate(self.model_.columns):
            table[:, names.index(column)] = self.groups_[column].expand(codes[:, j], rng)
        for parent, (child, code_map) in self.derived_.items():
            table[:, names.index(parent)] = code_map[table[:, names.index(child)]]
        return self.domain_.decode(table, self.coders_, rng)

    def sample(self, n: int, seed: int) -> pd.DataFrame:
        """``n`` rows that obey the threat model's rules (rejection; ``last_rules_`` says what was rejected)."""
        self._require_fitted("model_")
        rng = np.random.default_rng([seed, self.sample_tag])
        table, self.last_rules_ = draw_with_rules(self._draw, n, rng, self.domain_)
        return table

    last_rules_: RuleReport

    @property
    def guarantee_(self) -> Guarantee:
        self._require_fitted("guarantee")
        return self.guarantee
