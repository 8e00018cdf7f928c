"""Adapter to anonymeter 1.1.0 (Giomi et al., PoPETs 2023): the only file that imports it.

anonymeter compares an attack on the training rows (``ori``) with the same attack on a control set of rows
never used for fitting; its risk is the excess success rate, with a confidence interval. We keep ``ori`` and
``control`` the same size (unequal sizes inflate risk, anchors.md). Some of its sampling uses numpy's global
generator with no seed argument: every call runs inside ``numpy_global_seed`` so that it is reproducible and
the caller's global state is restored.

The singling-out evaluator is not reproducible from its seed alone (the same seed gave a different risk on every
call), for two reasons in polars, which it uses for its frames:

- its candidate queries come from ``group_by(...).len()`` and ``Series.unique()``, whose output order is
  unspecified and differs from call to call; it then shuffles that list with the seeded generator, so a
  different order picks different queries. ``_stable_polars_order`` makes both keep the order of first
  appearance while anonymeter runs: one of the orders polars allows, so only the randomness goes;
- when dropping duplicate rows leaves ``ori`` and ``control`` of different sizes, it fits a size correction on
  unseeded ``DataFrame.sample`` draws, so each call also seeds polars' global generator (polars cannot read it
  back, so that one is not restored).

We change the order of polars' output rather than generating the queries ourselves, to keep anonymeter's
attack as published. The linkability evaluator's blind baseline is a simulation with an unseeded generator, so
we report its exact value instead (``blind_link_rate``); the baseline is shown in the report, not gated.
"""
from __future__ import annotations

import functools
import logging
import math
import threading
import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pandas as pd
import polars as pl

from privsynth.data.domain import PublicDomain
from privsynth.results import AttackResult
from privsynth.seeding import numpy_global_seed
from privsynth.threat_model import CategoricalColumn

