"""Is a patient with many encounters as hard to detect as a patient with one? Membership by patient, grouped by
the patient's encounters in the source, pooled over repeated fits of the bundled diabetes table.

Why repeats: the table has 139 patients with 10 or more encounters, so one release's holdout holds about 28 of
them and that group's AUC has a half-width near 0.14 (the diabetes run in bench/README.md read 0.696
[0.556, 0.837] for it). Each repeat here draws its own contribution bound and person split (seeded simulated
randomness: a benchmark releases nothing), fits the threat model's generator, and runs the pipeline's own
person membership attack (privsynth/attacks/membership/person_distance.py) on up to ``--per-group`` patients
per side in each group. Per group it prints the mean AUC over repeats with a t-interval over repeats (the
repeats are independent fits on independent splits), the patients per side summed over repeats, and the
fraction of repeats above 0.5.

Arms:
- person: the shipped threat model (person-level epsilon 1, at most 3 rows per patient);
- row: the same table and budget at row level (``privacy.unit=row``): every encounter kept, epsilon 1 per
  encounter, so a patient with r encounters is protected only by group privacy;
- copy: the positive control of each person-level repeat, the training rows posing as the synthetic table (the
  attack must find members there, or its chance reading means nothing).

    PYTHONPATH=. nice -n 10 .venv/bin/python bench/person_groups.py [--repeats 8] [--generator aim]
        [--arms person,row] [--per-group 2000]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
DIABETES = ROOT / "threat_models" / "diabetes.yaml"
ARM_OVERRIDES = {"person": (), "row": ("privacy.unit=row", "privacy.max_rows_per_person=null")}


def one_repeat(arm: str, generator_kind: str, repeat: int, per_group: int) -> dict[str, dict[str, float]]:
    """One fit on its own bound and split; the person membership AUC per row-count group (and, for the person
    arm, the same attack against the training rows themselves)."""
    from privsynth.attacks.base import AttackData
    from privsynth.attacks.membership.person_distance import person_membership, person_sample
    from privsynth.data.inputs import read_inputs
    from privsynth.pipeline import odometer_for, preflight
    from privsynth.privacy.noise import NoiseSource
    from privsynth.privacy.private_data import PrivateData
    from privsynth.threat_model import load_threat_model

    loaded = load_threat_model(DIABETES, (*ARM_OVERRIDES[arm], f"generator.kind={generator_kind}"))
    model = loaded.model
    noise = NoiseSource.simulation(1000 * repeat + 19)
    inputs = read_inputs(loaded, noise.generator("split"), noise.keyed_uniform)
    people = inputs.persons
    generator = preflight(model)
    person_level = model.rows_per_person > 1
    private = PrivateData(inputs.train, inputs.domain, odometer_for(generator, model.privacy.epsilon,
                                                                    model.privacy.delta), noise,
                          rows_per_person=model.rows_per_person, persons=people.train if person_level else None)
    generator.fit(private)
    synthetic = inputs.domain.cast(generator.sample(len(inputs.train), seed=repeat))
    sample = person_sample(inputs.train, people.train, inputs.holdout, people.holdout, people.source_rows,
                           per_group, seed=repeat)
    data = AttackData(sample.members, sample.control, inputs.domain, (), (), 0, repeat, persons=sample)
    readings = {arm: _by_group(person_membership(data, synthetic)[0])}
    if arm == "person":
        readings["copy"] = _by_group(person_membership(data, inputs.train)[0])
    return readings


def _by_group(result) -> dict[str, dict[str, float]]:
    groups = {"all": {"auc": result.estimate, "n": result.n / 2}}
    for label, reading in result.details["by_source_rows_per_person"].items():
        if reading["auc"] is not None:
            groups[label] = {"auc": reading["auc"], "n": reading["persons_per_side"]}
    return groups


def summary(readings: list[dict[str, dict[str, float]]]) -> list[str]:
    """One table row per group: mean AUC over repeats, its 95% t-interval, persons per side in all repeats."""
    lines = []
    for group in ("all", "1", "2-3", "4-9", "10+"):
        aucs = np.array([r[group]["auc"] for r in readings if group in r])
        persons = int(sum(r[group]["n"] for r in readings if group in r))
        if len(aucs) == 0:
            continue
        half = stats.t.ppf(0.975, len(aucs) - 1) * aucs.std(ddof=1) / np.sqrt(len(aucs)) if len(aucs) > 1 \
            else float("nan")
        lines.append(f"| {group} | {aucs.mean():.3f} [{aucs.mean() - half:.3f}, {aucs.mean() + half:.3f}] | "
                     f"{len(aucs)} | {persons:,} | {np.mean(aucs > 0.5):.2f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--generator", default="aim")
    parser.add_argument("--arms", default="person,row")
    parser.add_argument("--per-group", type=int, default=2000)
    args = parser.parse_args()
    collected: dict[str, list] = {}
    for arm in args.arms.split(","):
        for repeat in range(args.repeats):
            start = time.perf_counter()
            for name, groups in one_repeat(arm, args.generator, repeat, args.per_group).items():
                collected.setdefault(name, []).append(groups)
            ten = collected[arm][-1].get("10+", {})
            print(f"{arm} repeat {repeat}: all {collected[arm][-1]['all']['auc']:.3f}, 10+ "
                  f"{ten.get('auc', float('nan')):.3f} ({ten.get('n', 0):.0f} per side), "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    print(f"\nperson membership AUC by source encounters per patient, {args.generator}, diabetes, "
          f"{args.repeats} repeats per arm\n")
    for name, readings in collected.items():
        print(f"### {name}\n")
        print("| encounters | mean AUC [95% t-interval over repeats] | repeats | patients per side, all repeats "
              "| share of repeats above 0.5 |")
        print("|---|---|---|---|---|")
        print("\n".join(summary(readings)) + "\n")


if __name__ == "__main__":
    pd.set_option("display.width", 160)
    main()
