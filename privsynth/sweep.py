"""``privsynth sweep``: the loop at several budgets, nothing released, to draw the privacy-utility curve.

A steward picks epsilon by looking at utility and every attack's risk side by side. Each point is a full
pass of the pipeline (fit, attacks, utility, gate) whose candidate table is dropped; the sweep folder holds
only an internal review package (``review/``: sweep.json, sweep.png, sweep.html): its figures are computed
from the private rows without noise, so it is never published. Looking at results computed from the private
table is itself a use of it, so every point is booked in the budget ledger like a run, with its own fresh
nonce: a sweep over 0.3, 1, 3 and 10 spends 14.3 from the data set's total, and it is refused up front when
that does not fit.

The points are independent, so they run side by side as dask tasks (``privsynth.parallel``: one worker per
core, or the threat model's ``compute`` cluster), and each point's own shadow fits then run inside its task.
A point is mostly single-threaded work (AIM's rounds of Private-PGM inference, the anonymeter attacks), so on a
2-core machine two points at once nearly halve the sweep. Every point carries its own seed and the same noise
key, so the curve does not depend on how many workers drew it.
"""
from __future__ import annotations

import json
import math
import shlex
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from privsynth.errors import BudgetExceeded, PrivsynthError
from privsynth.parallel import SYNCHRONOUS, compute_client, machine_workers, map_tasks
from privsynth.data.inputs import Inputs
from privsynth.pipeline import AttackPlan, Booking, StepReporter, evaluate, plan_attacks, prepare
from privsynth.privacy.home import StewardHome
from privsynth.privacy.ledger import BudgetLedger
from privsynth.privacy.noise import NoiseSource, fresh_nonce
from privsynth.release.bundle import (REVIEW_DIR, check_output_folder, release_reservation, reserve_run_folder,
                                     write_run_folder)
from privsynth.report.html import render_sweep_html
from privsynth.report.json_report import INTERNAL_NOTICE
from privsynth.report.plots import sweep_chart
from privsynth.threat_model import LoadedThreatModel, load_threat_model

SWEEP_JSON, SWEEP_PNG, SWEEP_HTML = "sweep.json", "sweep.png", "sweep.html"


@dataclass(frozen=True)
class SweepResult:
    folder: Path
    points: list[dict[str, Any]]


def parse_epsilons(text: str) -> list[float]:
    """``"0.3,1,3,10"`` -> [0.3, 1.0, 3.0, 10.0], sorted, each positive and finite."""
    try:
        values = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise PrivsynthError(f"--epsilons {text!r}: give positive numbers separated by commas, e.g. 0.3,1,3,10") \
            from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise PrivsynthError(f"--epsilons {text!r}: give positive numbers separated by commas, e.g. 0.3,1,3,10")
    return values


def _attack(result: Any) -> dict[str, Any]:
    """An attack without its plot data and details, except what an epsilon audit could certify (its floor)."""
    out = {k: v for k, v in result.to_dict().items() if k not in ("roc", "histogram", "details")}
    if "max_certifiable" in result.details:
        out["floor"] = {k: result.details.get(k) for k in ("max_certifiable", "smoke_test")}
    return out


def _point(epsilon: float, ev: Any) -> dict[str, Any]:
    return {
        "epsilon": epsilon,
        "epsilon_spent": ev.guarantee.epsilon,
        "decision": ev.decision.label,
        "failed_checks": [{"check": f.check, "reason": f.reason} for f in ev.decision.failures],
        "attacks": [_attack(a) for a in ev.attacks],
        "utility": {u.name: {k: v for k, v in u.to_dict().items() if k != "details"} for u in ev.utility},
        "timings": {k: round(v, 2) for k, v in ev.timings.items()},
    }


