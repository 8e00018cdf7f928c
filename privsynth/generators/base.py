"""The generator interface: scikit-learn shaped, privacy by construction.

``fit(private)`` receives a PrivateData handle (never the DataFrame) and returns self; ``sample(n, seed)``
returns a DataFrame in the public domain's canonical dtypes; ``guarantee_`` says what the fit can promise.
Constructors only store parameters. Sampling is post-processing of what ``fit`` learnt through privatised
queries, so it costs no budget.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar

import pandas as pd
from pydantic import BaseModel, ValidationError

from privsynth.errors import NotFittedError, PrivsynthError
from privsynth.privacy.private_data import PrivateData
from privsynth.results import Guarantee


#: how a long fit tells the front end where it is (one line, e.g. "round 12: chose (age, sex); rho left 0.003").
#: The library stays silent by default; the CLI passes a callback that updates its progress display.
Progress = Callable[[str], None]


def silent(message: str) -> None:
    """The default Progress: say nothing."""


class Generator(ABC):
    #: True if the generator gives a formal DP guarantee; False marks a labelled non-DP baseline
    is_dp: bool = True
    kind: str = "abstract"
    #: how the fit's odometer composes charges: "zcdp" (marginal mechanisms) or an Opacus accountant ("rdp",
    #: "prv"); the pipeline builds the odometer from it before fit
    accountant: str = "zcdp"
    #: where a neural generator trains ("auto", "cpu", "cuda"); set by the pipeline from compute.device. It
    #: changes neither what may be learnt nor the guarantee
    device: str = "auto"
    #: rows to sample when the threat model does not say; set by fit (a DP generator estimates it privately)
    default_rows_: int
    #: the generator's parameter model (privsynth/generator_config.py): validated there, only stored here
    params_model: ClassVar[type[BaseModel]]
    #: True if the generator measures ``parent:`` hierarchies and enforces ``data.rules`` when sampling, and
    #: ``buys_quantile_bins`` if it buys the cut points of ``bins: quantile`` columns (PrivateData); the
    #: pipeline refuses a threat model that needs what its generator does not do
    enforces_structure: bool = False
    buys_quantile_bins: bool = False

    def __init__(self, params: BaseModel | None = None, **overrides: Any) -> None:
        """``params`` (the threat model's) and keyword ``overrides``, validated by ``params_model``."""
        given = {**(params.model_dump() if params is not None else {}), **overrides}
        try:
            self.params: Any = self.params_model(**given)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise PrivsynthError(f"generator.params.{where} for {self.kind!r}: {first['msg']}") from None

    @abstractmethod
    def fit(self, private: PrivateData, progress: Progress = silent) -> "Generator":
        """Learn from privatised queries only; return self. ``progress`` receives one-line status updates."""

    @abstractmethod
    def sample(self, n: int, seed: int) -> pd.DataFrame:
        """Draw ``n`` synthetic rows (post-processing, no budget)."""

    @property
    @abstractmethod
    def guarantee_(self) -> Guarantee:
        """The privacy guarantee of the fitted model."""

    def _require_fitted(self, attribute: str) -> None:
        if not hasattr(self, attribute):
            raise NotFittedError(f"{type(self).__name__}: call fit() before sample() or guarantee_")
