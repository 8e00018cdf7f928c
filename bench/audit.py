"""How tight are the epsilon audits? The canary audit's lower bound and the noise audit's implied epsilon against
the claim, on the bundled Adult.

Prints one row per generator and claimed epsilon (MST, AIM, dp-tvae at 1 and 4): the black-box canary audit's
95% lower bound, the claim, their ratio, the right guesses, the most the audit could certify (every guess right);
the white-box noise audit of the same fits (privsynth/privacy/noise_audit.py): noise added over noise charged
with its 99.9% interval, the epsilon it implies and its ratio to the claim; canaries x runs and wall time;
then the planted faults of tests/attacks/faults.py at a claimed epsilon 1 (a blocked fault has a bound above 1). The audit is the pipeline's own (privsynth/attacks/canary.py), on a local dask
cluster of ``--workers`` processes; the population is the split's holdout, as in a run.

    PYTHONPATH=. nice -n 10 .venv/bin/python bench/audit.py [--canaries 100] [--runs 6] [--base-rows 500]
        [--workers 2] [--only all|correct|faults]

Every figure is measured here, on real rows; nothing is cached between runs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the planted faults live with the tests

from privsynth.attacks.base import AuditSetup  # noqa: E402
from privsynth.attacks.canary import run_canary_audit  # noqa: E402
from privsynth.data.inputs import read_inputs  # noqa: E402
from privsynth.parallel import compute_client, task_mapper  # noqa: E402
from privsynth.pipeline import ShadowGenerator  # noqa: E402
from privsynth.threat_model import load_threat_model  # noqa: E402
from tests.attacks.faults import WithFaults  # noqa: E402

ADULT = ROOT / "threat_models" / "adult.yaml"
DELTA = 1e-9
CORRECT = [(kind, epsilon) for kind in ("mst", "aim", "dp-tvae") for epsilon in (1.0, 4.0)]
PLANTED = [(kind, 1.0) for kind in ("mst-noise-off", "mst-data-domain", "mst-noise-third", "tvae-noise-third")]
PARAMS = {"dp-tvae": {"epochs": 10}, "tvae-noise-third": {"epochs": 10}}


def audit_row(kind: str, epsilon: float, inputs, args, client) -> None:
    rows = int(40 * (args.base_rows + args.canaries / 2))
    factory = ShadowGenerator(kind, PARAMS.get(kind, {}), epsilon, DELTA, False, inputs.domain, rows)
    setup = AuditSetup(inputs.holdout, WithFaults(factory).audit, task_mapper(client), args.canaries, args.runs,
                       args.base_rows, DELTA, epsilon)
    start = time.perf_counter()
    d = run_canary_audit(setup, inputs.domain, args.seed)
    wall = time.perf_counter() - start
    bound, noise = float(d["epsilon"]), d["noise"]
    low, high = noise["ratio_interval"]
    print(f"| {kind} | {epsilon:g} | {bound:.2f} | {bound / epsilon:.2f} | {d['correct']} of {d['guesses']} "
          f"({d['scorer']}) | {d['max_certifiable']:.2f} | {noise['ratio']:.3f} [{low:.3f}, {high:.3f}] | "
          f"{noise['epsilon']:.2f} | {noise['epsilon'] / epsilon:.2f} | {args.canaries} x {args.runs} | {wall:.0f} |",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--canaries", type=int, default=100)
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--base-rows", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("all", "correct", "faults"), default="all")
    args = parser.parse_args()
    loaded = load_threat_model(ADULT)
    inputs = read_inputs(loaded, np.random.default_rng(args.seed))
    print(f"Adult: {len(inputs.train)} training rows (never used here), {len(inputs.holdout)} holdout rows; "
          f"delta {DELTA:g}, 95% confidence\n")
    print("| generator | claimed epsilon | canary lower bound | ratio | right guesses | most certifiable "
          "| noise added / charged | noise epsilon | ratio | canaries x runs | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with compute_client(None, args.workers) as client:
        for kind, epsilon in (CORRECT if args.only != "faults" else []) + (PLANTED if args.only != "correct" else []):
            audit_row(kind, epsilon, inputs, args, client)


if __name__ == "__main__":
    main()
