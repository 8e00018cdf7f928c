"""report.json: the machine-readable summary a reviewer's tools read (decision first, then the evidence).

Built from results and the manifest only; it contains aggregate figures, never a record of the source.
"""
from __future__ import annotations

from typing import Any

from privsynth.results import AttackResult, Decision, Guarantee, UtilityResult

REPORT_NAME = "report.json"


def build_report(
    *,
    run_name: str,
    release_dir: str | None,
    decision: Decision,
    guarantee: Guarantee,
    attacks: list[AttackResult],
    utility: list[UtilityResult],
    timings: dict[str, float],
    threat_model_name: str,
    generator_kind: str,
    overrides: tuple[str, ...],
) -> dict[str, Any]:
    return {
        "run": run_name,
        "threat_model": threat_model_name,
        "decision": decision.label,
        "release_dir": release_dir,
        "failed_checks": [{"check": f.check, "reason": f.reason} for f in decision.failures],
        "generator": generator_kind,
        "privacy": {
            "dp": guarantee.dp,
            "epsilon": guarantee.epsilon,
            "delta": guarantee.delta,
            "mechanism": guarantee.mechanism,
            "accounting": guarantee.accounting,
            "guarantee": ("differential privacy for every training row" if guarantee.dp
                          else "NONE: non-DP baseline, no formal privacy guarantee"),
        },
        "attacks": [
            {"name": a.name, "estimate": a.estimate, "ci": [a.ci[0], a.ci[1]], "threshold": a.threshold,
             "passed": a.passed, "n": a.n, "baseline": a.baseline,
             "null_control": a.details.get("null_control"), "positive_control": a.details.get("positive_control")}
            for a in attacks
        ],
        "utility": {u.name: {"value": u.value, "ci": None if u.ci is None else list(u.ci), "threshold": u.threshold,
                             "passed": u.passed, "direction": u.direction} for u in utility},
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "overrides": list(overrides),
    }