def sweep(
    threat_model: str | Path,
    epsilons: Sequence[float],
    out: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    reporter: StepReporter | None = None,
    command: str | None = None,
    home: str | Path | None = None,
) -> SweepResult:
    loaded = load_threat_model(threat_model, overrides)
    model = loaded.model
    steward = StewardHome.locate(home)
    out_dir = Path(out) if out is not None else Path(model.output.directory)
    steward.check_outside(out_dir)
    check_output_folder(out_dir)
    key, split_nonce = steward.noise_key(), fresh_nonce()
    inputs, fingerprint = prepare(loaded, steward, NoiseSource.secret(key, split_nonce), reporter)
    plan = plan_attacks(loaded, inputs, reporter)
    ledger = steward.ledger()
    _check_budget(ledger, model.dataset, sum(epsilons), model.privacy.total_epsilon)
    folder = reserve_run_folder(out_dir, f"{model.name}-sweep-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}")
    try:
        path = Path(threat_model).resolve()
        specs = [_PointSpec(path, tuple(overrides), epsilon, f"{folder.name}-eps{epsilon:g}", ledger.path, inputs,
                            plan, key, fresh_nonce(), fingerprint) for epsilon in epsilons]
        points = _evaluate_points(specs, model, reporter)
        document = {"notice": INTERNAL_NOTICE, "sweep": folder.name, "threat_model": model.name,
                    "dataset": model.dataset, "generator": model.generator.kind, "epsilons": list(epsilons),
                    "points": points, "command": command or _command(loaded, epsilons), "ledger": str(ledger.path),
                    "epsilon_booked": sum(epsilons),
                    "private": {"split_nonce": split_nonce.hex(), "rows_fingerprint": fingerprint,
                                "point_nonces": {f"{spec.epsilon:g}": spec.nonce.hex() for spec in specs}}}
        png = sweep_chart(points)
        write_run_folder(folder, {
            f"{REVIEW_DIR}/{SWEEP_JSON}": json.dumps(document, indent=2).encode(),
            f"{REVIEW_DIR}/{SWEEP_PNG}": png,
            f"{REVIEW_DIR}/{SWEEP_HTML}": render_sweep_html(document, png).encode("utf-8"),
        })
    except BaseException:
        release_reservation(folder)
        raise
    return SweepResult(folder, points)


def _evaluate_points(specs: list["_PointSpec"], model: Any, reporter: StepReporter | None) -> list[dict[str, Any]]:
    """One after another in this process, or side by side as dask tasks (each point's shadow fits inside it)."""
    workers = min(len(specs), model.compute.workers or machine_workers())
    if model.compute.scheduler == SYNCHRONOUS or (workers == 1 and model.compute.scheduler is None):
        points = []
        for spec in specs:
            if reporter is not None:
                reporter.progress(f"epsilon {spec.epsilon:g}")
            points.append(_evaluate_point(spec, reporter))
        return points
    parallel = [replace(spec, inner_overrides=(f"compute.scheduler={SYNCHRONOUS}",)) for spec in specs]
    if reporter is not None:
        reporter.progress(f"{len(specs)} budgets on {workers} worker(s), each point's shadow fits inside it")
    done = (lambda n, total: reporter.progress(f"{n}/{total} budgets evaluated")) if reporter is not None else None
    with compute_client(model.compute.scheduler, workers) as client:
        return map_tasks(_evaluate_point, parallel, client, retries=1, progress=done, label="sweep-point").results


@dataclass(frozen=True)
class _PointSpec:
    """Everything one point needs, picklable for a dask worker. ``inner_overrides`` keep a point that runs as a
    task from starting a cluster of its own (a dask worker cannot host one)."""

    threat_model: Path
    overrides: tuple[str, ...]
    epsilon: float
    name: str
    ledger_path: Path
    inputs: Inputs
    plan: AttackPlan
    noise_key: bytes
    nonce: bytes
    rows_fingerprint: str
    inner_overrides: tuple[str, ...] = ()


def _evaluate_point(spec: _PointSpec, reporter: StepReporter | None = None) -> dict[str, Any]:
    loaded = load_threat_model(spec.threat_model,
                               (*spec.overrides, *spec.inner_overrides, f"privacy.epsilon={spec.epsilon}"))
    booking = Booking(BudgetLedger(spec.ledger_path), spec.rows_fingerprint, spec.nonce.hex(), "swept")
    ev = evaluate(loaded, spec.name, booking, NoiseSource.secret(spec.noise_key, spec.nonce), spec.inputs,
                  spec.plan, reporter)
    return _point(spec.epsilon, ev)


def _check_budget(ledger: BudgetLedger, dataset: str, wanted: float, declared: float | None) -> None:
    standing = ledger.budgets(dataset)
    registered = standing[0].dataset.total_epsilon if standing else None
    totals = [t for t in (registered, declared) if t is not None]
    if not totals:
        return
    total, spent = min(totals), standing[0].epsilon_spent if standing else 0.0
    if spent + wanted > total * (1 + 1e-9):
        raise BudgetExceeded(f"dataset {dataset!r}: the sweep books epsilon {wanted:g} (the sum of its points) but "
                             f"only {max(0.0, total - spent):.4g} of its total epsilon {total:g} is left (ledger "
                             f"{ledger.path}); sweep fewer or smaller epsilons, or sweep on a public proxy table")


def _command(loaded: LoadedThreatModel, epsilons: Sequence[float]) -> str:
    parts = ["privsynth", "sweep", f"threat_models/{loaded.path.name}", "--epsilons",
             ",".join(f"{e:g}" for e in epsilons)]
    for override in loaded.overrides:
        parts += ["--set", override]
    return " ".join(shlex.quote(p) for p in parts)
