#!/usr/bin/env python
"""Decoding inside a bin: uniform against interpolated, on the same fitted model and the same codes.

    python bench/within_bin.py --dataset adult --generator mst --epsilons 1,10 --config public

Decoding is post-processing, so one fit serves both: the model is sampled with each seed, and the identical
codes are decoded once with ``within_bin: uniform`` and once with ``interpolated`` (data/binning.py). Printed:
decile-binned (bench/fidelity.py) 1-way TVD of every binned numeric column, mean 2- and 3-way TVD over the
marginals holding one, and the public 16-bin 1-way TVD of the same columns, each the mean over the seeds.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fidelity  # noqa: E402  (the bench's own scoring, same folder)


def _scores(real, synthetic, domain, columns: list[str]) -> dict[str, float]:
    out: dict[str, float] = {}
    names = domain.names
    wanted = {names.index(c) for c in columns}
    for label, edges in (("pub", None), ("dec", fidelity.decile_edges(real, domain))):
        a, cards = fidelity._codes(real, domain, edges)
        b, _ = fidelity._codes(synthetic, domain, edges)
        for c in columns:
            out[f"{label}1 {c}"] = float(fidelity._tvds(a, b, cards, [(names.index(c),)])[0])
        if label == "dec":
            for order in (2, 3):
                sets = [s for s in itertools.combinations(range(len(names)), order) if wanted & set(s)]
                out[f"dec{order} binned"] = float(fidelity._tvds(a, b, cards, sets).mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="adult")
    ap.add_argument("--generator", default="mst")
    ap.add_argument("--epsilons", default="1,10")
    ap.add_argument("--config", default="public", choices=sorted(fidelity.CONFIGS))
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()

    from privsynth.generators.registry import make_generator
    from privsynth.privacy.odometer import Odometer
    from privsynth.privacy.noise import NoiseSource
    from privsynth.privacy.private_data import PrivateData

    train, _, domain, _ = fidelity.prepared(args.dataset, args.config)
    print(f"{args.dataset} {args.generator} config {args.config}; load average {os.getloadavg()[0]:.2f}")
    for eps in [float(e) for e in args.epsilons.split(",")]:
        generator = make_generator(args.generator, {})
        generator.fit(PrivateData(train, domain, Odometer.for_epsilon(eps, 1e-9), NoiseSource.simulation(0)))
        binned = [n for n, c in generator.coders_.items() if c.kind != "categorical" and not c.exact]
        results = {}
        for within in ("uniform", "interpolated"):
            generator.coders_ = {n: dataclasses.replace(c, within=within) if n in binned else c
                                 for n, c in generator.coders_.items()}
            runs = [_scores(train, domain.cast(generator.sample(len(train), seed=s)), domain, binned)
                    for s in range(args.seeds)]
            results[within] = {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}
        print(f"\nepsilon {eps:g} (mean of {args.seeds} samples)\n| measure | uniform | interpolated |\n|---|---|---|")
        for key in results["uniform"]:
            print(f"| {key} | {results['uniform'][key]:.4f} | {results['interpolated'][key]:.4f} |")


if __name__ == "__main__":
    main()
