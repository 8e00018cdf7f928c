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
    epsilon_budget: float | None = None,
    ledger: dict[str, Any] | None = None,
    comparison: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """``ledger`` is the source's budget standing after this run; ``comparison`` the aggregate marginals and
    associations of evaluation/comparison.py (small cells suppressed) that report.html plots."""
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
            "epsilon_budget": epsilon_budget,
            "ledger": ledger,
        },
        "attacks": [
            {"name": a.name, "estimate": a.estimate, "ci": [a.ci[0], a.ci[1]], "threshold": a.threshold,
             "passed": a.passed, "n": a.n, "baseline": a.baseline,
             "null_control": a.details.get("null_control"), "positive_control": a.details.get("positive_control"),
             **_plot_data(a)}
            for a in attacks
        ],
        "utility": {u.name: {"value": u.value, "ci": None if u.ci is None else list(u.ci), "threshold": u.threshold,
                             "passed": u.passed, "direction": u.direction} for u in utility},
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "overrides": list(overrides),
        "comparison": comparison or {},
    }


def _plot_data(attack: AttackResult) -> dict[str, Any]:
    """What report.html draws for an attack, when the attack measured it: an ROC curve, a distance
    histogram, the shadow attack's per-target summary (row numbers and rates, never values)."""
    out: dict[str, Any] = {}
    if "roc" in attack.details:
        out["roc"] = {**attack.details["roc"], "auc": attack.estimate}
    if "histogram" in attack.details:
        out["histogram"] = attack.details["histogram"]
    if attack.name == "shadow_auc":
        keys = ("runs", "held_out_runs", "train_size", "selection", "targets", "tpr_at_fpr_0.1", "tpr_at_fpr_0.01")
        out["shadow"] = {k: attack.details[k] for k in keys if k in attack.details}
    return out
