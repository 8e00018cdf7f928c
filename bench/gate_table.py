"""Every generator through the whole gate on the bundled Adult demo, one table: fit time, utility and every
attack's risk, on the same train/holdout split (the threat model's seed).

    .venv/bin/python bench/gate_table.py                       # the DP-SGD issue's table
    .venv/bin/python bench/gate_table.py --runs aim:1,mst:1 --set attacks.shadow.shadow_runs=20

Each run goes through ``privsynth.pipeline.run`` exactly as ``privsynth run`` does (temporary output folder
and ledger, deleted afterwards). Times are wall-clock on this machine; the attack columns are the estimates
with the upper end of their 95% interval, which is what the gate compares with its threshold.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from privsynth.generators.registry import is_dp
from privsynth.pipeline import run

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = "dp-tvae:1,dp-tvae:8,dp-ctgan:1,dp-ctgan:8,mst:1,aim:1,gaussian-copula:-,tvae:-,ctgan:-"
ATTACKS = ("singling_out_univariate", "singling_out_multivariate", "linkability", "attribute_inference",
           "membership_distance_auc", "dcr_closer_to_train", "membership_density_auc", "shadow_auc",
           "empirical_epsilon", "exact_copies")


def one_run(kind: str, epsilon: str, extra: list[str], out: Path) -> dict:
    overrides = [f"generator.kind={kind}", *extra]
    if is_dp(kind):
        overrides.append(f"privacy.epsilon={epsilon}")
    else:
        overrides.append("privacy.allow_non_dp=true")
    start = time.perf_counter()
    result = run(ROOT / "threat_models" / "adult.yaml", out=out / "runs", overrides=tuple(overrides),
                 home=out / "home")
    wall = time.perf_counter() - start
    utility = {u.name: u.value for u in result.utility}
    return {"generator": kind, "epsilon": epsilon if is_dp(kind) else "non-DP",
            "decision": result.decision.label, "failed": [f.check for f in result.decision.failures],
            "fit_s": result.report["timings"]["fit"], "wall_s": wall,
            "tvd_2way": utility.get("tvd_2way"), "tstr_auc": utility.get("tstr_auc"),
            "attacks": {a.name: {"estimate": a.estimate, "upper": a.ci[1], "passed": a.passed} for a in result.attacks}}


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="kind:epsilon,... ('-' for non-DP baselines)")
    parser.add_argument("--set", action="append", default=[], help="an override for every run")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="privsynth-gate-") as tmp:
        for spec in args.runs.split(","):
            kind, epsilon = spec.split(":")
            row = one_run(kind, epsilon, args.set, Path(tmp))
            rows.append(row)
            print(f"# {kind} {row['epsilon']}: {row['decision']} {row['failed']} fit {row['fit_s']:.0f} s, "
                  f"whole run {row['wall_s']:.0f} s", flush=True)
            if args.json:
                args.json.write_text(json.dumps(rows, indent=2))
    header = ["generator", "epsilon", "gate", "fit s", "2-way TVD", "TSTR AUC", *ATTACKS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [row["generator"], str(row["epsilon"]),
                 row["decision"] + (f" ({', '.join(row['failed'])})" if row["failed"] else ""),
                 f"{row['fit_s']:.0f}", _num(row["tvd_2way"]), _num(row["tstr_auc"])]
        for name in ATTACKS:
            a = row["attacks"].get(name)
            cells.append("–" if a is None else f"{a['estimate']:.3f} (≤{a['upper']:.3f})" + ("" if a["passed"] is not False else " ✗"))
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
