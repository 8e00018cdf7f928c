"""Shadow-model membership inference on the full bundled Adult: who leaks, and does the epsilon audit hold?

Prints one row per configuration: gaussian-copula (non-DP) against the 10 most isolated training records and
against 10 random ones, and mst at epsilon 1 against the isolated ones; then the same gaussian-copula attack
on a 1-worker and a 2-worker local dask cluster, with both wall times and whether the results are identical.

    nice -n 10 .venv/bin/python bench/shadow_mia.py [--gc-runs 100] [--mst-runs 40] [--train-size 1000]

Every figure is measured here, on real rows; nothing is cached between runs.
"""
from __future__ import annotations

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np

from privsynth.attacks.base import AttackData, ShadowSetup
from privsynth.attacks.membership.shadow_attack import shadow_attack
from privsynth.attacks.membership.vulnerable import pick_targets
from privsynth.parallel import compute_client, task_mapper
from privsynth.data.inputs import read_inputs
from privsynth.pipeline import ShadowGenerator
from privsynth.threat_model import load_threat_model

ADULT = Path(__file__).resolve().parents[1] / "threat_models" / "adult.yaml"


def _interval(low: float, high: float) -> str:
    return f"[{low:.2f}, {high:.2f}]"


def attack(label: str, kind: str, epsilon: float, targets, inputs, args, runs: int, workers: int,
           scheduler: str | None = None):
    factory = ShadowGenerator(kind, {}, epsilon, 1e-9, kind != "mst", inputs.domain, 5 * args.train_size)
    start = time.perf_counter()
    with compute_client(scheduler, workers) as client:
        plan = ShadowSetup(targets, inputs.holdout, {"target": list(range(len(targets)))}, factory,
                           task_mapper(client), runs, args.train_size, 5 * args.train_size, label, 1e-9)
        data = AttackData(targets, targets, inputs.domain, (), (), 1, args.seed, shadow=plan)
        result, audit = shadow_attack(data, targets)  # the pipeline's own entry point; it ignores the table
    wall = time.perf_counter() - start
    d = result.details
    print(f"| {label} | {runs} | {result.estimate:.3f} {_interval(*result.ci)} | {d['pooled_auc']:.3f} "
          f"{_interval(*d['pooled_auc_ci'])} | {d['tpr_at_fpr_0.1']['tpr']:.2f} {_interval(*d['tpr_at_fpr_0.1']['tpr_ci'])}"
          f" (FPR {d['tpr_at_fpr_0.1']['fpr']:.2f}) | {d['tpr_at_fpr_0.01']['tpr']:.2f} "
          f"{_interval(*d['tpr_at_fpr_0.01']['tpr_ci'])} (FPR {d['tpr_at_fpr_0.01']['fpr']:.2f}) | "
          f"{audit.estimate:.2f} (max {audit.details['max_certifiable']:.2f}) | {wall:.0f} |", flush=True)
    print("   per-target AUC: " + ", ".join("-" if t["auc"] is None else f"{t['auc']:.2f}" for t in d["targets"]),
          flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gc-runs", type=int, default=100)
    parser.add_argument("--mst-runs", type=int, default=40)
    parser.add_argument("--train-size", type=int, default=1000)
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    # the attack's own experiment, not a release: a fixed public split is fine here
    inputs = read_inputs(load_threat_model(ADULT), np.random.default_rng(args.seed))
    start = time.perf_counter()
    isolated, _ = pick_targets(inputs.train, inputs.domain, args.targets, "isolated", args.seed)
    randomly, _ = pick_targets(inputs.train, inputs.domain, args.targets, "random", args.seed)
    print(f"Adult: {len(inputs.train)} train rows, {len(inputs.holdout)} reference (holdout) rows; isolation ranking "
          f"{time.perf_counter() - start:.0f} s; m={args.train_size}, {5 * args.train_size} synthetic rows per run; "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    print("| configuration | runs | mean AUC over targets [95% CI] | pooled AUC | TPR @ FPR 0.1 | TPR @ FPR 0.01 | "
          "empirical eps lower bound | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    iso = inputs.train.iloc[isolated].reset_index(drop=True)
    rnd = inputs.train.iloc[randomly].reset_index(drop=True)
    two = attack("gaussian-copula, 10 most isolated, 2 workers", "gaussian-copula", 1.0, iso, inputs, args,
                 args.gc_runs, 2)
    attack("gaussian-copula, 10 random", "gaussian-copula", 1.0, rnd, inputs, args, args.gc_runs, 2)
    attack("mst eps=1, 10 most isolated", "mst", 1.0, iso, inputs, args, args.mst_runs, 2)
    one = attack("gaussian-copula, 10 most isolated, 1 worker", "gaussian-copula", 1.0, iso, inputs, args,
                 args.gc_runs, 1)
    same = one.estimate == two.estimate and one.ci == two.ci and one.details["targets"] == two.details["targets"]
    print(f"1 worker {one.details['wall_seconds']:.0f} s vs 2 workers {two.details['wall_seconds']:.0f} s "
          f"(speed-up {one.details['wall_seconds'] / two.details['wall_seconds']:.2f}x); identical results: {same}")


if __name__ == "__main__":
    main()
