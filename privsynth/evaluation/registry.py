"""Runs the utility metrics of the catalogue's checks (privsynth/checks.py).

A metric is ``metric(data: UtilityData, synthetic) -> list[UtilityResult]``, named in the catalogue as
"privsynth.evaluation.<module>:<function>" and imported here on first use.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Sequence

import pandas as pd

from privsynth.checks import CATALOGUE
from privsynth.data.domain import PublicDomain
from privsynth.results import UtilityResult

PACKAGE = "privsynth.evaluation"


@dataclass(frozen=True)
class UtilityData:
    """What utility is measured against: the holdout (never used to fit the generator) and, for the
    train-on-real reference model, the training rows. Its figures describe private data: review only."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    domain: PublicDomain
    target: str | None
    seed: int


Metric = Callable[[UtilityData, pd.DataFrame], list[UtilityResult]]


def resolve(implementation: str) -> Metric:
    module, _, function = implementation.partition(":")
    if not (module == PACKAGE or module.startswith(PACKAGE + ".")) or not function:
        raise ValueError(f"check implementation {implementation!r} must be '{PACKAGE}.<module>:<function>'")
    return getattr(importlib.import_module(module), function)


def run_metrics(data: UtilityData, synthetic: pd.DataFrame, names: Sequence[str]) -> list[UtilityResult]:
    """Every metric that measures one of ``names`` (catalogue names), once each."""
    chosen = [CATALOGUE[n].implementation for n in names if CATALOGUE[n].kind == "utility"]
    results: list[UtilityResult] = []
    for implementation in dict.fromkeys(chosen):
        results.extend(resolve(implementation)(data, synthetic))
    return results
