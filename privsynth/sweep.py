"""``privsynth sweep``: the loop at several budgets, nothing released, to draw the privacy-utility curve.

A steward picks epsilon by looking at utility and every attack's risk side by side. Each point is a full
pass of the pipeline (fit, attacks, utility, gate) whose candidate table is dropped; the sweep folder holds
sweep.json, sweep.png and sweep.html only. Looking at results computed from the private table is itself a
use of it, so every point is booked in the budget ledger like a run: a sweep over 0.3, 1, 3 and 10 spends
14.3 from the source's total, and it is refused up front when that does not fit.

The points are independent, so they run side by side as dask tasks (``privsynth.parallel``: one worker per
core, or the threat model's ``compute`` cluster), and each point's own shadow fits then run inside its task.
A point is mostly single-threaded work (AIM's rounds of Private-PGM inference, the anonymeter attacks), so on a
2-core machine two points at once nearly halve the sweep. Every point carries its own seed and the same noise
key, so the curve does not depend on how many workers drew it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

from privsynth.errors import BudgetExceeded, PrivsynthError
from privsynth.parallel import SYNCHRONOUS, compute_client, machine_workers, map_tasks
from privsynth.pipeline import Inputs, StepReporter, evaluate, preflight, read_inputs
from privsynth.privacy.ledger import LEDGER_NAME, BudgetLedger
from privsynth.privacy.noise_key import load_or_create_noise_key, noise_key_path
from privsynth.release.bundle import write_run_folder
from privsynth.report.html import render_sweep_html, reproduce_command
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


def _point(epsilon: float, ev: Any) -> dict[str, Any]:
    return {
        "epsilon": epsilon,
        "epsilon_spent": ev.guarantee.epsilon,
        "decision": ev.decision.label,
        "failed_checks": [{"check": f.check, "reason": f.reason} for f in ev.decision.failures],
        "attacks": [{"name": a.name, "estimate": a.estimate, "ci": list(a.ci), "threshold": a.threshold,
                     "passed": a.passed} for a in ev.attacks],
        "utility": {u.name: {"value": u.value, "ci": None if u.ci is None else list(u.ci), "threshold": u.threshold,
                             "passed": u.passed} for u in ev.utility},
        "timings": {k: round(v, 2) for k, v in ev.timings.items()},
    }


def sweep(
    threat_model: str | Path,
    epsilons: Sequence[float],
    out: str | Path | None = None,
    overrides: tuple[str, ...] = (),
    reporter: StepReporter | None = None,
    command: str | None = None,
    ledger_path: str | Path | None = None,
) -> SweepResult:
    loaded = load_threat_model(threat_model, overrides)
    model = loaded.model
    preflight(model)
    out_dir = Path(out) if out is not None else Path(model.output.directory)
    name = f"{model.name}-sweep-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"
    ledger = BudgetLedger(ledger_path if ledger_path is not None else out_dir / LEDGER_NAME)
    inputs = read_inputs(loaded)
    _check_budget(ledger, inputs.source_sha256, inputs.source_name, sum(epsilons), model.privacy.total_epsilon)
    noise_key = load_or_create_noise_key(noise_key_path(ledger.path.parent))
    path = Path(threat_model).resolve()
    specs = [_PointSpec(path, tuple(overrides), epsilon, f"{name}-eps{epsilon:g}", ledger.path, inputs, noise_key)
             for epsilon in epsilons]
    workers = min(len(specs), model.compute.workers or machine_workers())
    if model.compute.scheduler == SYNCHRONOUS or (workers == 1 and model.compute.scheduler is None):
        points = []
        for spec in specs:
            if reporter is not None:
                reporter.progress(f"epsilon {spec.epsilon:g}")
            points.append(_evaluate_point(spec, reporter))
    else:
        parallel = [replace(spec, inner_overrides=(f"compute.scheduler={SYNCHRONOUS}",)) for spec in specs]
        if reporter is not None:
            reporter.progress(f"{len(specs)} budgets on {workers} worker(s), each point's shadow fits inside it")
        done = (lambda n, total: reporter.progress(f"{n}/{total} budgets evaluated")) if reporter is not None else None
        with compute_client(model.compute.scheduler, workers) as client:
            points = map_tasks(_evaluate_point, parallel, client, retries=1, progress=done,
                               label="sweep-point").results
    document = {"sweep": name, "threat_model": model.name, "generator": model.generator.kind,
                "epsilons": list(epsilons), "points": points, "command": command or _command(loaded, epsilons),
                "ledger": str(ledger.path), "epsilon_booked": sum(epsilons)}
    png = sweep_chart(points)
    folder = write_run_folder(out_dir, name, {
        SWEEP_JSON: lambda p: p.write_text(json.dumps(document, indent=2)),
        SWEEP_PNG: lambda p: p.write_bytes(png),
        SWEEP_HTML: lambda p: p.write_text(render_sweep_html(document, png), encoding="utf-8"),
    })
    return SweepResult(folder, points)


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
    noise_key: bytes
    inner_overrides: tuple[str, ...] = ()


def _evaluate_point(spec: _PointSpec, reporter: StepReporter | None = None) -> dict[str, Any]:
    loaded = load_threat_model(spec.threat_model,
                               (*spec.overrides, *spec.inner_overrides, f"privacy.epsilon={spec.epsilon}"))
    ev = evaluate(loaded, spec.name, BudgetLedger(spec.ledger_path), reporter, inputs=spec.inputs,
                  noise_key=spec.noise_key)
    return _point(spec.epsilon, ev)


def _check_budget(ledger: BudgetLedger, sha: str, source: str, wanted: float, total: float | None) -> None:
    if total is None:
        return
    spent = sum(b.epsilon_spent for b in ledger.budgets(sha))
    if spent + wanted > total * (1 + 1e-9):
        raise BudgetExceeded(f"source {source}: the sweep books epsilon {wanted:g} (the sum of its points) but only "
                             f"{max(0.0, total - spent):.4g} of privacy.total_epsilon {total:g} is left (ledger "
                             f"{ledger.path}); sweep fewer or smaller epsilons, or sweep on a public proxy table")


def _command(loaded: LoadedThreatModel, epsilons: Sequence[float]) -> str:
    base = reproduce_command({"threat_model": {"file": loaded.path.name, "overrides": list(loaded.overrides)}})
    return base.replace("privsynth run", "privsynth sweep", 1) + " --epsilons " + ",".join(f"{e:g}" for e in epsilons)
