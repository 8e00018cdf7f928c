"""The generator interface: scikit-learn shaped, privacy by construction.

``fit(private)`` receives a PrivateData handle (never the DataFrame) and returns self; ``sample(n, seed)``
returns a DataFrame in the public domain's canonical dtypes; ``guarantee_`` says what the fit can promise.
Constructors only store parameters. Sampling is post-processing of what ``fit`` learnt through privatised
queries, so it costs no budget.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable

import pandas as pd

from privsynth.errors import PrivsynthError
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee


@dataclass(frozen=True)
class TrainingProgress:
    """One epoch of a neural generator's training, for a front end's progress bar. The loss is computed on
    private rows: it is for the steward's eyes while the fit runs and is never written to a run folder."""

    epoch: int
    epochs: int
    loss: float
    epsilon_spent: float


ProgressCallback = Callable[[TrainingProgress], None]


class Generator(ABC):
    #: True if the generator gives a formal DP guarantee; False marks a labelled non-DP baseline
    is_dp: bool = True
    kind: str = "abstract"
    #: how the fit's odometer composes charges: "zcdp" (marginal mechanisms) or an Opacus accountant
    accountant: str = "zcdp"
    #: runtime settings the pipeline may set before fit; they change neither what is learnt nor the guarantee.
    #: The library stays silent unless a front end passes a callback.
    progress: ProgressCallback | None = None
    device: str = "auto"
    #: rows to sample when the threat model does not say; set by fit (a DP generator estimates it privately)
    default_rows_: int

    def __init__(self, **params: Any) -> None:
        self.params = dict(params)

    @abstractmethod
    def fit(self, private: PrivateData) -> "Generator":
        """Learn from privatised queries only; return self."""

    @abstractmethod
    def sample(self, n: int, seed: int) -> pd.DataFrame:
        """Draw ``n`` synthetic rows (post-processing, no budget)."""

    @property
    @abstractmethod
    def guarantee_(self) -> Guarantee:
        """The privacy guarantee of the fitted model."""

    def _require_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise PrivsynthError(f"{type(self).__name__}: call fit() before sample()")


def check_params(kind: str, given: dict[str, Any], allowed: dict[str, type]) -> dict[str, Any]:
    """Generators reject unknown parameters by name: a typo must not silently fall back to a default."""
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise PrivsynthError(f"generator.params: {unknown} are not parameters of {kind!r} "
                             f"(allowed: {sorted(allowed)})")
    for name, value in given.items():
        expected = allowed[name]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            continue
        if not isinstance(value, expected) or isinstance(value, bool) and expected is not bool:
            raise PrivsynthError(f"generator.params.{name}: expected {expected.__name__}, got {value!r}")
    return dict(given)