MISSING_TOKEN = "<NA>"
LINK_NEIGHBOURS = 10  # synthetic neighbours per half of the known columns in the linkability attack


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def anonymeter_frame(frame: pd.DataFrame, domain: PublicDomain) -> pd.DataFrame:
    """One dtype per column everywhere: categories as text (missing = a token), numbers as floats."""
    out = {}
    for name, spec in domain.columns.items():
        if isinstance(spec, CategoricalColumn):
            out[name] = frame[name].astype(object).where(frame[name].notna(), MISSING_TOKEN).astype(str)
        else:
            out[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return pd.DataFrame(out).reset_index(drop=True)


def _rate(rate: Any) -> dict[str, float] | None:
    return None if rate is None else {"value": float(rate.value), "error": float(rate.error)}


_POLARS_PATCH = threading.Lock()


@contextmanager
def _stable_polars_order() -> Iterator[None]:
    """``DataFrame.group_by`` and ``Series.unique`` keep the order of first appearance inside the block (see the
    module docstring). The lock keeps two threads from restoring each other's patch."""
    with _POLARS_PATCH:
        group_by, unique = pl.DataFrame.group_by, pl.Series.unique
        pl.DataFrame.group_by = functools.partialmethod(group_by, maintain_order=True)  # type: ignore[method-assign]
        pl.Series.unique = functools.partialmethod(unique, maintain_order=True)  # type: ignore[method-assign]
        try:
            yield
        finally:
            pl.DataFrame.group_by, pl.Series.unique = group_by, unique  # type: ignore[method-assign]


@functools.cache
def _keep_compiled_distances() -> None:
    """Have numba keep its machine code of anonymeter's Gower nearest-neighbour search on disk.

    anonymeter jits ``gower_distance`` and ``_nearest_neighbors`` without numba's ``cache=True``, so every
    process compiled them again: about 15 s of a 30 s small run, paid again by every CLI call, dask worker and
    notebook kernel. ``enable_caching`` is what ``cache=True`` does; numba writes the cache beside the module
    (or in its user cache folder) and recompiles when the library changes. The code it runs is unchanged."""
    from anonymeter.neighbors import mixed_types_kneighbors as knn

    for function in (knn.gower_distance, knn._nearest_neighbors):
        function.enable_caching()


def run_evaluator(name: str, make: Callable[[], Any], evaluate: Callable[[Any], Any], seed: int,
                  baseline_broken: bool = False, blind_baseline: float | None = None,
                  **results_kw: Any) -> AttackResult:
    """Build, evaluate and pack one anonymeter evaluator into an AttackResult. ``blind_baseline``, when given,
    is reported instead of anonymeter's simulated baseline (which cannot be seeded)."""
    capture = _Capture()
    logger = logging.getLogger("anonymeter")
    logger.addHandler(capture)
    try:
        with numpy_global_seed(seed), _stable_polars_order(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            pl.set_random_seed(seed % 2**64)
            evaluator = make()
            evaluate(evaluator)
            results = evaluator.results(confidence_level=0.95, **results_kw)
            risk = results.risk()
    finally:
        logger.removeHandler(capture)
    notes = capture.messages + [str(w.message) for w in caught if "anonymeter" in str(w.filename)]
    baseline = None if baseline_broken or results.baseline_rate is None else float(results.baseline_rate.value)
    if blind_baseline is not None:
        baseline = blind_baseline
    details = {
        "attack_rate": _rate(results.attack_rate), "baseline_rate": _rate(results.baseline_rate),
        "control_rate": _rate(results.control_rate), "n_success": float(results.n_success),
        "n_attacks": int(results.n_attacks_ori), "warnings": notes[:5],
    }
    if baseline_broken:
        details["baseline_note"] = "anonymeter 1.1.0's inference baseline is broken; it does not enter the risk"
    return AttackResult(name=name, estimate=float(risk.value), ci=(float(risk.ci[0]), float(risk.ci[1])),
                        n=int(results.n_attacks_ori), baseline=baseline, details=details)


def singling_out(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, mode: str, n_attacks: int,
                 n_cols: int, seed: int) -> AttackResult:
    from anonymeter.evaluators import SinglingOutEvaluator

    def make():
        return SinglingOutEvaluator(ori=ori, syn=syn, control=control, n_attacks=n_attacks, n_cols=n_cols,
                                    max_attempts=20 * n_attacks, seed=seed)

    try:
        return run_evaluator(f"singling_out_{mode}", make, lambda ev: ev.evaluate(mode=mode), seed)
    except RuntimeError as exc:  # too few singling-out queries could be built from this synthetic table
        return AttackResult(name=f"singling_out_{mode}", estimate=0.0, ci=(0.0, 0.0), n=0, baseline=None,
                            details={"note": f"no singling-out query found: {exc}"})


def linkability(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, aux_cols: tuple[list[str], list[str]],
                n_attacks: int, seed: int) -> AttackResult:
    from anonymeter.evaluators import LinkabilityEvaluator

    _keep_compiled_distances()

    def make():
        return LinkabilityEvaluator(ori=ori, syn=syn, control=control, aux_cols=aux_cols, n_attacks=n_attacks,
                                    n_neighbors=LINK_NEIGHBOURS)

    return run_evaluator("linkability", make, lambda ev: ev.evaluate(n_jobs=1), seed,
                         blind_baseline=blind_link_rate(len(syn), LINK_NEIGHBOURS))


def blind_link_rate(n_synthetic: int, k: int) -> float:
    """The chance that a blind attacker links a target: two independent uniform draws of ``k`` of the
    ``n_synthetic`` rows (one per half of the known columns) share a row, 1 - C(n-k, k) / C(n, k).

    anonymeter estimates this by simulation with an unseeded generator, so its baseline changed from call to
    call; the exact value is what that simulation estimates."""
    k = min(k, n_synthetic)
    miss = math.prod((n_synthetic - k - i) / (n_synthetic - i) for i in range(k)) if 2 * k <= n_synthetic else 0.0
    return 1.0 - miss


def inference(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, aux_cols: list[str], secret: str,
              regression: bool, n_attacks: int, seed: int) -> AttackResult:
    from anonymeter.evaluators import InferenceEvaluator

    _keep_compiled_distances()

    def make():
        return InferenceEvaluator(ori=ori, syn=syn, control=control, aux_cols=aux_cols, secret=secret,
                                  regression=regression, n_attacks=n_attacks)

    return run_evaluator(f"attribute_inference:{secret}", make, lambda ev: ev.evaluate(n_jobs=1), seed,
                         baseline_broken=True)


__all__ = ["anonymeter_frame", "singling_out", "linkability", "inference"]
