"""Adapter to anonymeter 1.1.0 (Giomi et al., PoPETs 2023): the only file that imports it.

anonymeter compares an attack on the training rows (``ori``) with the same attack on a control set of rows
never used for fitting; its risk is the excess success rate, with a confidence interval. We keep ``ori`` and
``control`` the same size (unequal sizes inflate risk, anchors.md). Some of its sampling uses numpy's global
generator with no seed argument: every call runs inside ``numpy_global_seed`` so that it is reproducible and
the caller's global state is restored.
"""
from __future__ import annotations

import logging
import warnings
from typing import Any, Callable

import pandas as pd

from privsynth.data.domain import PublicDomain
from privsynth.results import AttackResult
from privsynth.seeding import numpy_global_seed
from privsynth.threat_model import CategoricalColumn

MISSING_TOKEN = "<NA>"


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


def run_evaluator(name: str, make: Callable[[], Any], evaluate: Callable[[Any], Any], seed: int,
                  baseline_broken: bool = False, **results_kw: Any) -> AttackResult:
    """Build, evaluate and pack one anonymeter evaluator into an AttackResult."""
    capture = _Capture()
    logger = logging.getLogger("anonymeter")
    logger.addHandler(capture)
    try:
        with numpy_global_seed(seed), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            evaluator = make()
            evaluate(evaluator)
            results = evaluator.results(confidence_level=0.95, **results_kw)
            risk = results.risk()
    finally:
        logger.removeHandler(capture)
    notes = capture.messages + [str(w.message) for w in caught if "anonymeter" in str(w.filename)]
    baseline = None if baseline_broken or results.baseline_rate is None else float(results.baseline_rate.value)
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

    def make():
        return LinkabilityEvaluator(ori=ori, syn=syn, control=control, aux_cols=aux_cols, n_attacks=n_attacks,
                                    n_neighbors=10)

    return run_evaluator("linkability", make, lambda ev: ev.evaluate(n_jobs=1), seed)


def inference(ori: pd.DataFrame, syn: pd.DataFrame, control: pd.DataFrame, aux_cols: list[str], secret: str,
              regression: bool, n_attacks: int, seed: int) -> AttackResult:
    from anonymeter.evaluators import InferenceEvaluator

    def make():
        return InferenceEvaluator(ori=ori, syn=syn, control=control, aux_cols=aux_cols, secret=secret,
                                  regression=regression, n_attacks=n_attacks)

    return run_evaluator(f"attribute_inference:{secret}", make, lambda ev: ev.evaluate(n_jobs=1), seed,
                         baseline_broken=True)


__all__ = ["anonymeter_frame", "singling_out", "linkability", "inference"]
