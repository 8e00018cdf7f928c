"""Runs the attacks of the catalogue's checks (privsynth/checks.py), with the controls each check asks for.

An implementation named in the catalogue ("privsynth.attacks.<module>:<function>") is imported here on first
use; one implementation may measure several checks (singling-out: univariate and multivariate). Adding an
attack is its file and one catalogue line, nothing here.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import replace
from typing import Callable, Mapping, Sequence

import pandas as pd

from privsynth.attacks.base import Attack, AttackData
from privsynth.checks import CATALOGUE, Check, check_of
from privsynth.results import AttackResult, Control

PACKAGE = "privsynth.attacks"
#: the fewest candidate rows an attack is run on. Linkability compares each target with its 10 nearest
#: synthetic rows and crashed below that; on a few rows every attack scores a meaningless zero. A smaller
#: candidate (MST at epsilon 0.01 on 600 rows estimated 1 row) gets "not measured" results, which the gate blocks.
MIN_CANDIDATE_ROWS = 20


def resolve(implementation: str, package: str = PACKAGE) -> Attack:
    """The function behind a catalogue entry; only this package's own modules may be named (layering)."""
    module, _, function = implementation.partition(":")
    if not (module == package or module.startswith(package + ".")) or not function:
        raise ValueError(f"check implementation {implementation!r} must be '{package}.<module>:<function>'")
    return getattr(importlib.import_module(module), function)


def run_checks(data: AttackData, synthetic: pd.DataFrame, names: Sequence[str],
               controls: Mapping[str, pd.DataFrame],
               progress: Callable[[int, int], None] = lambda done, total: None,
               measured_controls: Mapping[str, Mapping[str, AttackResult]] | None = None) -> list[AttackResult]:
    """Every attack that measures one of ``names`` (catalogue names), on the candidate table, then on each
    control table its checks declare (``controls``: "null" and "positive" tables; one left out is not run);
    a result carries its controls. ``measured_controls`` are controls already measured (the pipeline measures
    the null control before the fit), by control and result name: those are not run again.
    ``progress(done, total)`` counts attack calls, for a progress display."""
    known = dict(measured_controls or {})
    chosen = [CATALOGUE[n] for n in names if CATALOGUE[n].kind == "attack"]
    plan = {implementation: sorted({control for c in chosen if c.implementation == implementation
                                    for control in c.controls if control in controls and control not in known})
            for implementation in dict.fromkeys(c.implementation for c in chosen)}
    total, done = sum(1 + len(wanted) for wanted in plan.values()), 0
    results: list[AttackResult] = []
    for implementation, wanted in plan.items():
        on_candidate = [c for c in chosen if c.implementation == implementation and c.scope not in ("shadow", "audit")]
        if len(synthetic) < MIN_CANDIDATE_ROWS and on_candidate:  # (shadow attack and audit fit their own tables)
            results += _not_measured(data, on_candidate, len(synthetic))
            done += 1 + len(wanted)
            progress(done, total)
            continue
        attack = resolve(implementation)
        measured: dict[str, dict[str, AttackResult]] = {control: dict(found) for control, found in known.items()}
        for control in wanted:
            measured[control] = {r.name: r for r in attack(data, controls[control])}
            done += 1
            progress(done, total)
        for result in attack(data, synthetic):
            results.append(_with_controls(result, check_of(result.name), measured))
        done += 1
        progress(done, total)
    return results


def run_on(data: AttackData, table: pd.DataFrame, names: Sequence[str]) -> dict[str, AttackResult]:
    """The attacks of ``names`` with ``table`` posing as the synthetic table (a control), by result name."""
    return {r.name: r for r in run_checks(data, table, names, {})}
def _not_measured(data: AttackData, checks: Sequence[Check], rows: int) -> list[AttackResult]:
    """Results with no trials behind them (n = 0) and the reason: the gate blocks them as not measured."""
    why = (f"the candidate table has {rows} row(s); the attacks need at least {MIN_CANDIDATE_ROWS} synthetic rows "
           "(a larger budget or generator.n_rows gives a table that can be attacked)")
    names = [f"{c.name}:{s}" for c in checks if c.per_secret for s in data.secret_columns if s in data.domain.names]
    names += [c.name for c in checks if not c.per_secret]
    return [AttackResult(name, math.nan, (math.nan, math.nan), 0, details={"skipped": why}) for name in names]


def _with_controls(result: AttackResult, check: Check, measured: Mapping[str, Mapping[str, AttackResult]]
                   ) -> AttackResult:
    def control(which: str) -> Control | None:
        found = measured.get(which, {}).get(result.name) if which in check.controls else None
        return None if found is None else Control(found.estimate, found.ci)

    return replace(result, null_control=control("null") or result.null_control,
                   positive_control=control("positive") or result.positive_control)
